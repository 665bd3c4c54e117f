/**
 * `serverless package --stage prod`, as a deploy would run it, with no AWS account: the
 * generated CloudFormation has one event source mapping per consumer function of
 * src/consumers/functions.ts (topic, consumer group, filter, starting position) with its
 * failure handling, written from the msk events by infra/offline-msk (partial batch
 * responses, provisioned pollers, retries, record age, the dead-letter topic as on-failure
 * destination); one least-privilege role per function
 * (no `*` resource but the network interface actions); the HTTP API routes, the metrics
 * schedule, the runtime, the VPC; the zip ships the IAM signer without type declarations;
 * the admin token secret read by http alone; reserved concurrency and API throttling; one
 * poller group; the topics custom resource every mapping waits for; in infra/aws, the
 * Pushgateway's persistence, circuit breaker and Prometheus access. cfn-lint and checkov
 * (from PyPI, installed by .ci/run) pass on it and on infra/aws.
 */
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config';
import type { Config } from '../../src/config';
import { CONSUMER_FUNCTIONS, consumerGroupId, consumerTopic, filterPatterns, startingPosition } from '../../src/consumers/functions';
import { createLogger } from '../../src/logger';
import { adminOffsetReader } from '../../src/kafka/offsets';
import { ensureTopics, serviceTopics } from '../../src/kafka/topics';
import type { ContainerProducer } from '../../src/kafka';
import { RESPONSE_RESERVE_MS } from '../../src/provisioning/topics-resource';
import { createMetricsJob, createStatusUseCase } from '../../src/use-cases';
import { evaluateTemplate, loadYamlTemplate, recordingKafka } from './package-support';
import type { KafkaPermission } from './package-support';

const run = promisify(execFile);
const repo = path.resolve(__dirname, '../..');
const serverless = path.join(repo, 'node_modules/serverless/bin/serverless.js');
const STAGE = 'prod';
/** What CloudFormation would import from simple-time-service-prod-msk. */
const CLUSTER_ARN = 'arn:aws:kafka:us-east-1:123456789012:cluster/simple-time-service-prod/0b1c2d3e-aaaa-bbbb-cccc-000000000000-s1';
const IMPORTS: Record<string, string> = {
  [`simple-time-service-${STAGE}-msk-ClusterArn`]: CLUSTER_ARN,
  [`simple-time-service-${STAGE}-msk-PrivateSubnetIds`]: 'subnet-0123456789abcdef0,subnet-0123456789abcdef1',
  [`simple-time-service-${STAGE}-msk-ClientSecurityGroupId`]: 'sg-0123456789abcdef0',
  [`simple-time-service-${STAGE}-pushgateway-Url`]: 'http://internal-pushgateway.example',
};
const PSEUDO: Record<string, string> = {
  'AWS::Partition': 'aws',
  'AWS::Region': 'us-east-1',
  'AWS::AccountId': '123456789012',
  // What Ref of a generated secret gives: its ARN.
  AdminTokenSecret: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:AdminTokenSecret-AbCdEf',
  MetricsTokenSecret: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:MetricsTokenSecret-AbCdEf',
};

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
interface Resource {
  Type: string;
  Properties: Record<string, Json>;
  DependsOn?: string[];
}
interface Statement {
  Effect: string;
  Action: string[];
  Resource: string[];
}

/** The few intrinsic functions the template uses, evaluated with IMPORTS and PSEUDO. */
function evaluate(value: Json): Json {
  if (Array.isArray(value)) return value.map(evaluate);
  if (value === null || typeof value !== 'object') return value;
  const [fn, arg] = Object.entries(value)[0] ?? [];
  const args = (): Json[] => (arg as Json[]).map(evaluate);
  switch (fn) {
    case 'Fn::ImportValue': {
      const name = evaluate(arg as Json) as string;
      if (!(name in IMPORTS)) throw new Error(`no import ${name}`);
      return IMPORTS[name]!;
    }
    case 'Fn::Join': {
      const [sep, list] = args() as [string, string[]];
      return list.join(sep);
    }
    case 'Fn::Split': {
      const [sep, text] = args() as [string, string];
      return text.split(sep);
    }
    case 'Fn::Select': {
      const [index, list] = args() as [number, Json[]];
      return list[index]!;
    }
    case 'Fn::Sub':
      return (arg as string).replace(/\$\{([^}]+)\}/g, (_, name: string) => {
        if (!(name in PSEUDO)) throw new Error(`no value for \${${name}}`);
        return PSEUDO[name]!;
      });
    case 'Ref':
      if (typeof arg === 'string' && arg in PSEUDO) return PSEUDO[arg]!;
      return value;
    default:
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, evaluate(v)]));
  }
}

const logicalName = (functionKey: string) => functionKey.charAt(0).toUpperCase() + functionKey.slice(1);
const topicArn = (topic: string) => CLUSTER_ARN.replace(':cluster/', ':topic/') + `/${topic}`;
const groupArn = (group: string) => CLUSTER_ARN.replace(':cluster/', ':group/') + `/${group}`;
/** A function's environment in the template, its values evaluated (references to resources left out). */
function stringEnvironment(fn: Resource): Record<string, string> {
  const variables = evaluate((fn.Properties.Environment as { Variables: Record<string, Json> }).Variables) as Record<string, Json>;
  return Object.fromEntries(Object.entries(variables).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

/** The names in a zip's central directory (enough of the format to list entries). */
function zipEntries(file: string): string[] {
  const zip = fs.readFileSync(file);
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0) throw new Error(`${file} is not a zip`);
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    names.push(zip.toString('utf8', at + 46, at + 46 + nameLength));
    at += 46 + nameLength + extraLength + commentLength;
  }
  return names;
}

describe('serverless package --stage prod', () => {
  const packageDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sts-package-'));
  // Its own esbuild work folder, so a `serverless offline` running meanwhile keeps its build.
  const workFolder = `.esbuild/package-test-${process.pid}`;
  let resources: Record<string, Resource>;
  let output = '';
  /** The configuration the http function reads from its environment in the template. */
  let config: Config;
  const allTopics = () => serviceTopics(config.kafka.topics);
  const allGroups = () => CONSUMER_FUNCTIONS.map((fn) => consumerGroupId(config.kafka, fn));

  beforeAll(async () => {
    const result = await run(process.execPath, [serverless, 'package', '--stage', STAGE, '--package', packageDir], {
      cwd: repo,
      timeout: 240_000,
      maxBuffer: 16 * 1024 * 1024,
      env: { ...process.env, ESBUILD_WORK_FOLDER: workFolder, SLS_TELEMETRY_DISABLED: '1' },
    });
    output = result.stdout + result.stderr;
    const template = JSON.parse(fs.readFileSync(path.join(packageDir, 'cloudformation-template-update-stack.json'), 'utf8')) as {
      Resources: Record<string, Resource>;
    };
    resources = template.Resources;
    config = loadConfig(stringEnvironment(resources.HttpLambdaFunction!));
  }, 300_000);

  afterAll(() => {
    fs.rmSync(packageDir, { recursive: true, force: true });
    fs.rmSync(path.join(repo, workFolder), { recursive: true, force: true });
  });

  const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
  const mappingsOf = (functionKey: string) =>
    ofType('AWS::Lambda::EventSourceMapping').filter(
      ([, r]) =>
        JSON.stringify(r.Properties.FunctionName) ===
        JSON.stringify({ 'Fn::GetAtt': [`${logicalName(functionKey)}LambdaFunction`, 'Arn'] }),
    );
  const statementsOf = (functionKey: string): Statement[] => {
    const role = resources[`${logicalName(functionKey)}LambdaRole`];
    expect(role?.Type, `${functionKey}'s role`).toBe('AWS::IAM::Role');
    const policies = evaluate(role!.Properties.Policies!) as unknown as Array<{ PolicyDocument: { Statement: Statement[] } }>;
    return policies.flatMap((p) => p.PolicyDocument.Statement);
  };
  /** Every resource the role allows `action` on. */
  const allowed = (statements: Statement[], action: string) =>
    statements
      .filter((s) => s.Action.includes(action))
      .flatMap((s) => s.Resource)
      .sort();

  it('packages without an AWS account', () => {
    expect(output).toContain('Service packaged');
  });

  it('has one event source mapping per consumer function, with its topic, group, filter and starting position', () => {
    expect(ofType('AWS::Lambda::EventSourceMapping')).toHaveLength(CONSUMER_FUNCTIONS.length);
    for (const fn of CONSUMER_FUNCTIONS) {
      const mappings = mappingsOf(fn.name);
      expect(mappings, fn.name).toHaveLength(1);
      const properties = evaluate(mappings[0]![1].Properties) as Record<string, Json>;
      expect(properties.EventSourceArn, fn.name).toBe(CLUSTER_ARN);
      expect(properties.Topics, fn.name).toEqual([consumerTopic(config.kafka, fn)]);
      expect(properties.AmazonManagedKafkaEventSourceConfig, fn.name).toEqual({ ConsumerGroupId: consumerGroupId(config.kafka, fn) });
      expect(properties.StartingPosition, fn.name).toBe(startingPosition(config.kafka));
      const patterns = filterPatterns(fn);
      const filters = properties.FilterCriteria as { Filters: Array<{ Pattern: string }> } | undefined;
      if (patterns === undefined) expect(filters, `${fn.name} is its topic's catch-all: no filter`).toBeUndefined();
      else
        expect(
          filters?.Filters.map((f) => JSON.parse(f.Pattern) as unknown),
          fn.name,
        ).toEqual(patterns);
    }
  });

  it('gives every mapping partial batch responses, provisioned pollers, retries, record age and the dead-letter topic', () => {
    for (const [id, mapping] of ofType('AWS::Lambda::EventSourceMapping')) {
      expect(mapping.Properties.FunctionResponseTypes, id).toEqual(['ReportBatchItemFailures']);
      // Kafka mappings take the error handling controls in provisioned mode only; the five
      // share one poller group's capacity.
      expect(mapping.Properties.ProvisionedPollerConfig, id).toEqual({
        MinimumPollers: 1,
        MaximumPollers: 4,
        PollerGroupName: 'simple-time-service-prod',
      });
      expect(mapping.Properties.MaximumRetryAttempts, id).toBe(10);
      // Never dead-lettered for its age alone: a backlog is processed.
      expect(mapping.Properties.MaximumRecordAgeInSeconds, id).toBe(-1);
      expect(mapping.Properties.DestinationConfig, id).toEqual({ OnFailure: { Destination: `kafka://${config.kafka.topics.dlq}` } });
    }
  });

  it('gives every function its own role, with `*` only for network interfaces', () => {
    expect(resources.IamRoleLambdaExecution).toBeUndefined();
    for (const [id, fn] of ofType('AWS::Lambda::Function')) {
      const key = id.replace(/LambdaFunction$/, '');
      expect(fn.Properties.Role, id).toEqual({ 'Fn::GetAtt': [`${key}LambdaRole`, 'Arn'] });
    }
    for (const [id] of ofType('AWS::IAM::Role')) {
      const statements = statementsOf(id.charAt(0).toLowerCase() + id.slice(1).replace(/LambdaRole$/, ''));
      for (const s of statements) {
        expect(s.Effect, id).toBe('Allow');
        if (s.Resource.includes('*')) {
          expect(s.Resource, `${id}: * stands alone`).toEqual(['*']);
          for (const action of s.Action) expect(action, id).toMatch(/^ec2:(Create|Describe|Delete|Assign|Unassign)\w*$/);
        } else if (s.Action.some((a) => a.startsWith('logs:'))) {
          // The streams of the function's own log group.
          expect(s.Action, id).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents']);
          expect(s.Resource, id).toHaveLength(1);
          expect(s.Resource[0], id).toMatch(
            /^arn:aws:logs:us-east-1:123456789012:log-group:\/aws\/lambda\/simple-time-service-prod-\w+:\*$/,
          );
        } else {
          for (const resource of s.Resource) expect(resource, id).not.toContain('*');
        }
      }
    }
  });

  it('lets the http function write and describe the four topics, describe the consumer groups (GET /kafka/status), and read nothing', () => {
    const statements = statementsOf('http');
    expect(allowed(statements, 'kafka-cluster:Connect')).toEqual([CLUSTER_ARN]);
    expect(allowed(statements, 'kafka-cluster:WriteDataIdempotently')).toEqual([CLUSTER_ARN]);
    expect(allowed(statements, 'kafka:GetBootstrapBrokers')).toEqual([CLUSTER_ARN]);
    expect(allowed(statements, 'kafka-cluster:WriteData')).toEqual(allTopics().map(topicArn).sort());
    expect(allowed(statements, 'kafka-cluster:DescribeTopic')).toEqual(allTopics().map(topicArn).sort());
    expect(allowed(statements, 'kafka-cluster:ReadData')).toEqual([]);
    expect(allowed(statements, 'kafka-cluster:DescribeGroup')).toEqual(allGroups().map(groupArn).sort());
    expect(allowed(statements, 'kafka-cluster:AlterGroup')).toEqual([]);
  });

  /** What a role lacks of `needed`, as `action resource` lines. */
  const missing = (functionKey: string, needed: KafkaPermission[]) => {
    const statements = statementsOf(functionKey);
    const arnOf = (resource: string) =>
      resource === 'cluster'
        ? CLUSTER_ARN
        : resource.startsWith('topic:')
          ? topicArn(resource.slice('topic:'.length))
          : groupArn(resource.slice('group:'.length));
    const lines = [...new Set(needed.map((n) => `${n.action} ${n.resource}`))];
    return lines.filter((line) => {
      const [action, resource] = line.split(' ') as [string, string];
      return !allowed(statements, action).includes(arnOf(resource));
    });
  };

  it("grants each function the cluster calls its code makes: found by running the code against a recording cluster, with the template's configuration", async () => {
    // Prepare: a cluster holding the service's topics
    const partitions = () => Object.fromEntries(allTopics().map((t) => [t, 3]));
    const quiet = (fn: Resource) =>
      loadConfig({
        ...stringEnvironment(fn),
        LOG_LEVEL: 'SILENT',
        PUSHGATEWAY_URL: 'http://127.0.0.1:9',
        PUSHGATEWAY_QUERY_TIMEOUT_MS: '200',
      });
    const noAdmin = { isAdmin: () => Promise.resolve(false), refusal: () => Promise.resolve(undefined) };
    const idleProducer = { connect: () => Promise.resolve(false), state: () => ({}) } as unknown as ContainerProducer;

    // Act: GET /kafka/status (http), the scheduled lag (metrics), the topics on deploy (topics; every topic has fewer partitions than asked)
    const http = recordingKafka(partitions());
    const status = createStatusUseCase({
      config,
      producer: () => idleProducer,
      kafka: () => Promise.resolve(http.kafka),
      admin: noAdmin,
      now: Date.now,
    });
    const answer = (await status({ authorization: undefined })).body as { consumer_lag: { groups?: Record<string, unknown> } };

    const metricsConfig = quiet(resources.MetricsLambdaFunction!);
    const metrics = recordingKafka(partitions());
    const job = createMetricsJob({
      config: metricsConfig,
      logger: createLogger(metricsConfig),
      // Only its counter of tasks is used.
      metrics: { metricsTasks: { inc: () => undefined } } as unknown as Parameters<typeof createMetricsJob>[0]['metrics'],
      withOffsets: (use) => use(adminOffsetReader(metrics.kafka.admin())),
      now: Date.now,
    });
    const scheduled = await job.runScheduled();

    const topicsConfig = quiet(resources.TopicsLambdaFunction!);
    const topics = recordingKafka(Object.fromEntries(allTopics().map((t) => [t, 1])));
    await ensureTopics({
      admin: topics.kafka.admin(),
      topics: serviceTopics(topicsConfig.kafka.topics),
      partitions: topicsConfig.kafka.topicPartitions,
      replicationFactor: 3,
    });

    // Assess: the code did its reads, and each role allows every call it made
    expect(Object.keys(answer.consumer_lag.groups ?? {}).sort(), 'GET /kafka/status read every group').toEqual(allGroups().sort());
    // (its push to the Pushgateway fails here, after the read)
    expect(scheduled.lag).toEqual({
      error: expect.stringMatching(/^could not push consumer-group lag to http:\/\/127\.0\.0\.1:9 /) as unknown,
    });
    const describedGroups = metrics.needed.filter((n) => n.action === 'kafka-cluster:DescribeGroup').map((n) => n.resource);
    expect([...new Set(describedGroups)].sort(), 'the scheduled run read every group').toEqual(
      allGroups()
        .map((g) => `group:${g}`)
        .sort(),
    );
    expect(missing('http', http.needed), 'http').toEqual([]);
    expect(missing('metrics', metrics.needed), 'metrics').toEqual([]);
    expect(missing('topics', topics.needed), 'topics').toEqual([]);
  });

  it("lets each consumer's mapping read its own topic and group, and the function write only events and dead letters", () => {
    for (const fn of CONSUMER_FUNCTIONS) {
      const statements = statementsOf(fn.name);
      const topic = consumerTopic(config.kafka, fn);
      const group = consumerGroupId(config.kafka, fn);
      const writes = fn.name === 'onError' ? [config.kafka.topics.dlq] : [config.kafka.topics.events, config.kafka.topics.dlq];
      expect(allowed(statements, 'kafka-cluster:Connect'), fn.name).toEqual([CLUSTER_ARN]);
      expect(allowed(statements, 'kafka-cluster:DescribeClusterDynamicConfiguration'), fn.name).toEqual([CLUSTER_ARN]);
      expect(allowed(statements, 'kafka:GetBootstrapBrokers'), fn.name).toEqual([CLUSTER_ARN]);
      expect(allowed(statements, 'kafka:DescribeClusterV2'), fn.name).toEqual([CLUSTER_ARN]);
      expect(allowed(statements, 'kafka-cluster:ReadData'), fn.name).toEqual([topicArn(topic)]);
      expect(allowed(statements, 'kafka-cluster:DescribeGroup'), fn.name).toEqual([groupArn(group)]);
      expect(allowed(statements, 'kafka-cluster:AlterGroup'), fn.name).toEqual([groupArn(group)]);
      expect(allowed(statements, 'kafka-cluster:WriteData'), fn.name).toEqual(writes.map(topicArn).sort());
      expect(allowed(statements, 'kafka-cluster:DescribeTopic'), fn.name).toEqual([...new Set([topic, ...writes])].map(topicArn).sort());
    }
  });

  it('lets the metrics function describe the consumed topics and the consumer groups, and nothing more', () => {
    const statements = statementsOf('metrics');
    const consumed = [...new Set(CONSUMER_FUNCTIONS.map((fn) => consumerTopic(config.kafka, fn)))];
    expect(allowed(statements, 'kafka-cluster:Connect')).toEqual([CLUSTER_ARN]);
    expect(allowed(statements, 'kafka-cluster:DescribeTopic')).toEqual(consumed.map(topicArn).sort());
    expect(allowed(statements, 'kafka-cluster:DescribeGroup')).toEqual(allGroups().map(groupArn).sort());
    for (const action of ['WriteData', 'WriteDataIdempotently', 'ReadData', 'AlterGroup']) {
      expect(allowed(statements, `kafka-cluster:${action}`), action).toEqual([]);
    }
  });

  it('runs every function on nodejs22.x arm64 in the VPC, with its log retention', () => {
    const functions = ofType('AWS::Lambda::Function');
    expect(functions.map(([id]) => id).sort()).toEqual(
      ['http', 'metrics', 'topics', ...CONSUMER_FUNCTIONS.map((fn) => fn.name)].map((k) => `${logicalName(k)}LambdaFunction`).sort(),
    );
    for (const [id, fn] of functions) {
      const p = evaluate(fn.Properties) as Record<string, Json>;
      expect(p.Runtime, id).toBe('nodejs22.x');
      expect(p.Architectures, id).toEqual(['arm64']);
      expect(p.VpcConfig, id).toEqual({
        SecurityGroupIds: ['sg-0123456789abcdef0'],
        SubnetIds: ['subnet-0123456789abcdef0', 'subnet-0123456789abcdef1'],
      });
      const env = (p.Environment as { Variables: Record<string, string> }).Variables;
      expect(env, id).toMatchObject({
        MSK_CLUSTER_ARN: CLUSTER_ARN,
        KAFKA_AUTH: 'iam',
        PUSHGATEWAY_URL: 'http://internal-pushgateway.example',
        STAGE: 'prod',
      });
      // Every value is valid for src/config.ts as the function would read it.
      expect(() => loadConfig(env), id).not.toThrow();
    }
    for (const [id, group] of ofType('AWS::Logs::LogGroup')) expect(group.Properties.RetentionInDays, id).toBe(30);
  });

  it('routes the HTTP API and schedules the metrics function every minute', () => {
    const routes = ofType('AWS::ApiGatewayV2::Route')
      .map(([, r]) => r.Properties.RouteKey)
      .sort();
    expect(routes).toEqual(['GET /', 'GET /healthz', 'GET /kafka/status', 'GET /metrics', 'POST /kafka/flush', 'POST /kafka/publish']);
    const rules = ofType('AWS::Events::Rule');
    expect(rules).toHaveLength(1);
    expect(rules[0]![1].Properties.ScheduleExpression).toBe('rate(1 minute)');
    expect(JSON.stringify(rules[0]![1].Properties.Targets)).toContain('MetricsLambdaFunction');
  });

  it('ships each function alone in its zip with the IAM signer, without type declarations', () => {
    // Each consumer function's entry is handlers/on-<its name in kebab case>.ts.
    const handlerFiles: Record<string, string> = {
      http: 'http',
      metrics: 'metrics',
      topics: 'topics',
      ...Object.fromEntries(CONSUMER_FUNCTIONS.map((fn) => [fn.name, fn.name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)])),
    };
    for (const [key, file] of Object.entries(handlerFiles)) {
      const entries = zipEntries(path.join(packageDir, `${key}.zip`));
      expect(
        entries.filter((e) => e.startsWith('handlers/')),
        key,
      ).toEqual([`handlers/${file}.js`, `handlers/${file}.js.map`]);
      expect(entries, key).toContain('node_modules/aws-msk-iam-sasl-signer-js/dist/index.js');
      const declarations = entries.filter(
        (e) => e.startsWith('node_modules/') && /\.d\.[cm]?ts$|\.map$|\/dist-types\/|\/dist-es\//.test(e),
      );
      expect(declarations, key).toEqual([]);
    }
  });

  it('keeps every secret out of the configuration: the admin token, the metrics token and the SASL password only as secret ARNs, each on the functions that read it', () => {
    // The stack makes the two tokens' secrets (adminTokenSecret and metricsTokenSecret: generate);
    // the SASL password has none with kafkaAuth: iam.
    expect(resources.AdminTokenSecret?.Properties.GenerateSecretString).toMatchObject({ PasswordLength: 48 });
    expect(resources.MetricsTokenSecret?.Properties.GenerateSecretString).toMatchObject({ PasswordLength: 48 });
    const readers: Record<string, { variable: string; secret: string }> = {
      HttpLambdaFunction: { variable: 'ADMIN_TOKEN_SECRET_ARN', secret: 'AdminTokenSecret' },
      MetricsLambdaFunction: { variable: 'METRICS_TOKEN_SECRET_ARN', secret: 'MetricsTokenSecret' },
    };
    for (const [id, fn] of ofType('AWS::Lambda::Function')) {
      const env = (fn.Properties.Environment as { Variables: Record<string, Json> }).Variables;
      for (const plain of ['ADMIN_TOKEN', 'METRICS_TOKEN', 'KAFKA_SASL_PASSWORD']) expect(env[plain] ?? '', `${id} ${plain}`).toBe('');
      expect(env.KAFKA_SASL_PASSWORD_SECRET_ARN, id).toBe('');
      for (const { variable, secret } of Object.values(readers)) {
        expect(env[variable], `${id} ${variable}`).toEqual(readers[id]?.variable === variable ? { Ref: secret } : undefined);
      }
    }
    for (const [id] of ofType('AWS::IAM::Role')) {
      const key = id.charAt(0).toLowerCase() + id.slice(1).replace(/LambdaRole$/, '');
      const reader = readers[`${id.replace(/LambdaRole$/, '')}LambdaFunction`];
      const reads = allowed(statementsOf(key), 'secretsmanager:GetSecretValue') as unknown as Json[];
      expect(reads, id).toEqual(reader ? [PSEUDO[reader.secret]] : []);
      expect(JSON.stringify(statementsOf(key)).match(/"secretsmanager:/g)?.length ?? 0, id).toBe(reader ? 1 : 0);
    }
  });

  it('bounds the http function and the API: reserved concurrency and default route throttling', () => {
    expect(resources.HttpLambdaFunction?.Properties.ReservedConcurrentExecutions).toBe(20);
    expect(resources.TopicsLambdaFunction?.Properties.ReservedConcurrentExecutions).toBe(1);
    expect(resources.HttpApiStage?.Properties.DefaultRouteSettings).toMatchObject({ ThrottlingRateLimit: 100, ThrottlingBurstLimit: 50 });
  });

  it('creates the topics on deploy with a custom resource that every mapping waits for, within budgets that fit the function, and a role that may create and grow only them', () => {
    const custom = resources.ServiceTopics;
    expect(custom?.Type).toBe('Custom::ServiceTopics');
    expect(custom?.Properties).toMatchObject({
      ServiceToken: { 'Fn::GetAtt': ['TopicsLambdaFunction', 'Arn'] },
      Topics: allTopics(),
      Partitions: '3',
      ReplicationFactor: '3',
    });
    expect(custom?.Properties.ServiceTimeout).toBeLessThanOrEqual(600);
    // The function's time holds its Kafka connection and a send, and then answering CloudFormation;
    // CloudFormation waits for that answer at least as long as the function may run.
    const fn = resources.TopicsLambdaFunction!.Properties as { Timeout: number };
    const topicsConfig = loadConfig(stringEnvironment(resources.TopicsLambdaFunction!));
    expect(fn.Timeout * 1000 - RESPONSE_RESERVE_MS).toBeGreaterThanOrEqual(
      topicsConfig.kafka.connectTimeoutMs + topicsConfig.kafka.sendTimeoutMs,
    );
    expect(custom?.Properties.ServiceTimeout as number).toBeGreaterThanOrEqual(fn.Timeout);
    for (const [id, mapping] of ofType('AWS::Lambda::EventSourceMapping')) expect(mapping.DependsOn, id).toContain('ServiceTopics');
    const statements = statementsOf('topics');
    expect(allowed(statements, 'kafka-cluster:CreateTopic')).toEqual(allTopics().map(topicArn).sort());
    expect(allowed(statements, 'kafka-cluster:AlterTopic')).toEqual(allTopics().map(topicArn).sort());
    expect(allowed(statements, 'kafka-cluster:DescribeTopic')).toEqual(allTopics().map(topicArn).sort());
    for (const action of ['WriteData', 'WriteDataIdempotently', 'ReadData', 'AlterGroup', 'DescribeGroup']) {
      expect(allowed(statements, `kafka-cluster:${action}`), action).toEqual([]);
    }
  });

  it('runs the Pushgateway (infra/aws) with its metrics on EFS, one writer at a time, a circuit breaker and a Prometheus ingress of its own', () => {
    // CloudFormation's short tags (!Ref, !Sub, ...) read as plain values: only the structure is checked.
    const tags = ['Ref', 'Sub', 'GetAtt', 'If', 'Equals', 'Not', 'Join', 'Split', 'Select', 'ImportValue', 'GetAZs', 'Cidr'].flatMap(
      (name) =>
        (['scalar', 'sequence', 'mapping'] as const).map(
          (kind) => new yaml.Type(`!${name}`, { kind, construct: (data: unknown) => ({ [name]: data }) }),
        ),
    );
    const template = yaml.load(fs.readFileSync(path.join(repo, 'infra/aws/pushgateway.yml'), 'utf8'), {
      schema: yaml.DEFAULT_SCHEMA.extend(tags),
    }) as {
      Parameters: Record<string, { Default?: string }>;
      Resources: Record<string, Resource>;
    };
    const r = template.Resources;
    const task = r.TaskDefinition!.Properties as {
      Volumes: Array<{ EFSVolumeConfiguration: Record<string, Json> }>;
      ContainerDefinitions: Array<{ Command: string[]; MountPoints: Array<{ ContainerPath: string }> }>;
    };
    const [container] = task.ContainerDefinitions;
    const file = container!.Command.find((c) => c.startsWith('--persistence.file='))!;
    expect(file, 'the persistence file').toBeDefined();
    expect(file.slice('--persistence.file='.length).startsWith(`${container!.MountPoints[0]!.ContainerPath}/`)).toBe(true);
    expect(task.Volumes[0]!.EFSVolumeConfiguration).toMatchObject({ FilesystemId: { Ref: 'FileSystem' }, TransitEncryption: 'ENABLED' });
    expect(r.FileSystem?.Properties.Encrypted).toBe(true);
    const deployment = r.Service!.Properties.DeploymentConfiguration as Record<string, Json>;
    expect(deployment).toMatchObject({
      MaximumPercent: 100,
      MinimumHealthyPercent: 0,
      DeploymentCircuitBreaker: { Enable: true, Rollback: true },
    });
    expect(r.PrometheusIngress?.Properties).toMatchObject({
      GroupId: { Ref: 'LoadBalancerSecurityGroup' },
      SourceSecurityGroupId: { Ref: 'PrometheusSecurityGroupId' },
    });
    expect(template.Parameters.Image?.Default).toMatch(/^quay\.io\/prometheus\/pushgateway:v\d+\.\d+\.\d+$/);
  });

  it('names the topics and consumer groups after the stage, so two stages on one cluster never read each other', () => {
    for (const topic of allTopics()) expect(topic).toMatch(new RegExp(`^simple-time-service-${STAGE}-`));
    for (const group of allGroups()) expect(group).toMatch(new RegExp(`^simple-time-service-${STAGE}-`));
    // Every function reads the same names.
    for (const [id, fn] of ofType('AWS::Lambda::Function')) {
      const env = loadConfig(stringEnvironment(fn));
      expect(env.kafka.topics, id).toEqual(config.kafka.topics);
      expect(env.kafka.consumerGroup, id).toBe(config.kafka.consumerGroup);
    }
  });

  it('refuses a plain METRICS_TOKEN or KAFKA_SASL_PASSWORD for a deployed stage, as it refuses a plain ADMIN_TOKEN', async () => {
    for (const param of [
      'adminToken=plain-admin-token-0123456789',
      'metricsToken=plain-metrics-token-0123456789',
      'kafkaSaslPassword=plain-sasl-password',
    ]) {
      // serverless prints its error on stdout.
      const outcome = await run(process.execPath, [serverless, 'print', '--stage', STAGE, '--param', param], {
        cwd: repo,
        timeout: 120_000,
        maxBuffer: 16 * 1024 * 1024,
        env: { ...process.env, SLS_TELEMETRY_DISABLED: '1' },
      }).then(
        () => 'printed: the value would be in the template',
        (error: { stdout?: string; stderr?: string }) => `${error.stdout ?? ''}${error.stderr ?? ''}`,
      );
      expect(outcome, param).toMatch(/would be plain text in the deployed configuration/);
    }
  }, 240_000);

  it('requires the GET /metrics token on a deployed stage: a secret of the stack, read by the metrics function alone, and never public for want of one', () => {
    expect(resources.MetricsTokenSecret?.Type).toBe('AWS::SecretsManager::Secret');
    // Without its token (a secret that cannot be read, a template edited by hand) the route refuses everyone.
    expect(loadConfig(stringEnvironment(resources.MetricsLambdaFunction!)).metrics.public).toBe(false);
    for (const [id, fn] of ofType('AWS::Lambda::Function')) {
      const env = (fn.Properties.Environment as { Variables: Record<string, Json> }).Variables;
      expect(env.METRICS_TOKEN_SECRET_ARN, id).toEqual(id === 'MetricsLambdaFunction' ? { Ref: 'MetricsTokenSecret' } : undefined);
    }
  });

  it('raises CloudWatch alarms on one SNS topic: Errors and Throttles of every function, OffsetLag of every mapping, 5xx of the HTTP API', () => {
    expect(resources.AlarmTopic?.Type).toBe('AWS::SNS::Topic');
    const alarms = ofType('AWS::CloudWatch::Alarm').map(([id, a]) => ({
      id,
      ...(a.Properties as { Namespace: string; MetricName: string; Dimensions: Json[]; AlarmActions: Json[] }),
    }));
    const on = (namespace: string, metric: string, dimensions: Json[]) =>
      alarms.filter(
        (a) => a.Namespace === namespace && a.MetricName === metric && JSON.stringify(a.Dimensions) === JSON.stringify(dimensions),
      );
    for (const [id] of ofType('AWS::Lambda::Function')) {
      for (const metric of ['Errors', 'Throttles']) {
        expect(on('AWS/Lambda', metric, [{ Name: 'FunctionName', Value: { Ref: id } }]), `${id} ${metric}`).toHaveLength(1);
      }
    }
    for (const [id, mapping] of ofType('AWS::Lambda::EventSourceMapping')) {
      const fn = (mapping.Properties.FunctionName as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
      expect(on('AWS/Lambda', 'OffsetLag', [{ Name: 'FunctionName', Value: { Ref: fn } }]), id).toHaveLength(1);
    }
    expect(on('AWS/ApiGateway', '5xx', [{ Name: 'ApiId', Value: { Ref: 'HttpApi' } }])).toHaveLength(1);
    for (const alarm of alarms) expect(alarm.AlarmActions, alarm.id).toEqual([{ Ref: 'AlarmTopic' }]);
  });

  it('passes checkov (the policy scanner), as do the templates in infra/aws: every finding fixed or skipped with its reason', () => {
    const found = spawnSync('checkov', ['--version'], { encoding: 'utf8' });
    if (found.error) {
      if (process.env.CI === 'true') throw new Error('checkov is not installed: .ci/run installs it from PyPI');
      console.log('checkov is not installed, so the templates were not scanned: pip install checkov (or run .ci/run)');
      return;
    }
    const scan = (args: string[]) =>
      // --skip-download: AWS's policies ship in the package; nothing is fetched from the vendor's platform.
      spawnSync('checkov', ['--skip-download', '--framework', 'cloudformation', '--output', 'json', ...args], {
        encoding: 'utf8',
        timeout: 180_000,
        maxBuffer: 64 * 1024 * 1024,
      });
    for (const [what, args] of [
      ['the generated template', ['-f', path.join(packageDir, 'cloudformation-template-update-stack.json')]],
      ['infra/aws', ['-d', path.join(repo, 'infra/aws')]],
    ] as const) {
      const result = scan([...args]);
      const reports = (
        [] as Array<{
          summary: { passed: number; failed: number; parsing_errors: number };
          results: {
            failed_checks: Array<{ check_id: string; resource: string }>;
            skipped_checks: Array<{ check_id: string; check_result: { suppress_comment?: string } }>;
          };
        }>
      ).concat(JSON.parse(result.stdout) as never);
      const failed = reports.flatMap((r) => r.results.failed_checks.map((c) => `${c.check_id} ${c.resource}`));
      expect(failed, `checkov on ${what}`).toEqual([]);
      expect(
        reports.reduce((n, r) => n + r.summary.passed, 0),
        what,
      ).toBeGreaterThan(20);
      expect(
        reports.reduce((n, r) => n + r.summary.parsing_errors, 0),
        what,
      ).toBe(0);
      for (const skipped of reports.flatMap((r) => r.results.skipped_checks)) {
        expect(skipped.check_result.suppress_comment ?? '', `${what}: ${skipped.check_id} is skipped with its reason`).toMatch(
          /\w{3,}.*\w{3,}/,
        );
      }
      expect(result.status, `checkov on ${what}: ${result.stderr}`).toBe(0);
    }
  });

  it('passes cfn-lint, as do the templates in infra/aws', () => {
    const found = spawnSync('cfn-lint', ['--version'], { encoding: 'utf8' });
    if (found.error) {
      if (process.env.CI === 'true') throw new Error('cfn-lint is not installed: .ci/run installs it from PyPI');
      console.log('cfn-lint is not installed, so the templates were not linted: pip install cfn-lint (or run .ci/run)');
      return;
    }
    // W3005: the framework's own DependsOn next to a GetAtt of the same resource (harmless).
    const generated = spawnSync(
      'cfn-lint',
      ['--ignore-checks', 'W3005', '--', path.join(packageDir, 'cloudformation-template-update-stack.json')],
      {
        encoding: 'utf8',
        timeout: 120_000,
      },
    );
    expect(generated.stdout + generated.stderr, 'cfn-lint on the generated template').toBe('');
    expect(generated.status).toBe(0);
    const templates = fs
      .readdirSync(path.join(repo, 'infra/aws'))
      .filter((f) => f.endsWith('.yml'))
      .map((f) => path.join(repo, 'infra/aws', f));
    expect(templates.length).toBeGreaterThanOrEqual(2);
    const infra = spawnSync('cfn-lint', ['--', ...templates], { encoding: 'utf8', timeout: 120_000 });
    expect(infra.stdout + infra.stderr, 'cfn-lint on infra/aws').toBe('');
    expect(infra.status).toBe(0);
  });
});

/** The Pushgateway's own stack: its template evaluated for the networks it may be given. */
describe('infra/aws/pushgateway.yml', () => {
  const template = () => loadYamlTemplate(path.join(repo, 'infra/aws/pushgateway.yml'));
  const imports = (subnets: string[]) => ({
    'simple-time-service-dev-msk-VpcId': 'vpc-0123456789abcdef0',
    'simple-time-service-dev-msk-PrivateSubnetIds': subnets.join(','),
    'simple-time-service-dev-msk-ClientSecurityGroupId': 'sg-0123456789abcdef0',
  });
  const given = (subnets: string[]) => ({ Stage: 'dev', VpcId: 'vpc-1', SubnetIds: subnets.join(','), ClientSecurityGroupId: 'sg-1' });

  it('gives the file system a mount target in every subnet the task may run in, however many subnets the network has', () => {
    for (const subnets of [
      ['subnet-a', 'subnet-b'],
      ['subnet-a', 'subnet-b', 'subnet-c'],
    ]) {
      for (const [how, r] of [
        ['imported', evaluateTemplate(template(), { Stage: 'dev' }, imports(subnets))],
        ['given', evaluateTemplate(template(), given(subnets), {})],
      ] as const) {
        const what = `${subnets.length} subnets, ${how}`;
        const task = (r.Service!.Properties.NetworkConfiguration as { AwsvpcConfiguration: { Subnets: string[] } }).AwsvpcConfiguration
          .Subnets;
        const mounted = Object.values(r)
          .filter((x) => x.Type === 'AWS::EFS::MountTarget')
          .map((x) => x.Properties.SubnetId as string);
        expect([...mounted].sort(), what).toEqual([...new Set(task)].sort());
        expect(task.length, what).toBeGreaterThanOrEqual(2);
      }
    }
  });

  it("replaces the load balancer's default allow-all egress: its only way out is to the task", () => {
    const r = evaluateTemplate(template(), { Stage: 'dev' }, imports(['subnet-a', 'subnet-b']));
    const inline = r.LoadBalancerSecurityGroup!.Properties.SecurityGroupEgress as Array<Record<string, Json>> | undefined;
    // CloudFormation adds the allow-all egress rule to a group created without egress rules of its own
    // (docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ec2-securitygroup.html).
    expect(inline, 'egress rules on the group itself').toBeDefined();
    const separate = Object.values(r)
      .filter(
        (x) =>
          x.Type === 'AWS::EC2::SecurityGroupEgress' &&
          JSON.stringify(x.Properties.GroupId) === JSON.stringify({ Ref: 'LoadBalancerSecurityGroup' }),
      )
      .map((x) => x.Properties);
    for (const rule of [...(inline ?? []), ...separate]) {
      expect([rule.CidrIp, rule.CidrIpv6], JSON.stringify(rule)).not.toContain('0.0.0.0/0');
      expect([rule.CidrIp, rule.CidrIpv6], JSON.stringify(rule)).not.toContain('::/0');
    }
    expect(separate).toContainEqual(
      expect.objectContaining({ DestinationSecurityGroupId: { Ref: 'TaskSecurityGroup' }, FromPort: 9091, ToPort: 9091 }),
    );
  });

  it('lets the task pull its image from an ECR repository when Image names one, and only then', () => {
    const pulls = (image: string | undefined) => {
      const r = evaluateTemplate(template(), { Stage: 'dev', ...(image ? { Image: image } : {}) }, imports(['subnet-a', 'subnet-b']));
      const policies = (r.ExecutionRole!.Properties.Policies ?? []) as Array<{
        PolicyDocument: { Statement: Array<{ Action: string | string[]; Resource: Json }> };
      }>;
      const statements = policies.flatMap((p) => p.PolicyDocument.Statement);
      const on = (action: string) => statements.filter((st) => [st.Action].flat().includes(action)).map((st) => st.Resource);
      return { token: on('ecr:GetAuthorizationToken'), layers: on('ecr:GetDownloadUrlForLayer'), images: on('ecr:BatchGetImage') };
    };
    const repository = 'arn:aws:ecr:us-east-1:123456789012:repository/mirror/pushgateway';
    expect(pulls('123456789012.dkr.ecr.us-east-1.amazonaws.com/mirror/pushgateway:v1.11.1')).toEqual({
      token: ['*'],
      layers: [repository],
      images: [repository],
    });
    expect(pulls('123456789012.dkr.ecr.us-east-1.amazonaws.com/mirror/pushgateway@sha256:0123')).toEqual({
      token: ['*'],
      layers: [repository],
      images: [repository],
    });
    expect(pulls(undefined), 'the default image, on quay.io').toEqual({ token: [], layers: [], images: [] });
  });
});
