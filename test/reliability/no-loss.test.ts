/**
 * No loss across a broker crash. On a broker of this test's own, `serverless offline`
 * (the HTTP function and the local MSK event source) takes a bounded load of
 * POST /kafka/publish (custom events, each with a unique marker) and GET / (each with a
 * unique x-correlation-id) from a few concurrent clients; a third of the way in, the
 * broker is killed with SIGKILL and started again. Every answer is recorded. Then every
 * event answered 200 must be handled by onCustomEvent (its 'custom event' log line,
 * which carries the event id), and its effect must happen once: redeliveries the consumer
 * suppressed show as 'duplicate record: effect not repeated' and are counted apart.
 *
 * Each publish carries an id of the client's own. A 503 that says the event was not
 * written ('not_sent') must never be consumed; every 503 is then retried with the same id,
 * as the 503 says a client should, and every retried event must be consumed.
 */
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Admin } from 'kafkajs';
import { loadConfig } from '../../src/config';
import { createKafka } from '../../src/kafka';
import { createTopic, uniqueName, uniqueServiceTopics } from '../helpers/kafka';
import { startService } from '../helpers/offline';
import type { Offline } from '../helpers/offline';
import { startPrivateBroker } from '../helpers/private-broker';
import type { PrivateBroker } from '../helpers/private-broker';
import { waitFor } from '../helpers/wait-for';
import type { Answer } from './support';
import { call, countBy, isAcknowledgement, logLines, publishInit, statuses } from './support';

const TOKEN = 'reliability-no-loss-admin-token-0123456789';
const BROKER_PORT = 19192;
const N = 300; // publishes; as many GET / go alongside
const CLIENTS = 4;
const LOAD_TIMEOUT_MS = 240_000;

const topics = uniqueServiceTopics('rel');

const probeBody = (marker: string, i: number, id: string) => ({
  event_type: 'reliability_probe',
  data: { marker, i },
  correlation_id: marker,
  id,
});
const group = uniqueName('rel-group');

/** Whether something accepts connections on 127.0.0.1:port (bounded by 1 s). */
function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, timeout: 1000 });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

describe('no loss across a broker crash (SIGKILL and restart) under load', () => {
  let broker: PrivateBroker;
  let offline: Offline;

  beforeAll(async () => {
    broker = await startPrivateBroker({ port: BROKER_PORT });
    const config = loadConfig({ KAFKA_BROKERS: broker.brokers });
    const admin: Admin = createKafka({ kafka: config.kafka, brokers: config.kafka.brokers, clientId: uniqueName('rel-admin') }).admin();
    await admin.connect();
    for (const topic of Object.values(topics)) await createTopic(admin, topic, 3);
    await admin.disconnect();
    offline = await startService({
      httpPort: 3610,
      lambdaPort: 3612,
      topics,
      group,
      env: { KAFKA_BROKERS: broker.brokers, ADMIN_TOKEN: TOKEN },
    });
  }, 300_000);

  afterAll(async () => {
    await offline?.stop();
    await broker?.destroy();
  }, 120_000);

  it('consumes every acknowledged event exactly once', async () => {
    // Prepare: a warm-up publish, consumed, so the producer and the consumer functions are up
    const warm = await call(
      `${offline.baseUrl}/kafka/publish`,
      publishInit(TOKEN, { event_type: 'reliability_warmup', data: { marker: 'warm' } }),
    );
    expect(warm.status).toBe(200);
    const warmId = String(warm.body?.id);
    await waitFor(() => countBy(logLines(offline), 'custom event', 'event_id').get(warmId), {
      timeoutMs: 60_000,
      what: 'the warm-up event to be consumed',
    });

    // Act: N publishes and N GET / from CLIENTS clients; the broker is killed a third of
    // the way in and restarted; the last third waits (bounded) until the service
    // acknowledges publishes again (the probe that shows it is counted as acknowledged).
    const runId = uniqueName('run');
    const publishes: Array<{ marker: string; id: string; answer: Answer }> = [];
    const gets: Array<{ correlationId: string; answer: Answer }> = [];
    let next = 0;
    let restart: Promise<void> | undefined;
    let recoveryId: string | undefined;
    const deadline = Date.now() + LOAD_TIMEOUT_MS;
    const client = async (): Promise<void> => {
      while (next < N && Date.now() < deadline) {
        const i = next++;
        if (i === Math.floor(N / 3)) {
          // The restart comes once the killed broker is gone and has let go of its port.
          restart = broker
            .kill()
            .then(() =>
              waitFor(async () => ((await portOpen(BROKER_PORT)) ? undefined : true), {
                timeoutMs: 15_000,
                what: 'the killed broker to release its port',
              }),
            )
            .then(() => broker.start())
            // Back means the service acknowledges again (the producer reconnects with back-off).
            .then(() =>
              waitFor(
                async () => {
                  const probe = await call(
                    `${offline.baseUrl}/kafka/publish`,
                    publishInit(TOKEN, { event_type: 'reliability_probe', data: { marker: `${runId}-recovery` } }),
                  );
                  return probe.status === 200 ? probe : undefined;
                },
                { timeoutMs: 60_000, intervalMs: 500, what: '/kafka/publish to answer 200 after the restart' },
              ),
            )
            .then((probe) => {
              recoveryId = String(probe.body?.id);
            });
        }
        if (i >= Math.floor((2 * N) / 3) && restart) await restart;
        const marker = `${runId}-${i}`;
        const id = randomUUID();
        const [published, got] = await Promise.all([
          call(`${offline.baseUrl}/kafka/publish`, publishInit(TOKEN, probeBody(marker, i, id))),
          call(`${offline.baseUrl}/`, { headers: { 'x-correlation-id': `get-${marker}` } }),
        ]);
        publishes.push({ marker, id, answer: published });
        gets.push({ correlationId: `get-${marker}`, answer: got });
      }
    };
    await Promise.all(Array.from({ length: CLIENTS }, client));
    if (restart) await restart;

    const acknowledged = publishes.filter((p) => isAcknowledgement(p.answer));
    const refused = publishes.filter((p) => p.answer.status === 503);
    const ackIds = new Set(acknowledged.map((p) => String(p.answer.body?.id)));
    if (recoveryId) ackIds.add(recoveryId);

    // Assess: every acknowledged event is consumed (bounded wait)
    let consumedCounts = new Map<string, number>();
    await waitFor(
      () => {
        consumedCounts = countBy(logLines(offline), 'custom event', 'event_id', /onCustomEvent/);
        return [...ackIds].every((id) => consumedCounts.has(id)) ? true : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 500, what: 'every acknowledged event to be consumed' },
    ).catch(() => undefined); // the figures below say what is missing
    const lines = logLines(offline);
    consumedCounts = countBy(lines, 'custom event', 'event_id', /onCustomEvent/);
    const suppressed = countBy(lines, 'duplicate record: effect not repeated', 'event_id', /onCustomEvent/);
    const consumed = [...ackIds].filter((id) => consumedCounts.has(id));
    const lost = [...ackIds].filter((id) => !consumedCounts.has(id));
    const twice = [...ackIds].filter((id) => (consumedCounts.get(id) ?? 0) > 1);
    const duplicatesSuppressed = [...ackIds].reduce((sum, id) => sum + (suppressed.get(id) ?? 0), 0);
    // Events answered 503 that reached the broker anyway (timed out after the write): not
    // promised, but consumed once too if they did.
    const markers503 = new Set(refused.map((p) => p.marker));
    const consumedByCorrelation = countBy(lines, 'custom event', 'correlation_id', /onCustomEvent/);
    const refusedButConsumed = [...markers503].filter((m) => consumedByCorrelation.has(m)).length;
    // A 503 that says "not written" must mean it.
    const notSent = refused.filter((p) => p.answer.body?.outcome === 'not_sent');
    const notSentButConsumed = notSent.filter((p) => consumedByCorrelation.has(p.marker)).map((p) => p.id);

    // Act: every 503 retried with the same id, as its answer says
    const retries: Array<{ id: string; answer: Answer }> = [];
    for (const p of refused) {
      retries.push({ id: p.id, answer: await call(`${offline.baseUrl}/kafka/publish`, publishInit(TOKEN, probeBody(p.marker, -1, p.id))) });
    }
    const retriedIds = new Set(retries.map((r) => r.id));
    let afterRetry = new Map<string, number>();
    await waitFor(
      () => {
        afterRetry = countBy(logLines(offline), 'custom event', 'event_id', /onCustomEvent/);
        return [...retriedIds].every((id) => afterRetry.has(id)) ? true : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 500, what: 'every retried event to be consumed' },
    ).catch(() => undefined);
    const retriedLost = [...retriedIds].filter((id) => !afterRetry.has(id));
    const retriedTwice = [...retriedIds].filter((id) => (afterRetry.get(id) ?? 0) > 1);
    const retriedSuppressed = countBy(logLines(offline), 'duplicate record: effect not repeated', 'event_id', /onCustomEvent/);
    const getResponsesConsumed = gets.filter((g) =>
      lines.some((l) => l.message === 'http response' && l.correlation_id === g.correlationId),
    ).length;

    const figures = {
      N: publishes.length,
      publish_statuses: statuses(publishes.map((p) => p.answer)),
      acknowledged: ackIds.size,
      acknowledged_of_n: acknowledged.length,
      refused: refused.length,
      consumed: consumed.length,
      duplicates_suppressed: duplicatesSuppressed,
      effect_twice: twice.length,
      lost: lost.length,
      refused_but_consumed: refusedButConsumed,
      refused_not_sent: notSent.length,
      refused_not_sent_but_consumed: notSentButConsumed.length,
      retried: retries.length,
      retried_statuses: statuses(retries.map((r) => r.answer)),
      retried_lost: retriedLost.length,
      retried_duplicates_suppressed: [...retriedIds].reduce((sum, id) => sum + (retriedSuppressed.get(id) ?? 0), 0),
      retried_effect_twice: retriedTwice.length,
      get_statuses: statuses(gets.map((g) => g.answer)),
      get_max_ms: Math.round(Math.max(...gets.map((g) => g.answer.ms))),
      get_http_response_events_consumed: getResponsesConsumed,
    };
    console.log(`no-loss figures: ${JSON.stringify(figures)}`);
    if (lost.length > 0) console.log(`lost ids: ${lost.slice(0, 20).join(', ')}`);

    expect(publishes).toHaveLength(N);
    expect(acknowledged.length + refused.length).toBe(N); // every publish answered 200 or 503, nothing else
    expect(refused.length).toBeGreaterThan(0); // the crash really happened under load
    expect(acknowledged.length).toBeGreaterThan(0);
    expect(lost).toEqual([]);
    expect(twice).toEqual([]);
    expect(gets).toHaveLength(N);
    expect(gets.every((g) => g.answer.status === 200)).toBe(true);
    expect(notSentButConsumed).toEqual([]);
    expect(retries.every((r) => r.answer.status === 200)).toBe(true);
    expect(retriedLost).toEqual([]);
  }, 420_000);
});
