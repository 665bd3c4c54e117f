/**
 * End to end through `serverless offline` with the project's serverless.yml and its local
 * MSK event source, against the real broker: GET / is followed by the http_request and
 * http_response consumer functions; a command written by an independent client (kcat) in
 * the plain command shape is answered on the events topic with the same correlation id; a poison
 * record lands in the dead-letter topic and the record after it is still handled; a publish
 * retried with the same id is handled once.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Admin } from 'kafkajs';
import { parseEnvelope } from '../../src/events';
import { createTopic, startReader, testKafka, uniqueName, uniqueServiceTopics } from '../helpers/kafka';
import { logLines, startService } from '../helpers/offline';
import type { Offline } from '../helpers/offline';
import { waitFor } from '../helpers/wait-for';

const topics = uniqueServiceTopics('e2e');
const group = uniqueName('e2e-group');
const TOKEN = 'e2e-admin-token-0123456789';

describe('end to end through serverless offline and the local MSK event source', () => {
  let admin: Admin;
  let offline: Offline;
  let reader: Awaited<ReturnType<typeof startReader>>;

  beforeAll(async () => {
    admin = testKafka('sts-e2e-admin').admin();
    await admin.connect();
    for (const topic of Object.values(topics)) await createTopic(admin, topic, 3);
    reader = await startReader(testKafka('sts-e2e-reader'), [topics.events, topics.dlq]);
    offline = await startService({ httpPort: 3320, lambdaPort: 3322, topics, group, env: { ADMIN_TOKEN: TOKEN } });
  }, 180_000);

  afterAll(async () => {
    await offline?.stop();
    await reader?.stop();
    await admin?.disconnect();
  }, 60_000);

  const handled = (message: string, correlationId: string) => () =>
    logLines(offline).find((l) => l.message === message && l.correlation_id === correlationId);

  async function getTime(correlationId: string): Promise<number> {
    const response = await fetch(`${offline.baseUrl}/`, {
      headers: { 'x-correlation-id': correlationId },
      signal: AbortSignal.timeout(10_000),
    });
    expect(response.status).toBe(200);
    return performance.now();
  }

  it('runs the http_request and http_response consumer functions after GET /', async () => {
    // Prepare: a first request warms the consumer functions up (cold start, group join)
    const warmUp = uniqueName('warm');
    await getTime(warmUp);
    await waitFor(handled('http response', warmUp), { timeoutMs: 60_000, what: 'the warm-up request to be consumed' });

    // Act
    const correlationId = uniqueName('e2e');
    const answeredAt = await getTime(correlationId);

    // Assess: both consumer functions logged it within 2 s (maximumBatchingWindow 0)
    const request = await waitFor(handled('http request', correlationId), { timeoutMs: 2000, what: 'onHttpRequest to log the request' });
    const response = await waitFor(handled('http response', correlationId), {
      timeoutMs: 2000,
      what: 'onHttpResponse to log the response',
    });
    console.log(`consumed ${(performance.now() - answeredAt).toFixed(0)} ms after GET / answered`);
    expect(request).toMatchObject({ caller: '127.0.0.1', method: 'GET', endpoint: '/' });
    expect(request.function_name).toMatch(/onHttpRequest/);
    expect(response.function_name).toMatch(/onHttpResponse/);
  });

  it('answers a command in the plain shape written by kcat on the events topic with the same correlation id and key', async () => {
    // Prepare
    const correlationId = uniqueName('cmd');
    const command = JSON.stringify({
      type: 'time.now',
      correlation_id: correlationId,
      timestamp: new Date().toISOString(),
      payload: { timezone: 'Asia/Tokyo', format: 'iso' },
      source: 'kcat',
    });

    // Act: an independent client (librdkafka's kcat), not this project's code
    execFileSync('kcat', ['-P', '-b', '127.0.0.1:9092', '-t', topics.commands, '-k', `key-${correlationId}`], {
      input: command,
      timeout: 15_000,
    });

    // Assess
    const [answer] = await reader.waitForRecords((r) => r.topic === topics.events && r.headers.correlation_id === correlationId, 1, 30_000);
    const event = parseEnvelope(JSON.parse(answer!.value!.toString()));
    expect(event.event_type).toBe('time.now.processed');
    expect(event.correlation_id).toBe(correlationId);
    expect(answer?.key).toBe(`key-${correlationId}`);
    expect(JSON.stringify(event.data)).toContain('+09:00');
  });

  it('dead-letters a poison record and still handles the one after it on the same partition', async () => {
    // Prepare: both on partition 0 of the commands topic
    const producer = testKafka('sts-e2e-producer').producer();
    await producer.connect();
    const correlationId = uniqueName('after-poison');
    const poison = Buffer.from([0xff, 0xfe, 0x00, 0x7b, 0x22]);

    // Act
    await producer.send({
      topic: topics.commands,
      messages: [
        { partition: 0, key: 'poison', value: poison },
        {
          partition: 0,
          key: 'good',
          value: JSON.stringify({
            type: 'time.now',
            correlation_id: correlationId,
            payload: {},
            source: 'e2e',
            timestamp: new Date().toISOString(),
          }),
        },
      ],
    });
    await producer.disconnect();

    // Assess
    const [dead] = await reader.waitForRecords((r) => r.topic === topics.dlq && r.key === 'poison', 1, 30_000);
    expect(dead?.value?.equals(poison)).toBe(true);
    expect(dead?.headers['dlq.reason']).toEqual(expect.any(String) as unknown);
    expect(dead?.headers['dlq.source.topic']).toBe(topics.commands);
    expect(dead?.headers['dlq.source.partition']).toBe('0');
    await reader.waitForRecords((r) => r.topic === topics.events && r.headers.correlation_id === correlationId, 1, 30_000);
  });

  it('handles a publish retried with the same id once: the second copy is dropped as a duplicate', async () => {
    // Prepare: a client whose first answer was lost retries with the id it chose
    const id = randomUUID();
    const correlationId = uniqueName('retry');
    const publish = () =>
      fetch(`${offline.baseUrl}/kafka/publish`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ event_type: 'retried_event', data: { n: 1 }, id, correlation_id: correlationId }),
        signal: AbortSignal.timeout(10_000),
      });

    // Act
    const first = await publish();
    const retry = await publish();

    // Assess: both written (same id, same partition), handled once, the second logged as a duplicate
    expect([first.status, retry.status]).toEqual([200, 200]);
    const [a, b] = (await Promise.all([first.json(), retry.json()])) as Array<{ id: string; partition: number }>;
    expect([a?.id, b?.id]).toEqual([id, id]);
    expect(b?.partition).toBe(a?.partition);
    await waitFor(() => logLines(offline).find((l) => l.message === 'duplicate record: effect not repeated' && l.event_id === id), {
      timeoutMs: 30_000,
      what: 'onCustomEvent to drop the second copy',
    });
    expect(logLines(offline).filter((l) => l.message === 'custom event' && l.event_id === id)).toHaveLength(1);
  });
});
