/**
 * The consumers over SASL_SSL (SCRAM-SHA-512), through the local MSK event source: a broker
 * of this test's own with its SASL_SSL listener (infra/local/stack.sh, LOCAL_KAFKA_SASL=on,
 * ports 26700-26703), and `serverless offline` given only the variables `stack.sh env scram`
 * prints (KAFKA_BROKERS of the SASL_SSL listener, KAFKA_AUTH=scram, the user, its password
 * and the local CA). The HTTP function writes its records over SCRAM and the event source
 * reads them over SCRAM: every consumer function handles the records of its topic.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config';
import { createKafka } from '../../src/kafka';
import { uniqueName, uniqueServiceTopics } from '../helpers/kafka';
import { CONSUMER_LINES, logLines, startService } from '../helpers/offline';
import type { Offline } from '../helpers/offline';
import { startPrivateBroker } from '../helpers/private-broker';
import type { PrivateBroker } from '../helpers/private-broker';
import { waitFor } from '../helpers/wait-for';
import { call, publishInit } from '../reliability/support';

const PORT = 26700;
const HTTP_PORT = 26750;
const LAMBDA_PORT = 26752;
const TOKEN = 'offline-msk-sasl-admin-token-0123456789';

let broker: PrivateBroker;
let offline: Offline | undefined;
let scram: Record<string, string>;
const topics = uniqueServiceTopics('msksasl');
const group = uniqueName('msksasl-group');

beforeAll(async () => {
  broker = await startPrivateBroker({ port: PORT, sasl: true });
  scram = await broker.clientEnv('scram');
  const config = loadConfig({ ...scram });
  const admin = createKafka({ kafka: config.kafka, brokers: config.kafka.brokers, clientId: uniqueName('msksasl-admin') }).admin();
  await admin.connect();
  try {
    await admin.createTopics({ waitForLeaders: true, topics: Object.values(topics).map((topic) => ({ topic, numPartitions: 2 })) });
  } finally {
    await admin.disconnect();
  }
  offline = await startService({ httpPort: HTTP_PORT, lambdaPort: LAMBDA_PORT, topics, group, env: { ...scram, ADMIN_TOKEN: TOKEN } });
}, 300_000);

afterAll(async () => {
  await offline?.stop();
  // The broker, its topics and its consumer groups go with its state folder.
  await broker?.destroy();
}, 120_000);

describe('the local MSK event source over SASL_SSL (SCRAM-SHA-512)', () => {
  it('every consumer function handles the records the HTTP function wrote over SCRAM', async () => {
    // Prepare
    const base = `http://127.0.0.1:${HTTP_PORT}`;
    const marker = uniqueName('msksasl');

    // Act
    const got = await call(`${base}/`, { headers: { 'x-correlation-id': marker } });
    const published = await Promise.all([
      call(`${base}/kafka/publish`, publishInit(TOKEN, { event_type: 'sasl_probe', data: { marker }, correlation_id: marker })),
      call(`${base}/kafka/publish`, publishInit(TOKEN, { event_type: 'error', data: { error_message: marker, error_type: 'SaslProbe', service: 'offline-msk-sasl-test' }, correlation_id: marker })),
      call(`${base}/kafka/publish`, publishInit(TOKEN, { event_type: 'time.now', data: { timezone: 'UTC' }, topic: topics.commands, correlation_id: marker })),
    ]);

    // Assess
    expect(got.status).toBe(200);
    expect(published.map((p) => p.status)).toEqual([200, 200, 200]);
    const running = offline!;
    const missing = () => {
      const lines = logLines(running);
      return CONSUMER_LINES.filter(({ fn, message }) => !lines.some((l) => l.message === message && String(l.function_name).includes(fn)));
    };
    await waitFor(() => (missing().length === 0 ? true : undefined), { timeoutMs: 90_000, intervalMs: 500, what: 'every consumer function to handle a record over SCRAM' }).catch(
      () => undefined,
    );
    expect(missing().map((m) => m.fn)).toEqual([]);
    expect(running.output()).not.toMatch(/SASL Authentication failed|Failed authentication/);
  }, 180_000);
});
