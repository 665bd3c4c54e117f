'use strict';
/**
 * The CloudFormation serverless.yml needs but cannot spell in YAML, computed from the
 * service's own (resolved) configuration; serverless.yml loads it with
 * `${file(./infra/aws/serverless-resources.cjs):resources}` and `...:extensions`:
 *
 * - `resources`: one IAM role per function, least privilege on the MSK cluster (IAM
 *   access control): the topics it writes (custom.kafkaAccess.<fn>.write), the topic and
 *   consumer group of its msk events (what the event source mapping reads with the
 *   function's role), and what the metrics function describes. Topic and group ARNs are
 *   derived from the cluster ARN, a string or a CloudFormation import.
 * - `extensions`: custom.kafkaEventSourceMapping merged into every msk event source
 *   mapping. Their logical ids depend on the cluster and topic names, which are
 *   parameters, so they are computed with the framework's own naming.
 *
 * Plain CommonJS: serverless requires it while it resolves variables.
 */
const naming = require('serverless/lib/plugins/aws/lib/naming');
const getMskClusterNameToken = require('serverless/lib/plugins/aws/package/compile/events/msk/get-msk-cluster-name-token');

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

function isDict(value) {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function fail(message) {
  throw new Error(`infra/aws/serverless-resources.cjs: ${message}`);
}

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
  const functions = (await resolveConfigurationProperty(['functions'])) || {};
  const custom = (await resolveConfigurationProperty(['custom'])) || {};
  return { service: typeof service === 'string' ? service : service.name, stage, functions, custom };
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

function statement(actions, resources) {
  return { Effect: 'Allow', Action: actions, Resource: resources };
}

function unique(values) {
  return [...new Set(values)];
}

function roleFor({ key, fn, access, clusterArn, service, stage }) {
  const functionName = fn.name || `${service}-${stage}-${key}`;
  const reads = mskEvents(fn).map((e) => {
    if (typeof e.consumerGroupId !== 'string') fail(`functions.${key}: every msk event needs a consumerGroupId`);
    return { topic: e.topic, group: e.consumerGroupId };
  });
  const write = unique(access.write || []);
  const describeTopics = unique([...write, ...(access.describeTopics || []), ...reads.map((r) => r.topic)]);
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
    statements.push(statement(['kafka-cluster:DescribeTopic'], describeTopics.map((t) => kafkaArn(cluster, 'topic', t))));
  }
  if (write.length > 0) {
    statements.push(statement(['kafka-cluster:WriteData'], write.map((t) => kafkaArn(cluster, 'topic', t))));
  }
  if (readTopics.length > 0) {
    statements.push(statement(['kafka-cluster:ReadData'], readTopics.map((t) => kafkaArn(cluster, 'topic', t))));
  }
  if (describeGroups.length > 0) {
    statements.push(statement(['kafka-cluster:DescribeGroup'], describeGroups.map((g) => kafkaArn(cluster, 'group', g))));
  }
  if (groups.length > 0) {
    statements.push(statement(['kafka-cluster:AlterGroup'], groups.map((g) => kafkaArn(cluster, 'group', g))));
  }

  return {
    Type: 'AWS::IAM::Role',
    Properties: {
      Description: `${functionName}: its log group, the VPC, and its own topics and consumer groups on the MSK cluster`,
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

/** The role's logical id for a function: serverless.yml's `role:` must name it. */
function roleLogicalId(functionKey) {
  return `${naming.getNormalizedFunctionName(functionKey)}LambdaRole`;
}

async function resources(context) {
  const { service, stage, functions, custom } = await readService(context);
  const accessByFunction = isDict(custom.kafkaAccess) ? custom.kafkaAccess : {};
  for (const key of Object.keys(accessByFunction)) {
    if (!functions[key]) fail(`custom.kafkaAccess.${key}: no such function`);
  }
  const clusterArn = clusterArnOf(functions);
  const out = {};
  for (const [key, fn] of Object.entries(functions)) {
    const logicalId = roleLogicalId(key);
    if (fn.role !== logicalId) fail(`functions.${key}.role must be ${logicalId} (its least-privilege role)`);
    out[logicalId] = roleFor({ key, fn, access: accessByFunction[key] || {}, clusterArn, service, stage });
  }
  return out;
}

async function extensions(context) {
  const { functions, custom } = await readService(context);
  const properties = custom.kafkaEventSourceMapping;
  if (!isDict(properties)) fail('custom.kafkaEventSourceMapping: expected the properties to merge');
  const out = {};
  for (const [key, fn] of Object.entries(functions)) {
    for (const event of mskEvents(fn)) {
      const logicalId = naming.getMSKEventLogicalId(key, getMskClusterNameToken(event.arn), event.topic);
      out[logicalId] = { Properties: properties };
    }
  }
  return out;
}

module.exports = { resources, extensions, kafkaArn, roleLogicalId };
