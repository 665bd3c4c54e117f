/**
 * The Pushgateway unreachable (PUSHGATEWAY_URL on a closed port): every function run by
 * `serverless offline` still succeeds. The HTTP routes answer as usual, the consumer
 * functions still consume (their log lines), each function logs its failed push, and
 * GET /metrics answers 503 (bounded) instead of hanging. Kafka down is covered by
 * test/integration/http-broker-down.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSUMER_FUNCTIONS } from '../../src/consumers/functions';
import type { Admin } from 'kafkajs';
import { createTopic, testKafka, uniqueName, uniqueServiceTopics } from '../helpers/kafka';
import { startService } from '../helpers/offline';
import type { Offline } from '../helpers/offline';
import { waitFor } from '../helpers/wait-for';
import { call, logLines, publishInit } from './support';
import { closedPort } from '../helpers/net';

const TOKEN = 'reliability-degraded-admin-token-0123456789';
const topics = uniqueServiceTopics('deg');
const group = uniqueName('deg-group');

/** A port nothing listens on: bound by the OS, then released. */
describe('every function still succeeds with the Pushgateway unreachable', () => {
  let admin: Admin;
  let offline: Offline;
  let pushgatewayUrl: string;

  beforeAll(async () => {
    admin = testKafka('sts-degraded-admin').admin();
    await admin.connect();
    for (const topic of Object.values(topics)) await createTopic(admin, topic, 3);
    pushgatewayUrl = `http://127.0.0.1:${await closedPort()}`;
    offline = await startService({
      httpPort: 3600,
      lambdaPort: 3602,
      topics,
      group,
      env: { PUSHGATEWAY_URL: pushgatewayUrl, ADMIN_TOKEN: TOKEN },
    });
  }, 240_000);

  afterAll(async () => {
    await offline?.stop();
    await admin?.disconnect();
  }, 60_000);

  const logged = (message: string, correlationId: string, fn: string) => () =>
    logLines(offline).find((l) => l.message === message && l.correlation_id === correlationId && String(l.function_name).includes(fn));

  it('answers every HTTP route and runs every consumer function', async () => {
    // Prepare
    const correlationId = uniqueName('deg');
    const base = offline.baseUrl;

    // Act: every HTTP route, and events for each consumer function
    const time = await call(`${base}/`, { headers: { 'x-correlation-id': correlationId } });
    const healthz = await call(`${base}/healthz`);
    const status = await call(`${base}/kafka/status`);
    const custom = await call(
      `${base}/kafka/publish`,
      publishInit(TOKEN, { event_type: 'degraded_probe', data: { marker: correlationId }, correlation_id: correlationId }),
    );
    const command = await call(
      `${base}/kafka/publish`,
      publishInit(TOKEN, {
        event_type: 'time.now',
        topic: topics.commands,
        data: { timezone: 'UTC' },
        correlation_id: `${correlationId}-cmd`,
      }),
    );
    const error = await call(
      `${base}/kafka/publish`,
      publishInit(TOKEN, {
        event_type: 'error',
        data: { error_message: 'probe', error_type: 'DegradedProbe', service: 'reliability-test' },
        correlation_id: `${correlationId}-err`,
      }),
    );
    const flush = await call(`${base}/kafka/flush`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });

    // Assess: the HTTP function succeeded on every route
    expect(time.status).toBe(200);
    expect(healthz.status).toBe(200);
    expect(status.status).toBe(200);
    expect(custom.status).toBe(200);
    expect(command.status).toBe(200);
    expect(error.status).toBe(200);
    expect(flush.status).toBe(200);

    // Assess: each consumer function handled its event (its own log line)
    const wait = { timeoutMs: 60_000, intervalMs: 200 };
    await waitFor(logged('http request', correlationId, 'onHttpRequest'), { ...wait, what: 'onHttpRequest' });
    await waitFor(logged('http response', correlationId, 'onHttpResponse'), { ...wait, what: 'onHttpResponse' });
    await waitFor(logged('custom event', correlationId, 'onCustomEvent'), { ...wait, what: 'onCustomEvent' });
    await waitFor(logged('error event', `${correlationId}-err`, 'onError'), { ...wait, what: 'onError' });
    // onCommand answers time.now.processed on the events topic, which onCustomEvent logs
    const answer = await waitFor(logged('custom event', `${correlationId}-cmd`, 'onCustomEvent'), {
      ...wait,
      what: 'the answer to the command',
    });
    expect(answer.event_type).toBe('time.now.processed');

    // Assess: the pushes did fail, and were only logged. A push runs in the middleware's
    // `after`, just after the handler's own log line, so its line is waited for too.
    const expected = ['http', ...CONSUMER_FUNCTIONS.map((fn) => fn.name)];
    const functionsWithFailedPush = () =>
      new Set(
        logLines(offline)
          .filter((l) => l.message === 'metrics push failed')
          .map((l) => String(l.function_name).replace(/^.*-/, '')),
      );
    const functions = await waitFor(
      () => {
        const seen = functionsWithFailedPush();
        return expected.every((fn) => seen.has(fn)) ? seen : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 100, what: `'metrics push failed' from ${expected.join(', ')}` },
    );
    console.log(`'metrics push failed' logged by: ${[...functions].join(', ')}`);
    expect(offline.output()).not.toMatch(/"level":"ERROR"[^\n]*"message":"unhandled failure"/);
  });

  it('answers GET /metrics with 503 rather than hanging', async () => {
    // Act
    const metrics = await call(`${offline.baseUrl}/metrics`, {}, 15_000);

    // Assess
    console.log(`GET /metrics with the Pushgateway unreachable: ${metrics.status} in ${metrics.ms.toFixed(0)} ms`);
    expect(metrics.status).toBe(503);
  });
});
