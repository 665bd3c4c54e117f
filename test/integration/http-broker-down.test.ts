/**
 * The HTTP function with Kafka gone and back, on a broker of this test's own: while the
 * broker is down, GET / still answers 200 within 1.5 s, /kafka/publish answers 503 and
 * /healthz 200; once it is back, events flow again through the same `serverless offline`
 * process, with no restart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config';
import { createKafka } from '../../src/kafka';
import { uniqueName } from '../helpers/kafka';
import { startOffline } from '../helpers/offline';
import type { Offline } from '../helpers/offline';
import { startPrivateBroker } from '../helpers/private-broker';
import type { PrivateBroker } from '../helpers/private-broker';
import { waitFor } from '../helpers/wait-for';

const TOKEN = 'broker-down-admin-token-0123456789';
const PORT = 19092;

describe('HTTP function when the broker stops and restarts', () => {
  let broker: PrivateBroker;
  let offline: Offline;

  beforeAll(async () => {
    broker = await startPrivateBroker({ port: PORT });
    offline = await startOffline({
      httpPort: 3310,
      lambdaPort: 3312,
      env: { KAFKA_BROKERS: broker.brokers, ADMIN_TOKEN: TOKEN },
    });
  }, 180_000);

  afterAll(async () => {
    await offline?.stop();
    await broker?.destroy();
  }, 120_000);

  const get = async (route: string) => {
    const t0 = performance.now();
    const response = await fetch(`${offline.baseUrl}${route}`, { signal: AbortSignal.timeout(10_000) });
    await response.arrayBuffer();
    return { status: response.status, ms: performance.now() - t0 };
  };
  const publish = async (marker: string) => {
    const response = await fetch(`${offline.baseUrl}/kafka/publish`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ event_type: 'broker_probe', data: { marker } }),
      signal: AbortSignal.timeout(10_000),
    });
    return { status: response.status, body: (await response.json()) as { topic?: string; offset?: string } };
  };

  it('degrades while Kafka is down and recovers without a restart', async () => {
    // Prepare: everything works, and the producer is connected
    expect((await publish('before')).status).toBe(200);

    // Act: crash the broker
    await broker.kill();
    const down = [];
    for (let i = 0; i < 5; i++) down.push(await get('/'));
    const healthz = await get('/healthz');
    const refused = await publish('while-down');

    // Assess: degraded, not broken
    console.log(`GET / while the broker is down: ${down.map((d) => `${d.status} in ${d.ms.toFixed(0)} ms`).join(', ')}`);
    for (const d of down) {
      expect(d.status).toBe(200);
      expect(d.ms).toBeLessThan(1500); // the contract: bounded by the producer's timeout
    }
    expect(healthz.status).toBe(200);
    expect(refused.status).toBe(503);

    // Act: the broker comes back
    await broker.start();

    // Assess: the same offline process publishes again (a few attempts while it reconnects)
    const accepted = await waitFor(
      async () => {
        const result = await publish('after');
        return result.status === 200 ? result : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500, what: '/kafka/publish to answer 200 after the restart' },
    );
    expect(accepted.body.offset).toBeDefined();
    const after = await get('/');
    expect(after.status).toBe(200);

    // And what was acknowledged is really on the broker.
    const config = loadConfig({ KAFKA_BROKERS: broker.brokers });
    const admin = createKafka({ kafka: config.kafka, brokers: config.kafka.brokers, clientId: uniqueName('probe') }).admin();
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets(config.kafka.topics.events);
    await admin.disconnect();
    const total = offsets.reduce((sum, p) => sum + Number(p.high), 0);
    expect(total).toBeGreaterThanOrEqual(2); // 'before' and 'after', plus the GET / events that got through
  });
});
