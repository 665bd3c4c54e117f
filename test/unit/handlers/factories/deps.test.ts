/**
 * kafka_messages_sent_total and kafka_message_size_bytes mean the same in every function:
 * the HTTP function and the consumer functions hand the container producer the same send
 * observer. Each handler module is loaded with the shared producer replaced by a stub that
 * keeps the observer it was given; the same outcomes are then fed to both.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { SendObserver } from '../../../../src/kafka/producer';
import type { ServiceMetrics } from '../../../../src/metrics';
import { httpEvent, lambdaContext, scheduledEvent } from '../../../helpers/lambda';

const observers: SendObserver[] = [];

vi.mock('../../../../src/kafka/container', () => ({
  containerKafka: () => Promise.reject(new Error('not used')),
  containerProducer: (params: { onSend?: SendObserver }) => {
    if (params.onSend) observers.push(params.onSend);
    return {
      send: () => Promise.resolve([]),
      connect: () => Promise.resolve(true),
      flush: () => Promise.resolve({ settled: 0 }),
      disconnect: () => Promise.resolve(),
      state: () => ({ status: 'idle', connects: 0, sent: 0, failed: 0, inFlight: 0, lastError: undefined, lastErrorAt: undefined }),
    };
  },
}));

async function sizeObservations(metrics: ServiceMetrics): Promise<number> {
  const { values } = await metrics.kafkaMessageSize.get();
  return values.filter((v) => v.metricName === 'kafka_message_size_bytes_count').reduce((sum, v) => sum + v.value, 0);
}

async function sentByStatus(metrics: ServiceMetrics): Promise<Record<string, number>> {
  const { values } = await metrics.kafkaMessagesSent.get();
  const out: Record<string, number> = {};
  for (const v of values) out[String(v.labels.status)] = (out[String(v.labels.status)] ?? 0) + v.value;
  return out;
}

const outcomes = [
  { topic: 't', status: 'success' as const, bytes: 100 },
  { topic: 't', status: 'error' as const, bytes: 200 },
  { topic: 't', status: 'error' as const, bytes: 300 },
];

describe('send metrics: one definition for every function', () => {
  afterEach(() => {
    observers.length = 0;
    vi.resetModules();
  });

  it('the HTTP function and a consumer function record the same sends the same way', async () => {
    // Prepare: the HTTP function's observer and its container metrics
    process.env.LOG_LEVEL = 'SILENT';
    vi.resetModules();
    await import('../../../../handlers/http.js');
    const { containerMetrics } = await import('../../../../src/metrics/index.js');
    const { createMetrics } = await import('../../../../src/metrics/container-metrics.js');
    const { getConfig, loadConfig } = await import('../../../../src/config.js');
    const httpMetrics = containerMetrics(getConfig());
    const httpObserver = observers.pop();
    // ... and a consumer function's, with metrics of its own
    const { createConsumerHandler } = await import('../../../../handlers/factories/consumer.js');
    const { defaultDeps } = await import('../../../../handlers/factories/deps.js');
    const consumerMetrics = createMetrics();
    createConsumerHandler('onCustomEvent', defaultDeps({ config: loadConfig({ LOG_LEVEL: 'SILENT' }), metrics: consumerMetrics }), {
      build: () => ({ name: 'onCustomEvent', processRecords: () => Promise.resolve({ outcomes: [], failed: [] }) }),
    });
    const consumerObserver = observers.pop();
    delete process.env.LOG_LEVEL;
    if (!httpObserver || !consumerObserver) throw new Error('a handler did not hand the producer a send observer');

    // Act
    for (const outcome of outcomes) {
      httpObserver(outcome);
      consumerObserver(outcome);
    }

    // Assess: sizes are of acknowledged records only, outcomes counted by status, in both
    expect(await sizeObservations(httpMetrics)).toBe(1);
    expect(await sizeObservations(consumerMetrics)).toBe(1);
    expect(await sentByStatus(httpMetrics)).toEqual({ success: 1, error: 2 });
    expect(await sentByStatus(consumerMetrics)).toEqual({ success: 1, error: 2 });
  });
});

describe('a function that cannot start (its configuration refused)', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
    vi.resetModules();
  });

  it('answers an HTTP request 500 {"message":"Internal Server Error"} as API Gateway does, fails any other invocation, and logs why once', async () => {
    // Prepare: KAFKA_SEND_TIMEOUT_MS beyond what src/config.ts accepts
    vi.stubEnv('KAFKA_SEND_TIMEOUT_MS', '3000000000');
    const written: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => written.push(String(chunk)) > 0);
    vi.resetModules();

    // Act
    const { handler: http } = await import('../../../../handlers/http.js');
    const { handler: metrics } = await import('../../../../handlers/metrics.js');
    const first = await http(httpEvent('GET /healthz'), lambdaContext('http'));
    const second = await http(httpEvent('POST /kafka/publish'), lambdaContext('http'));
    const scheduled = metrics(scheduledEvent(), lambdaContext('metrics'));

    // Assess
    for (const answer of [first, second]) {
      expect(answer).toEqual({
        statusCode: 500,
        headers: { 'content-type': 'application/json' },
        body: '{"message":"Internal Server Error"}',
      });
    }
    await expect(scheduled).rejects.toThrow(
      'the function could not start: invalid configuration: KAFKA_SEND_TIMEOUT_MS: Too big: expected number to be <=30000',
    );
    const reasons = written.filter((line) => line.includes('KAFKA_SEND_TIMEOUT_MS'));
    expect(reasons).toHaveLength(2);
    expect(JSON.parse(reasons[0]!)).toMatchObject({
      level: 'ERROR',
      message: 'the function could not start; every invocation fails until this is fixed',
    });
    expect(reasons.join('')).not.toMatch(/\bat \S+ \(|\.ts:\d+/);
  });
});
