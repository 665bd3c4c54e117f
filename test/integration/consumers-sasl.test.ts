/**
 * The consumers over SASL_SSL (SCRAM-SHA-512) and over mutual TLS, through the local MSK
 * event source: a broker of this test's own with its SASL_SSL and SSL listeners
 * (infra/local/stack.sh, LOCAL_KAFKA_SASL=on, ports 27000-27003), and `serverless offline`
 * given only the variables `stack.sh env scram` (or `env tls`) prints: KAFKA_BROKERS of
 * that listener, KAFKA_AUTH, the SCRAM user and password or the client certificate and
 * key, and the local CA. The HTTP function writes its records that way and the event
 * source reads them that way: every consumer function handles the records of its topic.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSUMER_FUNCTIONS } from '../../src/consumers/functions';
import { readMappings, readPluginOptions } from '../../infra/offline-msk/src/options';
import type { ServiceLike } from '../../infra/offline-msk/src/options';
import { runMappings } from '../../infra/offline-msk/src/sources';
import { loadConfig } from '../../src/config';
import { createKafka } from '../../src/kafka';
import { uniqueName, uniqueServiceTopics } from '../helpers/kafka';
import { CONSUMER_LINES, logLines, startService } from '../helpers/offline';
import type { Offline } from '../helpers/offline';
import { startPrivateBroker } from '../helpers/private-broker';
import type { ClientAuth, PrivateBroker } from '../helpers/private-broker';
import { waitFor } from '../helpers/wait-for';
import { call, publishInit } from '../reliability/support';

const PORT = 27000;
const TOKEN = 'offline-msk-sasl-admin-token-0123456789';
/**
 * How long a request may take: the three publishes arrive together, so serverless offline
 * starts a container for each (a cold start, then a TLS or SCRAM connection to the broker)
 * before the function's own 10 s; with other files running beside this one, that is more
 * than the 10 s call() allows by default.
 */
const RESPONSE_BOUND_MS = 30_000;

let broker: PrivateBroker;
const topics = uniqueServiceTopics('msksasl');

beforeAll(async () => {
  broker = await startPrivateBroker({ port: PORT, sasl: true });
  const config = loadConfig({ ...(await broker.clientEnv('scram')) });
  const admin = createKafka({ kafka: config.kafka, brokers: config.kafka.brokers, clientId: uniqueName('msksasl-admin') }).admin();
  await admin.connect();
  try {
    await admin.createTopics({ waitForLeaders: true, topics: Object.values(topics).map((topic) => ({ topic, numPartitions: 2 })) });
  } finally {
    await admin.disconnect();
  }
}, 300_000);

afterAll(async () => {
  // The broker, its topics and its consumer groups go with its state folder.
  await broker?.destroy();
}, 120_000);

/** `serverless offline` over one listener: the HTTP function writes a record per consumer, and every consumer handles its own. */
function throughTheEventSource(auth: Exclude<ClientAuth, 'none'>, ports: { http: number; lambda: number }, connectsAs: string): void {
  let offline: Offline | undefined;

  beforeAll(async () => {
    const env = await broker.clientEnv(auth);
    offline = await startService({
      httpPort: ports.http,
      lambdaPort: ports.lambda,
      topics,
      group: uniqueName(`msk${auth}-group`),
      env: { ...env, ADMIN_TOKEN: TOKEN },
    });
  }, 300_000);

  afterAll(async () => {
    await offline?.stop();
  }, 60_000);

  it(`every consumer function handles the records the HTTP function wrote over ${auth}`, async () => {
    // Prepare
    const base = `http://127.0.0.1:${ports.http}`;
    const marker = uniqueName(`msk${auth}`);

    // Act
    const got = await call(`${base}/`, { headers: { 'x-correlation-id': marker } }, RESPONSE_BOUND_MS);
    const published = await Promise.all([
      call(
        `${base}/kafka/publish`,
        publishInit(TOKEN, { event_type: 'sasl_probe', data: { marker }, correlation_id: marker }),
        RESPONSE_BOUND_MS,
      ),
      call(
        `${base}/kafka/publish`,
        publishInit(TOKEN, {
          event_type: 'error',
          data: { error_message: marker, error_type: 'SaslProbe', service: 'offline-msk-sasl-test' },
          correlation_id: marker,
        }),
        RESPONSE_BOUND_MS,
      ),
      call(
        `${base}/kafka/publish`,
        publishInit(TOKEN, { event_type: 'time.now', data: { timezone: 'UTC' }, topic: topics.commands, correlation_id: marker }),
        RESPONSE_BOUND_MS,
      ),
    ]);

    // Assess
    expect(got.status).toBe(200);
    expect(published.map((p) => p.status)).toEqual([200, 200, 200]);
    const running = offline!;
    // Each consumer function's mapping says how it connects.
    expect(running.output().split(connectsAs).length - 1).toBe(CONSUMER_FUNCTIONS.length);
    const missing = () => {
      const lines = logLines(running);
      return CONSUMER_LINES.filter(({ fn, message }) => !lines.some((l) => l.message === message && String(l.function_name).includes(fn)));
    };
    await waitFor(() => (missing().length === 0 ? true : undefined), {
      timeoutMs: 90_000,
      intervalMs: 500,
      what: `every consumer function to handle a record over ${auth}`,
    }).catch(() => undefined);
    expect(missing().map((m) => m.fn)).toEqual([]);
    expect(running.output()).not.toMatch(
      /SASL Authentication failed|Failed authentication|unable to verify|self[- ]signed certificate|certificate required/i,
    );
  }, 180_000);
}

describe('the local MSK event source over SASL_SSL (SCRAM-SHA-512)', () => {
  throughTheEventSource('scram', { http: 27050, lambda: 27052 }, 'SASL_SSL scram-sha-512, private CA');
});

describe('the local MSK event source over mutual TLS', () => {
  throughTheEventSource('tls', { http: 27060, lambda: 27062 }, 'SSL private CA, client certificate');
});

describe('the local MSK event source refuses what the broker refuses, once, with the cause', () => {
  /** The plugin's own start (no serverless) of one mapping that reads the requests topic, as `offlineMsk` says. */
  async function startWith(offlineMsk: Record<string, unknown>): Promise<{ error: string; ms: number; lines: string[] }> {
    const service: ServiceLike = {
      service: 'sasl-probe',
      provider: { region: 'us-east-1', stage: 'local' },
      custom: { offlineMsk },
      getAllFunctions: () => ['probe'],
      getFunction: () => ({
        events: [
          {
            kafka: {
              topic: topics.requests,
              consumerGroupId: uniqueName('msksasl-refused'),
              bootstrapServers: ['x:1'],
              accessConfigurations: { saslScram512Auth: ['arn:aws:secretsmanager:us-east-1:123456789012:secret:AmazonMSK_local'] },
            },
          },
        ],
      }),
    };
    const lines: string[] = [];
    const log = {
      debug: () => undefined,
      info: (m: string) => lines.push(m),
      notice: (m: string) => lines.push(m),
      warning: (m: string) => lines.push(m),
      error: (m: string) => lines.push(m),
    };
    const options = readPluginOptions(service, {});
    const started = Date.now();
    try {
      const running = await runMappings({
        mappings: readMappings(service, options),
        options,
        log,
        invoke: () => Promise.resolve({ ok: true, payload: null }),
      });
      await running.stop();
      return { error: 'started', ms: Date.now() - started, lines };
    } catch (error) {
      const refused = { error: (error as Error).message, ms: Date.now() - started, lines };
      console.log(`offline-msk refused: ${JSON.stringify(refused)}`);
      return refused;
    }
  }

  it('a wrong password: the start fails naming SASL authentication', async () => {
    const scram = await broker.clientEnv('scram');

    const { error } = await startWith({
      brokers: scram.KAFKA_BROKERS,
      ssl: { caFile: scram.KAFKA_SSL_CA_FILE },
      sasl: { username: scram.KAFKA_SASL_USERNAME, password: 'not-the-password' },
    });

    expect(error).toMatch(/could not start:\n\s+sasl-probe-local-probe: SASL SCRAM SHA512 authentication failed/);
  }, 120_000);

  it('an untrusted broker certificate (no CA given): the start fails naming the certificate', async () => {
    const scram = await broker.clientEnv('scram');

    const { error } = await startWith({
      brokers: scram.KAFKA_BROKERS,
      sasl: { username: scram.KAFKA_SASL_USERNAME, password: scram.KAFKA_SASL_PASSWORD },
    });

    expect(error).toMatch(/could not start:\n\s+sasl-probe-local-probe: .*certificate/);
  }, 120_000);
});
