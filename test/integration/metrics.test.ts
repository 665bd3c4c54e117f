/**
 * The metrics pipeline against the real local Pushgateway: containers push into groups of
 * their own, GET /metrics sums them, stale groups are pruned, and an unreachable
 * Pushgateway never fails an invocation. Each test uses its own job (SERVICE_NAME), so
 * nothing here sees another test's groups.
 */
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultDeps } from '../../handlers/factories/deps';
import type { HandlerDeps } from '../../handlers/factories/deps';
import { createMetricsHandler } from '../../handlers/factories/metrics';
import type { ScheduledRunReport } from '../../src/use-cases';
import { pushMetrics } from '../../handlers/middleware/push-metrics';
import { loadConfig } from '../../src/config';
import type { Config } from '../../src/config';
import { withOffsetReader } from '../../src/kafka/offsets';
import { stageLabel } from '../../src/metrics';
import { createMetrics } from '../../src/metrics/container-metrics';
import { createMetricsPusher } from '@simple-time-service/fleet-metrics';
import { deleteGroup, fetchGroups } from '@simple-time-service/fleet-metrics';
import { testConfig, testKafka, uniqueName } from '../helpers/kafka';
import { httpEvent, lambdaContext as context, scheduledEvent } from '../helpers/lambda';
import { waitFor } from '../helpers/wait-for';
import { closedPort } from '../helpers/net';
import { sumSamples } from './metrics-support';

type Result = APIGatewayProxyStructuredResultV2;
const pushgatewayUrl = testConfig.pushgateway.url;

/** One simulated container of the HTTP function: its own registry, pusher and handler. */
function container(params: {
  job: string;
  instance: string;
  url?: string;
  intervalMs?: number;
  now?: () => number;
  flushBetweenInvocations?: boolean;
}) {
  const metrics = createMetrics();
  const warnings: unknown[] = [];
  const options: Parameters<typeof createMetricsPusher>[0] = {
    metrics,
    url: params.url ?? pushgatewayUrl,
    grouping: { job: params.job, stage: stageLabel('local'), function: 'http', instance: params.instance },
    timeoutMs: 300,
    intervalMs: params.intervalMs ?? 0,
    logger: { warn: (_m: string, extra?: unknown) => warnings.push(extra), info: () => undefined },
  };
  if (params.now) options.now = params.now;
  if (params.flushBetweenInvocations) options.flushBetweenInvocations = true;
  const pusher = createMetricsPusher(options);
  const handler = middy<APIGatewayProxyEventV2, Result>()
    .use(pushMetrics({ metrics, pusher, recordHttp: true }))
    .handler(() => Promise.resolve({ statusCode: 200, body: '{}' }));
  return { metrics, pusher, handler, warnings, invoke: () => handler(httpEvent('GET /'), context('http')) };
}

function serviceConfig(job: string, extra: Record<string, string> = {}): Config {
  return loadConfig({
    ...process.env,
    KAFKA_BROKERS: testConfig.kafka.brokers.join(','),
    PUSHGATEWAY_URL: pushgatewayUrl,
    SERVICE_NAME: job,
    AWS_LAMBDA_FUNCTION_NAME: 'metrics',
    LOG_LEVEL: 'SILENT',
    ...extra,
  });
}

const jobs: string[] = [];
function newJob(): string {
  const job = uniqueName('sts-metrics');
  jobs.push(job);
  return job;
}

describe('metrics through the real Pushgateway', () => {
  const kafka = testKafka('sts-metrics-test');

  afterAll(async () => {
    // Leave the shared Pushgateway as it was.
    for (const job of jobs) {
      for (const group of await fetchGroups({ url: pushgatewayUrl, timeoutMs: 2000, job })) {
        await deleteGroup({ url: pushgatewayUrl, timeoutMs: 2000, labels: group.labels });
      }
    }
  });

  let metricsHandlerFor: (config: Config, extra?: { nowSeconds?: () => number }) => ReturnType<typeof createMetricsHandler>;
  beforeAll(() => {
    metricsHandlerFor = (config, extra = {}) => {
      const deps: Partial<HandlerDeps> = {
        config,
        metrics: createMetrics(),
        withOffsets: (use) => withOffsetReader(kafka, use),
      };
      const { nowSeconds } = extra;
      if (nowSeconds) deps.now = () => nowSeconds() * 1000;
      return createMetricsHandler(defaultDeps(deps));
    };
  });

  it('keeps both containers of one function, each in its own group', async () => {
    // Prepare
    const job = newJob();
    const a = container({ job, instance: 'container-a' });
    const b = container({ job, instance: 'container-b' });
    // Act
    for (let i = 0; i < 3; i++) await a.invoke();
    for (let i = 0; i < 2; i++) await b.invoke();
    // Assess
    const groups = await fetchGroups({ url: pushgatewayUrl, timeoutMs: 2000, job });
    const requests = Object.fromEntries(
      groups.map(
        (g) => [String(g.labels.instance), Number(g.families.find((f) => f.name === 'http_requests_total')?.samples[0]?.value)] as const,
      ),
    );
    expect(requests).toEqual({ 'container-a': 3, 'container-b': 2 });
    expect(groups.every((g) => g.labels.function === 'http')).toBe(true);
  });

  it('GET /metrics shows the sum of the containers per function, without the instance label', async () => {
    // Prepare
    const job = newJob();
    const a = container({ job, instance: 'container-a' });
    const b = container({ job, instance: 'container-b' });
    for (let i = 0; i < 4; i++) await a.invoke();
    for (let i = 0; i < 3; i++) await b.invoke();
    const handler = metricsHandlerFor(serviceConfig(job));
    // Act
    const response = (await handler(httpEvent('GET /metrics'), context('metrics'))) as Result;
    // Assess
    expect(response.statusCode).toBe(200);
    expect(String(response.headers?.['content-type'])).toContain('text/plain; version=0.0.4');
    const body = String(response.body);
    const labels = { job, function: 'http', route: '/', method: 'GET', status: '200' };
    expect(sumSamples(body, 'http_requests_total', labels)).toBe(7);
    expect(body.split('\n').filter((l) => l.startsWith('http_requests_total{'))).toHaveLength(1);
    expect(sumSamples(body, 'http_request_duration_seconds_count', { job, function: 'http' })).toBe(7);
    expect(body).not.toMatch(/instance="container-/);
  });

  it('GET /metrics writes samples as the Prometheus text format does: plain integers in le, large floats, escaped labels', async () => {
    // Prepare
    const job = newJob();
    const a = container({ job, instance: 'container-a' });
    a.metrics.kafkaMessageSize.observe({ topic: 'big' }, 2_000_000);
    a.metrics.kafkaMessageSize.observe({ topic: 'big' }, 1e21);
    a.metrics.httpRequests.inc({ route: 'a"b\\c\nd', method: 'GET', status: '200' });
    await a.invoke();
    const handler = metricsHandlerFor(serviceConfig(job));
    // Act
    const body = String(((await handler(httpEvent('GET /metrics'), context('metrics'))) as Result).body);
    // Assess
    const lines = body.split('\n');
    const big = (suffix: string) => lines.find((l) => l.startsWith(`kafka_message_size_bytes_${suffix}{`) && l.includes('topic="big"'));
    expect(
      lines
        .filter((l) => l.startsWith('kafka_message_size_bytes_bucket{') && l.includes('topic="big"'))
        .map((l) => /le="([^"]*)"/.exec(l)?.[1]),
    ).toEqual(['64', '128', '256', '512', '1024', '2048', '4096', '8192', '16384', '65536', '262144', '1048576', '+Inf']);
    expect(big('sum')).toMatch(/ 1.000000000000002e\+21$/);
    expect(big('count')).toMatch(/ 2$/);
    expect(body).toContain('route="a\\"b\\\\c\\nd"');
    expect(body).not.toMatch(/e\+06/);
  });

  it('prunes a group whose last push is older than the maximum age and keeps the fresh one', async () => {
    // Prepare
    const job = newJob();
    const maxAge = 900;
    const old = container({ job, instance: 'reaped' });
    await old.invoke();
    const fresh = container({ job, instance: 'alive' });
    const pushTimes = await waitFor(
      async () => {
        await fresh.pusher.push();
        const groups = await fetchGroups({ url: pushgatewayUrl, timeoutMs: 2000, job });
        const times = Object.fromEntries(groups.map((g) => [String(g.labels.instance), g.lastPushSeconds] as const));
        // The Pushgateway stamps pushes in nanoseconds: the later push is strictly later.
        return (times.alive ?? 0) > (times.reaped ?? Infinity) ? times : undefined;
      },
      { what: 'a fresh push stamped after the old one' },
    );
    // "Now" is the moment the old group is just past the maximum age and the fresh one is not.
    const now = (pushTimes.alive ?? 0) + maxAge;
    const handler = metricsHandlerFor(serviceConfig(job, { METRICS_GROUP_MAX_AGE_SECONDS: String(maxAge) }), {
      nowSeconds: () => now,
    });
    // Act
    const report = (await handler(scheduledEvent(), context('metrics'))) as ScheduledRunReport;
    // Assess
    expect(report.prune).toMatchObject({ deleted: 1, failed: 0 });
    const instances = (await fetchGroups({ url: pushgatewayUrl, timeoutMs: 2000, job })).map((g) => g.labels.instance);
    expect(instances).toContain('alive');
    expect(instances).not.toContain('reaped');
  });

  it('with the Pushgateway unreachable, every invocation still answers, and the failure is counted and logged once', async () => {
    // Prepare
    const port = await closedPort();
    const job = newJob();
    // A clock that does not move: the back-off after the first failure never ends in this test.
    const c = container({ job, instance: 'offline', url: `http://127.0.0.1:${port}`, now: () => 0 });
    // Act
    const responses = [];
    for (let i = 0; i < 20; i++) responses.push(await c.invoke());
    // Assess
    expect(responses.every((r) => r.statusCode === 200)).toBe(true);
    const pushes = (await c.metrics.pushgatewayPushes.get()).values;
    expect(pushes.filter((p) => p.value > 0)).toEqual([{ labels: { outcome: 'error' }, value: 1 }]);
    expect(c.warnings).toHaveLength(1);
    expect(sumSamples(await c.metrics.registry.metrics(), 'http_requests_total', {})).toBe(20);
  });

  it('shows every count of a burst in GET /metrics within the push interval, though no invocation follows (the local runtime does not freeze)', async () => {
    // Prepare: a container of the local runtime, pushing at most once per second
    const job = newJob();
    const intervalMs = 1000;
    const c = container({ job, instance: 'burst', intervalMs, flushBetweenInvocations: true });
    // A metrics function of its own per read: one container reuses its answer for METRICS_ANSWER_REUSE_MS.
    const shown = async () => {
      const answer = (await metricsHandlerFor(serviceConfig(job))(httpEvent('GET /metrics'), context('metrics'))) as Result;
      return sumSamples(String(answer.body), 'http_requests_total', { job, function: 'http' });
    };
    // Act: a burst (the first invocation pushes, the rest wait for the interval), then nothing
    const burst = 25;
    for (let i = 0; i < burst; i++) await c.invoke();
    const ended = performance.now();
    // Assess: every count arrives within the interval (and the push's own time), no invocation needed
    const count = await waitFor(async () => ((await shown()) === burst ? burst : undefined), {
      timeoutMs: intervalMs + 1500,
      intervalMs: 100,
      what: `all ${burst} requests in GET /metrics within the ${intervalMs} ms push interval`,
    }).catch(async () => shown());
    expect(count).toBe(burst);
    expect(performance.now() - ended).toBeLessThan(intervalMs + 1500);
  });

  it('GET /metrics answers 503 when the Pushgateway cannot be read', async () => {
    // Prepare
    const port = await closedPort();
    const handler = metricsHandlerFor(serviceConfig(newJob(), { PUSHGATEWAY_URL: `http://127.0.0.1:${port}` }));
    // Act
    const response = (await handler(httpEvent('GET /metrics'), context('metrics'))) as Result;
    // Assess
    expect(response.statusCode).toBe(503);
  });
});
