/**
 * The service over TLS, for real: a broker of this test's own with its SASL_SSL
 * (SCRAM-SHA-512) and SSL (mutual TLS) listeners (infra/local/stack.sh, LOCAL_KAFKA_SASL=on,
 * ports 26600-26603), reached with the variables `stack.sh env` prints and the local CA
 * trusted through KAFKA_SSL_CA_FILE:
 *
 * - `npm run topics` over SCRAM, then over mutual TLS;
 * - the SCRAM password read from its secret (KAFKA_SASL_PASSWORD_SECRET_ARN, MSK's format);
 * - the HTTP function (in-process): GET / and POST /kafka/publish, its records read back
 *   over SCRAM by an independent consumer;
 * - the metrics function's lag reader;
 * - a new container's first send with broker discovery slower than a send's budget;
 * - a wrong password, an untrusted broker certificate and a missing client certificate:
 *   one clear error naming the cause, and connections tried less and less often (counted
 *   at the broker, whose log has a line per failed authentication).
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { defaultDeps } from '../../handlers/factories/deps';
import { createMetricsHandler } from '../../handlers/factories/metrics';
import type { ScheduledRunReport } from '../../src/use-cases';
import { loadConfig } from '../../src/config';
import { createContainerProducer, createKafka } from '../../src/kafka';
import { explainConnectionFailure, resolveKafka } from '../../src/kafka/client';
import type { Logger } from '../../src/logger';
import { createMetrics } from '../../src/metrics/container-metrics';
import { deleteGroup, fetchGroups } from '@simple-time-service/fleet-metrics';
import { startReader, topicEnv, uniqueName, uniqueServiceTopics } from '../helpers/kafka';
import { httpEvent, lambdaContext, scheduledEvent } from '../helpers/lambda';
import { startPrivateBroker } from '../helpers/private-broker';
import type { PrivateBroker } from '../helpers/private-broker';

const run = promisify(execFile);
const repo = path.resolve(__dirname, '../..');
const PORT = 26600;
const TOKEN = 'tls-scram-admin-token-0123456789';
const PUSHGATEWAY_URL = process.env.PUSHGATEWAY_URL ?? 'http://127.0.0.1:9091';

type Invoke = (e: APIGatewayProxyEventV2, c: Context) => Promise<APIGatewayProxyStructuredResultV2>;

let broker: PrivateBroker;
let scram: Record<string, string>;
let tls: Record<string, string>;
const topics = uniqueServiceTopics('tls');
const job = uniqueName('sts-tls');

/** The broker's count of failed authentications (a line each in its server.log). */
function failedAuthentications(): number {
  const log = readFileSync(path.join(broker.dir, 'kafka-3.9.2', 'logs', 'server.log'), 'utf8');
  return log.split('\n').filter((line) => line.includes('Failed authentication with')).length;
}

/** A logger that keeps what it is given. */
function capturingLogger(): { logger: Logger; lines: Array<{ level: string; message: string }> } {
  const lines: Array<{ level: string; message: string }> = [];
  const at = (level: string) => (message: string) => lines.push({ level, message });
  const logger = { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') } as unknown as Logger; // only the four levels are called
  return { logger, lines };
}

beforeAll(async () => {
  broker = await startPrivateBroker({ port: PORT, sasl: true });
  scram = await broker.clientEnv('scram');
  tls = await broker.clientEnv('tls');
  const config = loadConfig({ ...scram });
  const admin = createKafka({ kafka: config.kafka, brokers: config.kafka.brokers, clientId: uniqueName('tls-admin') }).admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: Object.values(topics).map((topic) => ({ topic, numPartitions: 3 })) });
  await admin.disconnect();
}, 240_000);

afterAll(async () => {
  for (const g of await fetchGroups({ url: PUSHGATEWAY_URL, timeoutMs: 2000, job }).catch(() => [])) {
    await deleteGroup({ url: PUSHGATEWAY_URL, timeoutMs: 2000, labels: g.labels }).catch(() => undefined);
  }
  await broker?.destroy();
}, 120_000);

describe('over SASL_SSL and mutual TLS', () => {
  it("connects with the SCRAM password read from its secret (MSK's format) before the client is made, and is refused with another", async () => {
    // Prepare: no password in the configuration, only its secret's ARN
    const { KAFKA_SASL_PASSWORD: password, ...withoutPassword } = scram;
    const config = loadConfig({
      ...withoutPassword,
      KAFKA_SASL_PASSWORD_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:AmazonMSK_tls-AbCdEf',
    });
    const secretOf = (pass: string) => () =>
      Promise.resolve(JSON.stringify({ username: config.kafka.saslSecret!.username, password: pass }));
    const listTopics = async (pass: string) => {
      const admin = (await resolveKafka({ kafka: config.kafka, clientId: uniqueName('tls-secret'), readSecret: secretOf(pass) })).admin();
      await admin.connect();
      try {
        return await admin.listTopics();
      } finally {
        await admin.disconnect();
      }
    };

    // Act / Assess
    expect(await listTopics(password!)).toEqual(expect.arrayContaining(Object.values(topics)));
    await expect(listTopics('not-the-password')).rejects.toThrow(/SASL SCRAM SHA512 authentication failed/);
  }, 60_000);

  it('npm run topics creates the topics over SCRAM, and finds them over mutual TLS', async () => {
    // Prepare
    const own = uniqueServiceTopics('tlscli');

    // Act
    const overScram = await run('npx', ['tsx', 'infra/topics.ts'], {
      cwd: repo,
      env: { ...process.env, ...scram, ...topicEnv(own) },
      timeout: 90_000,
    });
    const overTls = await run('npx', ['tsx', 'infra/topics.ts'], {
      cwd: repo,
      env: { ...process.env, ...tls, ...topicEnv(own) },
      timeout: 90_000,
    });

    // Assess
    expect(overScram.stdout).toContain(`[topics] created: ${own.requests}, ${own.events}, ${own.commands}, ${own.dlq}`);
    expect(overTls.stdout).toContain(`already there: ${own.requests}, ${own.events}, ${own.commands}, ${own.dlq}`);
  }, 180_000);

  it('the HTTP function answers GET / and POST /kafka/publish with its records written over SCRAM', async () => {
    // Prepare: the function's environment, as serverless.yml gives it (only while it loads
    // its configuration: the clean-up after this file reads KAFKA_BROKERS too)
    const saved = { ...process.env };
    Object.assign(process.env, scram, topicEnv(topics), { ADMIN_TOKEN: TOKEN, PUSHGATEWAY_URL, SERVICE_NAME: job, LOG_LEVEL: 'SILENT' });
    vi.resetModules();
    const invoke = (await import('../../handlers/http.js')).handler as Invoke;
    process.env = saved;
    const config = loadConfig({ ...scram });
    const kafka: Kafka = createKafka({ kafka: config.kafka, brokers: config.kafka.brokers, clientId: uniqueName('tls-reader') });
    const reader = await startReader(kafka, [topics.requests, topics.events]);
    const correlationId = uniqueName('tls-get');

    try {
      // Act
      const got = await invoke(httpEvent('GET /', { headers: { 'x-correlation-id': correlationId } }), lambdaContext('http'));
      const published = await invoke(
        httpEvent('POST /kafka/publish', {
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify({ event_type: 'tls_probe', data: { over: 'scram' }, correlation_id: correlationId }),
        }),
        lambdaContext('http'),
      );

      // Assess
      expect(got.statusCode).toBe(200);
      expect(published.statusCode, String(published.body)).toBe(200);
      const records = await reader.waitForRecords((r) => r.headers.correlation_id === correlationId, 3, 30_000);
      expect(records.map((r) => r.headers.event_type).sort()).toEqual(['http_request', 'http_response', 'tls_probe']);
    } finally {
      await reader.stop();
    }
  }, 90_000);

  it("the metrics function's lag reader reads the groups' lag over SCRAM", async () => {
    // Prepare: records no group has read
    const config = loadConfig({
      ...process.env,
      ...scram,
      ...topicEnv(topics),
      PUSHGATEWAY_URL,
      SERVICE_NAME: job,
      AWS_LAMBDA_FUNCTION_NAME: 'metrics',
      LOG_LEVEL: 'SILENT',
    });
    const handler = createMetricsHandler(defaultDeps({ config, metrics: createMetrics() }));
    const producer = createKafka({ kafka: config.kafka, brokers: config.kafka.brokers, clientId: uniqueName('tls-lag') }).producer();
    await producer.connect();
    await producer.send({ topic: topics.requests, messages: [{ value: '1' }, { value: '2' }, { value: '3' }] });
    await producer.disconnect();

    // Act
    const report = (await handler(scheduledEvent(), lambdaContext('metrics'))) as ScheduledRunReport;

    // Assess
    expect(report.lag, JSON.stringify(report.lag)).not.toHaveProperty('error');
    if ('error' in report.lag) return;
    expect(report.lag.failures).toEqual([]);
    expect(report.lag.total).toBeGreaterThanOrEqual(3);
  }, 60_000);

  it("a new container's first send is acknowledged when broker discovery takes longer than a send's budget", async () => {
    // Prepare: discovery takes 1.5 s; a send may wait 1 s
    const config = loadConfig({ ...scram, KAFKA_SEND_TIMEOUT_MS: '1000' });
    const kafka = async (): Promise<Kafka> => {
      await new Promise((resolve) => setTimeout(resolve, 1500));
      return createKafka({ kafka: config.kafka, brokers: config.kafka.brokers, clientId: uniqueName('tls-cold') });
    };
    const producer = createContainerProducer({ kafka, sendTimeoutMs: 1000, connectTimeoutMs: config.kafka.connectTimeoutMs });

    try {
      // Act
      void producer.connect(); // the init phase
      const acks = await producer.send([{ topic: topics.events, key: null, value: JSON.stringify({ cold: true }) }]);

      // Assess
      expect(acks).toHaveLength(1);
    } finally {
      await producer.disconnect();
    }
  }, 30_000);
});

describe('connections refused for their credentials or certificates', () => {
  /**
   * Sends every 100 ms for `ms` through the container producer as the functions build it
   * (src/kafka/container.ts: its explanations, its back-off); what it logged, what callers
   * were told, and how many failed authentications the broker saw.
   */
  async function sendsFor(env: Record<string, string>, ms: number) {
    const config = loadConfig(env);
    const { logger, lines } = capturingLogger();
    const before = failedAuthentications();
    const producer = createContainerProducer({
      kafka: () => createKafka({ kafka: config.kafka, brokers: config.kafka.brokers, logger, clientId: uniqueName('tls-refused') }),
      sendTimeoutMs: config.kafka.sendTimeoutMs,
      connectTimeoutMs: config.kafka.connectTimeoutMs,
      explain: (error) => explainConnectionFailure(error, config.kafka),
      logger,
    });
    const told = new Set<string>();
    let acknowledged = 0;
    const until = Date.now() + ms;
    while (Date.now() < until) {
      await producer.send([{ topic: topics.events, key: null, value: 'refused?' }]).then(
        () => (acknowledged += 1),
        (error: unknown) => told.add((error as Error).message),
      );
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await producer.disconnect();
    // The broker writes its line when it closes the connection.
    await new Promise((resolve) => setTimeout(resolve, 500));
    return {
      errors: lines.filter((l) => l.level === 'error').map((l) => l.message),
      told: [...told],
      acknowledged,
      refusedAtBroker: failedAuthentications() - before,
    };
  }

  it('a wrong password: one error naming the login and the variables, and a few attempts, not one a second', async () => {
    // Act
    const result = await sendsFor({ ...scram, KAFKA_SASL_PASSWORD: 'not-the-password' }, 10_000);

    // Assess: tried at 0, 1, 3 and 7 s
    const cause =
      'Kafka refused the SCRAM-SHA-512 login of user "simple-time-service" (Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512): check KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD';
    expect(result.errors).toEqual([cause]);
    expect(result.told).toContain(cause);
    expect(result.acknowledged).toBe(0);
    expect(result.refusedAtBroker).toBeGreaterThanOrEqual(1);
    expect(result.refusedAtBroker).toBeLessThanOrEqual(4);
  }, 60_000);

  it('an untrusted broker certificate: one error saying so and what to set', async () => {
    // Prepare: the machine's own trust store, where the local CA is not
    const env = { ...scram };
    delete env.KAFKA_SSL_CA_FILE;

    // Act
    const result = await sendsFor(env, 10_000);

    // Assess
    expect(result.errors).toEqual([
      "the broker's TLS certificate is not trusted (self-signed certificate in certificate chain): set KAFKA_SSL_CA_FILE to the CA that signed it",
    ]);
    expect(result.acknowledged).toBe(0);
    // kafkajs tries each connection a few times itself; the producer then backs off.
    expect(result.refusedAtBroker).toBeLessThanOrEqual(16);
  }, 60_000);

  it('no client certificate on the mutual TLS listener: one error naming the variables to set', async () => {
    // Prepare
    const env = { ...tls };
    delete env.KAFKA_SSL_CERT_FILE;
    delete env.KAFKA_SSL_KEY_FILE;

    // Act
    const result = await sendsFor(env, 10_000);

    // Assess
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toMatch(
      /^the broker refused the TLS handshake for want of a client certificate \(.*alert (bad certificate|certificate required)\): set KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE$/,
    );
    expect(result.acknowledged).toBe(0);
    expect(result.refusedAtBroker).toBeLessThanOrEqual(16);
  }, 60_000);
});
