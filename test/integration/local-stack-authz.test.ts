/**
 * The local stack's authorizing mode (LOCAL_KAFKA_AUTHZ=on): Kafka's StandardAuthorizer,
 * and each function of a `serverless offline` run logging in as a principal of its own,
 * allowed the Kafka ACLs its IAM role gives it (infra/local/authz: the roles serverless.yml
 * deploys, through AWS's table of kafka-cluster actions), nothing more. A permission taken
 * out of the source (custom.kafkaAccess, the consumer table) fails the call it was for with
 * the broker's authorization error, and the function's log names what its role lacks. On a
 * broker of the test's own (27200-27203; serverless offline on 27250/27252).
 */
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CONSUMER_FUNCTIONS } from '../../src/consumers/functions';
import { createHttpHandler } from '../../handlers/factories/http';
import { defaultDeps } from '../../handlers/factories/deps';
import type { KafkaAcl } from '../../infra/local/authz/acls';
import { OPERATION, PERMISSION, RESOURCE_TYPE, principalFilter } from '../../infra/local/authz/kafka-acls';
import { functionPermissions } from '../../infra/local/authz/plugin';
import type { ServerlessLike } from '../../infra/local/authz/plugin';
import { connectAdmin, createPrincipals, removePrincipals, runPrincipals, waitForLogins } from '../../infra/local/authz/principals';
import type { FunctionPrincipal } from '../../infra/local/authz/principals';
import { alterScramUsers } from '../../infra/local/authz/scram-users';
import { loadConfig } from '../../src/config';
import { createContainerProducer, createKafka } from '../../src/kafka';
import { createLogger } from '../../src/logger';
import { createTopic, topicEnv, uniqueName, uniqueServiceTopics } from '../helpers/kafka';
import { httpEvent, lambdaContext } from '../helpers/lambda';
import { logLines, startService } from '../helpers/offline';
import type { Offline } from '../helpers/offline';
import { startPrivateBroker } from '../helpers/private-broker';
import type { PrivateBroker } from '../helpers/private-broker';
import { waitFor } from '../helpers/wait-for';

const PORT = 27200;
const repo = path.resolve(__dirname, '../..');
const run = promisify(execFile);
const topics = uniqueServiceTopics('authz');
const group = uniqueName('authz-group');
const TOKEN = 'authz-admin-token-0123456789';

type Dict = Record<string, unknown>;
type Admin = Awaited<ReturnType<typeof connectAdmin>>;

/** serverless.yml as the framework resolves it for the local stage, with this test's topics and groups. */
async function printedConfig(): Promise<Dict> {
  const { stdout } = await run('npx', ['serverless', 'print', '--stage', 'local', '--format', 'json'], {
    cwd: repo,
    env: { ...process.env, ...topicEnv(topics), KAFKA_CONSUMER_GROUP: group },
    timeout: 180_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  return JSON.parse(stdout) as Dict;
}

/** The IAM roles infra/aws/serverless-resources.cjs makes from this (possibly edited) configuration. */
async function rolesOf(config: Dict): Promise<Dict> {
  const load = createRequire(__filename);
  const { resources } = load('../../infra/aws/serverless-resources.cjs') as { resources: (context: unknown) => Promise<Dict> };
  const resolveConfigurationProperty = (at: string[]) =>
    Promise.resolve(at.reduce<unknown>((v, k) => (v as Dict | undefined)?.[k], config));
  return resources({ options: { stage: 'local' }, resolveConfigurationProperty });
}

/** The service the plugin sees: the functions (given in parts) and these roles. */
function serviceOf(config: Dict, roles: Dict): ServerlessLike['service'] {
  const functions = Object.assign({}, ...[config.functions].flat()) as Record<string, { role?: unknown; events?: unknown[] }>;
  return {
    provider: {},
    resources: { Resources: roles },
    getAllFunctions: () => Object.keys(functions),
    getFunction: (key) => functions[key]!,
  };
}

/** A copy of `config` with `edit` applied to custom.kafkaAccess: one permission taken out of the source. */
function without(config: Dict, edit: (access: Record<string, Record<string, string[] | undefined>>) => void): Dict {
  const copy = structuredClone(config);
  edit((copy.custom as Dict).kafkaAccess as Record<string, Record<string, string[] | undefined>>);
  return copy;
}

function short(acls: readonly KafkaAcl[]): string[] {
  return acls.map((a) => `${a.permission} ${a.operation} ${a.kind}:${a.name}`).sort();
}

const nameOf = (codes: Record<string, number>, code: number): string => Object.keys(codes).find((k) => codes[k] === code) ?? String(code);

/** An ACL the broker lists, written as short() writes ours. */
function aclText(resource: { resourceType: number; resourceName: string }, acl: { operation: number; permissionType: number }): string {
  return `${nameOf(PERMISSION, acl.permissionType)} ${nameOf(OPERATION, acl.operation)} ${nameOf(RESOURCE_TYPE, resource.resourceType)}:${resource.resourceName}`;
}

describe('the authorizing mode (LOCAL_KAFKA_AUTHZ=on)', () => {
  let broker: PrivateBroker;
  let authz: Record<string, string>;
  let admin: Admin;
  let printed: Dict;

  beforeAll(async () => {
    // Printed while the broker starts; the broker is kept first, so afterAll stops it whatever fails.
    const printing = printedConfig();
    printing.catch(() => undefined);
    broker = await startPrivateBroker({ port: PORT, authz: true });
    printed = await printing;
    authz = await broker.clientEnv('authz');
    admin = await connectAdmin(broker.brokers);
    const kafka = createKafka({
      kafka: loadConfig({ KAFKA_BROKERS: broker.brokers }).kafka,
      brokers: [broker.brokers],
      clientId: uniqueName('authz-topics'),
    }).admin();
    await kafka.connect();
    for (const topic of Object.values(topics)) await createTopic(kafka, topic, 3);
    await kafka.disconnect();
  }, 300_000);

  afterAll(async () => {
    await admin?.disconnect();
    await broker?.destroy();
  }, 120_000);

  /** Principals for every function of `config`'s roles, on the broker; removed by the caller. */
  async function principalsFor(config: Dict): Promise<FunctionPrincipal[]> {
    const principals = runPrincipals(functionPermissions(serviceOf(config, await rolesOf(config))));
    await createPrincipals({ admin, broker: broker.brokers, principals });
    await waitForLogins({ brokers: authz.KAFKA_BROKERS!, caFile: authz.KAFKA_SSL_CA_FILE, principals });
    return principals;
  }

  /** The http function, in this process, logging in as `principal`; its warnings are kept. */
  function httpFunctionAs(principal: FunctionPrincipal) {
    const config = loadConfig({
      ...authz,
      ...topicEnv(topics),
      KAFKA_SASL_USERNAME: principal.username,
      KAFKA_SASL_PASSWORD: principal.password,
      KAFKA_CONSUMER_GROUP: group,
      ADMIN_TOKEN: TOKEN,
      PUSHGATEWAY_URL: 'http://127.0.0.1:9',
      LOG_LEVEL: 'SILENT',
    });
    const logger = createLogger(config);
    const warn = vi.spyOn(logger, 'warn');
    // A Kafka client and producer of its own: the container's are one per process.
    const kafka = createKafka({ kafka: config.kafka, brokers: config.kafka.brokers, logger, clientId: principal.username });
    const producer = createContainerProducer({
      kafka: () => kafka,
      logger,
      sendTimeoutMs: config.kafka.sendTimeoutMs,
      connectTimeoutMs: config.kafka.connectTimeoutMs,
    });
    const handler = createHttpHandler(defaultDeps({ config, logger, kafka: () => Promise.resolve(kafka), producer: () => producer }));
    const warnings = (): Dict[] => warn.mock.calls.map(([message, extra]) => ({ message, ...(extra as Dict) }));
    return { handler, warnings, stop: () => producer.disconnect() };
  }

  it('stack.sh starts Kafka with its authorizer: a principal without ACLs is refused everything, the PLAINTEXT super user nothing', async () => {
    // Prepare: a SCRAM user of the test's own, with no ACL
    const user = { name: uniqueName('authz-nobody'), password: 'nobody-password-0123456789' };
    await alterScramUsers({ broker: broker.brokers, upsert: [user] });
    const scram = loadConfig({ ...authz, KAFKA_SASL_USERNAME: user.name, KAFKA_SASL_PASSWORD: user.password });
    const nobody = createKafka({ kafka: scram.kafka, brokers: scram.kafka.brokers, clientId: uniqueName('authz-nobody') }).admin({
      retry: { retries: 0 },
    });

    try {
      // Act
      await waitFor(() => nobody.connect().then(() => true), { timeoutMs: 15_000, what: 'the new SCRAM user to log in' });
      const refused = await nobody.fetchTopicMetadata({ topics: [topics.requests] }).then(
        () => 'allowed',
        (error: Error & { type?: string }) => error.type ?? error.message,
      );
      const superUser = await admin.fetchTopicMetadata({ topics: [topics.requests] });
      const status = await run('bash', [path.join(repo, 'infra/local/stack.sh'), 'status'], {
        env: {
          ...process.env,
          LOCAL_STACK_DIR: broker.dir,
          LOCAL_KAFKA_PORT: String(PORT),
          LOCAL_PROMETHEUS: 'off',
          PUSHGATEWAY_URL: 'http://127.0.0.1:9091',
        },
      });

      // Assess
      expect(refused).toBe('TOPIC_AUTHORIZATION_FAILED');
      expect(superUser.topics[0]?.partitions).toHaveLength(3);
      expect(status.stdout).toMatch(/^authz +on: each function logs in as its own principal/m);
      expect(Object.keys(authz).sort()).toEqual(['KAFKA_AUTH', 'KAFKA_BROKERS', 'KAFKA_SSL_CA_FILE', 'LOCAL_KAFKA_AUTHZ_ADMIN']);
      expect(authz.LOCAL_KAFKA_AUTHZ_ADMIN).toBe(broker.brokers);
    } finally {
      await nobody.disconnect().catch(() => undefined);
      await alterScramUsers({ broker: broker.brokers, remove: [user.name] });
    }
  }, 60_000);

  it('serverless offline runs every function as its own principal, with the ACLs of its role and nothing else, and removes them when it stops', async () => {
    // Prepare
    let offline: Offline | undefined;
    const correlationId = uniqueName('authz-get');
    const { resources } = await admin.describeAcls(principalFilter());
    const before = new Set(resources.flatMap((r) => r.acls.map((a) => a.principal)));

    try {
      // Act: GET /, a command and a custom event, each handled by its consumer function
      offline = await startService({ httpPort: 27250, lambdaPort: 27252, topics, group, env: { ...authz, ADMIN_TOKEN: TOKEN } });
      const get = await fetch(`${offline.baseUrl}/`, {
        headers: { 'x-correlation-id': correlationId },
        signal: AbortSignal.timeout(10_000),
      });
      const publish = (body: Dict) =>
        fetch(`${offline!.baseUrl}/kafka/publish`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify({ correlation_id: correlationId, ...body }),
          signal: AbortSignal.timeout(10_000),
        });
      const custom = await publish({ event_type: 'authz_probe', data: { n: 1 } });
      const command = await publish({ event_type: 'time.now', data: { timezone: 'UTC' }, topic: topics.commands });
      for (const [fn, message] of [
        ['onHttpRequest', 'http request'],
        ['onHttpResponse', 'http response'],
        ['onCustomEvent', 'custom event'],
        ['onCommand', 'command processed'],
      ]) {
        await waitFor(() => logLines(offline!).find((l) => l.message === message && l.correlation_id === correlationId), {
          timeoutMs: 60_000,
          what: `${fn} to handle its record`,
        });
      }
      const { resources: during } = await admin.describeAcls(principalFilter());
      const ofRun = during.flatMap((r) => r.acls.filter((a) => !before.has(a.principal)).map((a) => ({ ...a, resource: r })));
      const runFunctions = [...new Set(ofRun.map((a) => /^User:([A-Za-z]+)@/.exec(a.principal)?.[1]))].sort();
      const onHttpRequest = ofRun.filter((a) => a.principal.startsWith('User:onHttpRequest@')).map((a) => aclText(a.resource, a));
      await offline.stop();
      offline = undefined;
      const { resources: after } = await admin.describeAcls(principalFilter());

      // Assess
      expect([get.status, custom.status, command.status]).toEqual([200, 200, 200]);
      // Every function with a role has a principal (the topics function too, never invoked locally).
      expect(runFunctions).toEqual(['http', 'metrics', 'topics', ...CONSUMER_FUNCTIONS.map((fn) => fn.name)].sort());
      const wanted = functionPermissions(serviceOf(printed, (printed.resources as Dict).Resources as Dict)).get('onHttpRequest')!;
      expect(short(wanted.acls)).toEqual(
        [
          `ALLOW DESCRIBE group:${group}-http-request`,
          'ALLOW DESCRIBE topic:' + topics.dlq,
          'ALLOW DESCRIBE topic:' + topics.events,
          'ALLOW DESCRIBE topic:' + topics.requests,
          'ALLOW DESCRIBE_CONFIGS cluster:kafka-cluster',
          'ALLOW IDEMPOTENT_WRITE cluster:kafka-cluster',
          `ALLOW READ group:${group}-http-request`,
          'ALLOW READ topic:' + topics.requests,
          'ALLOW WRITE topic:' + topics.dlq,
          'ALLOW WRITE topic:' + topics.events,
        ].sort(),
      );
      expect(onHttpRequest.sort()).toEqual(short(wanted.acls));
      expect(after.flatMap((r) => r.acls.map((a) => a.principal)).filter((p) => !before.has(p))).toEqual([]);
    } finally {
      await offline?.stop();
    }
  }, 240_000);

  it("a permission taken out of custom.kafkaAccess fails the call with the broker's authorization error, and the log names it", async () => {
    // Prepare: the http function may no longer write the commands topic
    const edited = without(printed, (access) => {
      access.http!.write = access.http!.write!.filter((t) => t !== topics.commands);
    });
    const principals = await principalsFor(edited);
    const http = httpFunctionAs(principals.find((p) => p.functionKey === 'http')!);
    const publish = (topic: string) =>
      http.handler(
        httpEvent('POST /kafka/publish', {
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify({ event_type: 'authz_probe', data: {}, topic }),
        }),
        lambdaContext('http'),
      );

    try {
      // Act
      const refused = await publish(topics.commands);
      const allowed = await publish(topics.events);

      // Assess
      expect(refused.statusCode).toBe(503);
      expect(allowed.statusCode, String(allowed.body)).toBe(200);
      const failed = http.warnings().find((w) => w.message === 'kafka send failed');
      expect(failed).toMatchObject({
        topics: [topics.commands],
        missing_permission: `kafka-cluster:WriteData on topic ${topics.commands}`,
      });
      expect(String(failed?.error)).toMatch(/not authorized to access topics/i);
    } finally {
      await http.stop();
      await removePrincipals({ admin, broker: broker.brokers, usernames: principals.map((p) => p.username) });
    }
  }, 90_000);

  /** GET /kafka/status as the http function logging in with the role of `config`: the lag failures, and what it logged. */
  async function statusAs(config: Dict) {
    const principals = await principalsFor(config);
    const http = httpFunctionAs(principals.find((p) => p.functionKey === 'http')!);
    try {
      const answer = await http.handler(
        httpEvent('GET /kafka/status', { headers: { authorization: `Bearer ${TOKEN}` } }),
        lambdaContext('http'),
      );
      const lag = (JSON.parse(String(answer.body)) as { consumer_lag: { failures?: Array<{ group: string; error?: string }> } })
        .consumer_lag;
      return { body: String(answer.body), failures: lag.failures, warnings: http.warnings() };
    } finally {
      await http.stop();
      await removePrincipals({ admin, broker: broker.brokers, usernames: principals.map((p) => p.username) });
    }
  }

  const groups = () => CONSUMER_FUNCTIONS.map((fn) => `${group}-${fn.groupSuffix}`).sort();

  it("GET /kafka/status with the http function's permissions before the DescribeGroup fix cannot read a group's lag, and names kafka-cluster:DescribeGroup", async () => {
    // Prepare: the http role as it was before kafka-cluster:DescribeGroup was added to it
    const beforeFix = without(printed, (access) => {
      delete access.http!.describeGroups;
    });

    // Act
    const status = await statusAs(beforeFix);

    // Assess
    expect(status.failures?.map((f) => f.error).sort(), status.body).toEqual(
      groups().map(
        (g) =>
          expect.stringContaining(
            `a role without kafka-cluster:DescribeGroup on group ${g} (GROUP_AUTHORIZATION_FAILED`,
          ) as unknown as string,
      ),
    );
    expect(status.warnings.find((w) => w.message === 'kafka status read in part')).toBeDefined();
  }, 90_000);

  it("GET /kafka/status with the http function's permissions as serverless.yml grants them reads every group's lag", async () => {
    // Act
    const status = await statusAs(printed);

    // Assess
    expect(status.failures, status.body).toEqual([]);
    expect(status.warnings.filter((w) => w.message === 'kafka status read in part')).toEqual([]);
  }, 90_000);
});
