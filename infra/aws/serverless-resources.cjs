'use strict';
/**
 * The CloudFormation serverless.yml needs but cannot spell in YAML, computed from the
 * service's own (resolved) configuration; serverless.yml loads it with
 * `${file(./infra/aws/serverless-resources.cjs):resources}`:
 *
 * - one IAM role per function, least privilege on the MSK cluster (IAM access control):
 *   the topics it writes (custom.kafkaAccess.<fn>.write, or for a consumer function
 *   custom.consumerKafkaAccess.<fn>.write from the consumer table), creates (`.create`) or alters
 *   (`.alter`), the topic and consumer group of its msk events (what the event source
 *   mapping reads with the function's role), the topics and groups it describes
 *   (`.describeTopics`, `.describeGroups`); and the secrets it reads (./secrets.cjs). Topic
 *   and group ARNs are derived from the cluster ARN, a string or a CloudFormation import;
 * - the secrets the stack makes (custom.secrets, ./secrets.cjs), and the refusal of any
 *   secret's plain value in a deployed stage's configuration;
 * - the topics as a custom resource (custom.serviceTopics), which every event source
 *   mapping waits for;
 * - the poller group every event source mapping shares (custom.pollerGroupName) and the
 *   HTTP API's throttling (custom.httpApiThrottling), merged into the framework's own
 *   resources of the same logical id;
 * - CloudWatch alarms on every function, mapping and the HTTP API (custom.alarms, ./alarms.cjs).
 * (The event source mappings' failure handling is written by the msk events themselves:
 * infra/offline-msk adds those properties to the framework's msk event.)
 *
 * Plain CommonJS: serverless requires it while it resolves variables.
 */
const naming = require('serverless/lib/plugins/aws/lib/naming');
const mergePlainObjects = require('serverless/lib/utils/merge-plain-objects');
const getMskClusterNameToken = require('serverless/lib/plugins/aws/package/compile/events/msk/get-msk-cluster-name-token');
const { isDict, failer, checkovSkips, statement } = require('./cfn.cjs');
const { secretSettings, refusePlainValues, refuseUnmeantOff, secretStatements, secretsReadBy, generatedSecrets } = require('./secrets.cjs');
const { alarmResources } = require('./alarms.cjs');

/** AWS requires `*` for these (AWSLambdaVPCAccessExecutionRole, Lambda's MSK event source docs). */
const NETWORK_INTERFACE_ACTIONS = [
  'ec2:CreateNetworkInterface',
  'ec2:DescribeNetworkInterfaces',
  'ec2:DeleteNetworkInterface',
  'ec2:AssignPrivateIpAddresses',
  'ec2:UnassignPrivateIpAddresses',
  'ec2:DescribeSubnets',
  'ec2:DescribeSecurityGroups',
  'ec2:DescribeVpcs',
];

const fail = failer('serverless-resources.cjs');

/** `arn:...:cluster/<name>/<uuid>` -> `arn:...:<kind>/<name>/<uuid>/<resource>`, for a string or a CloudFormation value. */
function kafkaArn(clusterArn, kind, resource) {
  if (typeof clusterArn === 'string') {
    const parts = clusterArn.split(':cluster/');
    if (parts.length !== 2 || !/^arn:aws[a-z-]*:kafka:/.test(parts[0])) fail(`not an MSK cluster ARN: ${clusterArn}`);
    return `${parts[0]}:${kind}/${parts[1]}/${resource}`;
  }
  const split = { 'Fn::Split': [':cluster/', clusterArn] };
  return {
    'Fn::Join': ['', [{ 'Fn::Select': [0, split] }, `:${kind}/`, { 'Fn::Select': [1, split] }, `/${resource}`]],
  };
}

function sameValue(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

async function readService({ options, resolveConfigurationProperty }) {
  const service = await resolveConfigurationProperty(['service']);
  const stage = options.stage || (await resolveConfigurationProperty(['provider', 'stage'])) || 'dev';
  // serverless.yml lists its functions in parts (the consumer functions are generated); the framework merges them.
  const parts = (await resolveConfigurationProperty(['functions'])) || {};
  const functions = Array.isArray(parts) ? Object.assign({}, ...parts) : parts;
  const custom = (await resolveConfigurationProperty(['custom'])) || {};
  const environment = (await resolveConfigurationProperty(['provider', 'environment'])) || {};
  const logs = (await resolveConfigurationProperty(['provider', 'logs'])) || {};
  const deploymentBucket = (await resolveConfigurationProperty(['provider', 'deploymentBucket'])) || {};
  return { service: typeof service === 'string' ? service : service.name, stage, functions, custom, environment, logs, deploymentBucket };
}

function mskEvents(fn) {
  return (fn.events || []).filter((e) => isDict(e) && isDict(e.msk)).map((e) => e.msk);
}

/** The one cluster every msk event reads (IAM is scoped to it). */
function clusterArnOf(functions) {
  const arns = Object.values(functions).flatMap((fn) => mskEvents(fn).map((e) => e.arn));
  if (arns.length === 0) fail('no msk event: nothing says which cluster the functions use');
  if (!arns.every((arn) => sameValue(arn, arns[0]))) fail('every msk event must read the same cluster');
  return arns[0];
}

function unique(values) {
  return [...new Set(values)];
}

function roleFor({ key, fn, access, clusterArn, service, stage, secrets }) {
  const functionName = fn.name || `${service}-${stage}-${key}`;
  const reads = mskEvents(fn).map((e) => {
    if (typeof e.consumerGroupId !== 'string') fail(`functions.${key}: every msk event needs a consumerGroupId`);
    return { topic: e.topic, group: e.consumerGroupId };
  });
  const write = unique(access.write || []);
  const create = unique(access.create || []);
  const alter = unique(access.alter || []);
  const describeTopics = unique([...write, ...create, ...alter, ...(access.describeTopics || []), ...reads.map((r) => r.topic)]);
  const readTopics = unique(reads.map((r) => r.topic));
  const groups = unique(reads.map((r) => r.group));
  const describeGroups = unique([...groups, ...(access.describeGroups || [])]);
  const cluster = clusterArn;

  const clusterActions = ['kafka-cluster:Connect'];
  // The producer is idempotent (src/kafka/producer.ts): InitProducerId needs this.
  if (write.length > 0) clusterActions.push('kafka-cluster:WriteDataIdempotently');
  // Lambda's event source mapping, with the function's role (MSK IAM access control).
  if (reads.length > 0) clusterActions.push('kafka-cluster:DescribeClusterDynamicConfiguration');

  const statements = [
    statement(
      ['logs:CreateLogStream', 'logs:PutLogEvents'],
      [{ 'Fn::Sub': `arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:/aws/lambda/${functionName}:*` }],
    ),
    statement(NETWORK_INTERFACE_ACTIONS, ['*']),
    // GetBootstrapBrokers: the functions' broker discovery (MSK_CLUSTER_ARN) and the event
    // source mapping; DescribeClusterV2: the event source mapping (provisioned or serverless).
    statement(reads.length > 0 ? ['kafka:GetBootstrapBrokers', 'kafka:DescribeClusterV2'] : ['kafka:GetBootstrapBrokers'], [cluster]),
    statement(clusterActions, [cluster]),
  ];
  if (describeTopics.length > 0) {
    statements.push(
      statement(
        ['kafka-cluster:DescribeTopic'],
        describeTopics.map((t) => kafkaArn(cluster, 'topic', t)),
      ),
    );
  }
  if (write.length > 0) {
    statements.push(
      statement(
        ['kafka-cluster:WriteData'],
        write.map((t) => kafkaArn(cluster, 'topic', t)),
      ),
    );
  }
  if (create.length > 0) {
    statements.push(
      statement(
        ['kafka-cluster:CreateTopic'],
        create.map((t) => kafkaArn(cluster, 'topic', t)),
      ),
    );
  }
  if (alter.length > 0) {
    // CreatePartitions needs ALTER on the topic (docs.aws.amazon.com/msk/latest/developerguide/kafka-actions.html).
    statements.push(
      statement(
        ['kafka-cluster:AlterTopic'],
        alter.map((t) => kafkaArn(cluster, 'topic', t)),
      ),
    );
  }
  if (readTopics.length > 0) {
    statements.push(
      statement(
        ['kafka-cluster:ReadData'],
        readTopics.map((t) => kafkaArn(cluster, 'topic', t)),
      ),
    );
  }
  if (describeGroups.length > 0) {
    statements.push(
      statement(
        ['kafka-cluster:DescribeGroup'],
        describeGroups.map((g) => kafkaArn(cluster, 'group', g)),
      ),
    );
  }
  if (groups.length > 0) {
    statements.push(
      statement(
        ['kafka-cluster:AlterGroup'],
        groups.map((g) => kafkaArn(cluster, 'group', g)),
      ),
    );
  }
  statements.push(...secretStatements(secrets, key));
  const readsSecrets = secretsReadBy(secrets, key);

  return {
    Type: 'AWS::IAM::Role',
    Metadata: checkovSkips([
      [
        'CKV_AWS_111',
        'The only statement without a resource constraint holds the VPC network interface actions, for which AWS requires "*" (AWSLambdaVPCAccessExecutionRole)',
      ],
    ]),
    Properties: {
      Description: `${functionName}: its log group, the VPC, and its own topics and consumer groups on the MSK cluster${readsSecrets.length > 0 ? `, and the secrets of ${readsSecrets.join(', ')}` : ''}`,
      AssumeRolePolicyDocument: {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { Service: ['lambda.amazonaws.com'] }, Action: ['sts:AssumeRole'] }],
      },
      Policies: [
        {
          PolicyName: `${functionName}-kafka`,
          PolicyDocument: { Version: '2012-10-17', Statement: statements },
        },
      ],
    },
  };
}

/** custom.kafkaAccess (written by hand) with custom.consumerKafkaAccess (from the consumer table); a function in both is a mistake. */
function kafkaAccessByFunction(custom) {
  const byHand = isDict(custom.kafkaAccess) ? custom.kafkaAccess : {};
  const consumers = isDict(custom.consumerKafkaAccess) ? custom.consumerKafkaAccess : {};
  for (const key of Object.keys(consumers)) {
    if (byHand[key])
      fail(`custom.kafkaAccess.${key}: a consumer function's access comes from its row in the consumer table (custom.consumerKafkaAccess)`);
  }
  return { ...byHand, ...consumers };
}

/** The role's logical id for a function: serverless.yml's `role:` must name it. */
function roleLogicalId(functionKey) {
  return `${naming.getNormalizedFunctionName(functionKey)}LambdaRole`;
}

async function resources(context) {
  const { service, stage, functions, custom, environment, logs, deploymentBucket } = await readService(context);
  const accessByFunction = kafkaAccessByFunction(custom);
  for (const key of Object.keys(accessByFunction)) {
    if (!functions[key]) fail(`custom.kafkaAccess.${key}: no such function`);
  }
  const clusterArn = clusterArnOf(functions);
  const secrets = secretSettings(custom, Object.keys(functions));
  const environments = { provider: environment };
  for (const [key, fn] of Object.entries(functions)) environments[`functions.${key}`] = fn.environment;
  refusePlainValues(secrets, environments, stage);
  refuseUnmeantOff(secrets, environments, stage);
  const out = {};
  for (const [key, fn] of Object.entries(functions)) {
    const logicalId = roleLogicalId(key);
    if (fn.role !== logicalId) fail(`functions.${key}.role must be ${logicalId} (its least-privilege role)`);
    out[logicalId] = roleFor({ key, fn, access: accessByFunction[key] || {}, clusterArn, service, stage, secrets });
  }
  // Several parts may extend the same framework resource (a mapping): merged, not replaced.
  return mergePlainObjects(
    out,
    generatedSecrets(secrets, { service, stage }),
    serviceTopicsResources({ custom, functions }),
    pollerGroupResources({ custom, functions }),
    httpApiThrottlingResources({ custom }),
    alarmResources({ custom, functions, service, stage }),
    policyScannerNotes({ functions, logs, deploymentBucket, secrets }),
  );
}

/**
 * The checks the framework's own resources fail on purpose, with the reason, merged into
 * those resources (test/integration/package.test.ts runs checkov on the template).
 */
function policyScannerNotes({ functions, logs, deploymentBucket, secrets }) {
  const out = {};
  // Only for the resources the framework makes: a note alone would make a resource.
  if (typeof deploymentBucket === 'object' && !deploymentBucket.name) {
    out[naming.getDeploymentBucketLogicalId()] = {
      Type: 'AWS::S3::Bucket',
      Metadata: checkovSkips([
        ['CKV_AWS_18', 'Holds only the deployment artifacts the framework uploads; access logs would need a bucket of their own'],
      ]),
    };
  }
  const httpApi = Object.values(functions).some((fn) => (fn.events || []).some((e) => isDict(e) && e.httpApi !== undefined));
  if (httpApi && logs.httpApi) {
    out[naming.getHttpApiLogGroupLogicalId()] = {
      Type: 'AWS::Logs::LogGroup',
      Metadata: checkovSkips([
        ['CKV_AWS_158', 'CloudWatch Logs encrypts log data at rest by default; no customer managed key for access logs'],
      ]),
    };
  }
  for (const [key, fn] of Object.entries(functions)) {
    out[naming.getLogGroupLogicalId(key)] = {
      Type: 'AWS::Logs::LogGroup',
      Metadata: checkovSkips([
        ['CKV_AWS_158', 'CloudWatch Logs encrypts log data at rest by default; the logs hold no secrets (the logger redacts them)'],
      ]),
    };
    const skips = [
      [
        'CKV_AWS_173',
        `No secret in the environment: ${secrets.map((x) => x.variable).join(', ') || 'no variable'} ${secrets.length === 1 ? 'is' : 'are'} read from Secrets Manager at run time (only the secret's ARN is here), and a plain value of any of them is refused for a deployed stage; Lambda encrypts variables at rest with its AWS managed key`,
      ],
      [
        'CKV_AWS_116',
        (fn.events || []).some((e) => isDict(e) && isDict(e.msk))
          ? 'Invoked synchronously by its event source mapping, whose kafka:// on-failure destination is its dead-letter queue'
          : 'Not invoked asynchronously with anything to keep: HTTP API calls are synchronous, a missed schedule run is replaced by the next, the topics custom resource answers FAILED itself',
      ],
    ];
    if (fn.reservedConcurrency === undefined) {
      skips.push([
        'CKV_AWS_115',
        (fn.events || []).some((e) => isDict(e) && isDict(e.msk))
          ? 'Bounded by its event source mapping: at most 5 concurrent invocations per poller, maximumPollers pollers (docs.aws.amazon.com/lambda/latest/dg/kafka-scaling-modes.html)'
          : 'Bounded by its triggers: one scheduled run a minute and GET /metrics, under the HTTP API throttling',
      ]);
    }
    out[naming.getLambdaLogicalId(key)] = { Type: 'AWS::Lambda::Function', Metadata: checkovSkips(skips) };
  }
  return out;
}

const SERVICE_TOPICS_ID = 'ServiceTopics';

/**
 * custom.serviceTopics: { function, topics, partitions, replicationFactor }: a custom
 * resource the function answers on deploy, which every event source mapping waits for
 * (a mapping's topics and its on-failure destination topic must exist).
 */
function serviceTopicsResources({ custom, functions }) {
  const settings = custom.serviceTopics;
  if (settings === undefined) return {};
  if (!isDict(settings) || typeof settings.function !== 'string' || !Array.isArray(settings.topics)) {
    fail('custom.serviceTopics: expected { function, topics, partitions, replicationFactor }');
  }
  if (!functions[settings.function]) fail(`custom.serviceTopics.function: no such function ${settings.function}`);
  const out = {
    [SERVICE_TOPICS_ID]: {
      Type: 'Custom::ServiceTopics',
      // Its log group first, so the function's logs are kept with their retention.
      DependsOn: [naming.getLogGroupLogicalId(settings.function)],
      Properties: {
        ServiceToken: { 'Fn::GetAtt': [naming.getLambdaLogicalId(settings.function), 'Arn'] },
        // A lost answer fails the deploy after 5 minutes instead of CloudFormation's 1 hour.
        ServiceTimeout: 300,
        // Changing any of these runs the function again (an Update).
        Topics: settings.topics,
        Partitions: String(settings.partitions),
        ReplicationFactor: String(settings.replicationFactor),
      },
    },
  };
  for (const [key, fn] of Object.entries(functions)) {
    for (const event of mskEvents(fn)) {
      const logicalId = naming.getMSKEventLogicalId(key, getMskClusterNameToken(event.arn), event.topic);
      // The framework's own DependsOn is [the function's role]; merged index by index.
      out[logicalId] = { Type: 'AWS::Lambda::EventSourceMapping', DependsOn: [roleLogicalId(key), SERVICE_TOPICS_ID] };
    }
  }
  return out;
}

/** custom.pollerGroupName: every msk event source mapping shares the provisioned pollers of this group ('' for none). */
function pollerGroupResources({ custom, functions }) {
  const name = custom.pollerGroupName;
  if (name === undefined || name === '') return {};
  if (typeof name !== 'string' || !/^[a-zA-Z0-9_-]{1,128}$/.test(name)) {
    fail(`custom.pollerGroupName: letters, digits, "-" and "_", at most 128, not "${name}"`);
  }
  const out = {};
  for (const [key, fn] of Object.entries(functions)) {
    for (const event of mskEvents(fn)) {
      if (!isDict(event.provisionedPollerConfig)) {
        fail(`functions.${key}: a poller group needs provisioned mode (provisionedPollerConfig) on its msk event`);
      }
      const logicalId = naming.getMSKEventLogicalId(key, getMskClusterNameToken(event.arn), event.topic);
      out[logicalId] = { Type: 'AWS::Lambda::EventSourceMapping', Properties: { ProvisionedPollerConfig: { PollerGroupName: name } } };
    }
  }
  return out;
}

function wholeNumber(value, what, min, max) {
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isInteger(n) || n < min || n > max) fail(`${what}: a whole number from ${min} to ${max}, not "${value}"`);
  return n;
}

/** custom.httpApiThrottling: { rateLimit, burstLimit } on the HTTP API's default stage. */
function httpApiThrottlingResources({ custom }) {
  const settings = custom.httpApiThrottling;
  if (settings === undefined) return {};
  if (!isDict(settings)) fail('custom.httpApiThrottling: expected { rateLimit, burstLimit }');
  return {
    [naming.getHttpApiStageLogicalId()]: {
      Type: 'AWS::ApiGatewayV2::Stage',
      Properties: {
        DefaultRouteSettings: {
          ThrottlingRateLimit: wholeNumber(settings.rateLimit, 'custom.httpApiThrottling.rateLimit', 1, 10000),
          ThrottlingBurstLimit: wholeNumber(settings.burstLimit, 'custom.httpApiThrottling.burstLimit', 1, 5000),
        },
      },
    },
  };
}

module.exports = { resources, kafkaArn, roleLogicalId };
