/**
 * Counters that stay true across the fleet's life, against a real Pushgateway of this
 * file's own (it prunes and folds groups, which must not touch the shared one's):
 * a runtime restart in the same execution environment, a live container pruned and then
 * invoked again, two stages sharing one Pushgateway, two folds at once (one's write held
 * on the way by a proxy), and more label values than the fleet keeps while the
 * Pushgateway lists its groups in a new order on every read. GET /metrics never goes down.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultDeps } from '../../handlers/factories/deps';
import type { HandlerDeps } from '../../handlers/factories/deps';
import { createMetricsHandler } from '../../handlers/factories/metrics';
import type { ScheduledRunReport } from '../../src/use-cases';
import type { OffsetReader } from '../../src/kafka';
import { loadConfig } from '../../src/config';
import { createMetrics } from '../../src/metrics/container-metrics';
import { createMetricsPusher } from '@simple-time-service/fleet-metrics';
import { fetchGroups } from '@simple-time-service/fleet-metrics';
import { uniqueName } from '../helpers/kafka';
import { startHoldingProxy } from '../helpers/holding-proxy';
import { httpEvent, lambdaContext as context, scheduledEvent } from '../helpers/lambda';
import { promQuery, startPrivatePrometheus, startPrivatePushgateway } from '../helpers/private-pushgateway';
import { waitFor } from '../helpers/wait-for';
import type { PrivateProcess } from '../helpers/private-pushgateway';
import { sumSamples } from './metrics-support';

type Result = APIGatewayProxyStructuredResultV2;
const MAX_AGE_SECONDS = 900;
const REQUEST = { route: '/', method: 'GET', status: '200' } as const;

let pushgateway: PrivateProcess;

beforeAll(async () => {
  pushgateway = await startPrivatePushgateway();
});

afterAll(async () => {
  await pushgateway?.stop();
});

/** One simulated container process: its own registry and pusher, a clock the test moves. */
function container(params: { job: string; stage: string; instance: string; fn?: string }) {
  const metrics = createMetrics();
  const clock = { ms: 0 };
  const pusher = createMetricsPusher({
    metrics,
    url: pushgateway.url,
    grouping: { job: params.job, stage: params.stage, function: params.fn ?? 'http', instance: params.instance },
    timeoutMs: 300,
    intervalMs: 0,
    groupMaxAgeSeconds: MAX_AGE_SECONDS,
    now: () => clock.ms,
  });
  return {
    clock,
    /** Counts `n` requests (to `route`), then pushes. */
    async serve(n: number, route: string = REQUEST.route): Promise<void> {
      metrics.httpRequests.inc({ ...REQUEST, route }, n);
      expect(await pusher.push()).toBe('success');
    },
  };
}

function metricsFunction(params: {
  job: string;
  stage: string;
  nowSeconds?: () => number;
  env?: Record<string, string>;
  url?: string;
  withOffsets?: HandlerDeps['withOffsets'];
}) {
  const config = loadConfig({
    PUSHGATEWAY_URL: params.url ?? pushgateway.url,
    SERVICE_NAME: params.job,
    STAGE: params.stage,
    AWS_LAMBDA_FUNCTION_NAME: 'metrics',
    LOG_LEVEL: 'SILENT',
    METRICS_GROUP_MAX_AGE_SECONDS: String(MAX_AGE_SECONDS),
    // Each GET /metrics here reads again (what it checks changed just before).
    METRICS_ANSWER_REUSE_MS: '0',
    ...params.env,
  });
  const deps: Partial<HandlerDeps> = {
    config,
    metrics: createMetrics(),
    // No broker here: unless given offsets, the lag task fails (and is counted).
    withOffsets: params.withOffsets ?? (() => Promise.reject(new Error('no broker in this test'))),
  };
  const { nowSeconds } = params;
  if (nowSeconds) deps.now = () => nowSeconds() * 1000;
  const handler = createMetricsHandler(defaultDeps(deps));
  const token = params.env?.METRICS_TOKEN;
  const get = async (headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {}): Promise<Result> =>
    (await handler(httpEvent('GET /metrics', { headers }), context('metrics'))) as Result;
  return {
    get,
    async total(): Promise<number> {
      const response = await get();
      expect(response.statusCode).toBe(200);
      return sumSamples(String(response.body), 'http_requests_total', { job: params.job, ...REQUEST });
    },
    async schedule(): Promise<ScheduledRunReport> {
      return (await handler(scheduledEvent(), context('metrics'))) as ScheduledRunReport;
    },
    async prune(): Promise<ScheduledRunReport['prune']> {
      return (await this.schedule()).prune;
    },
  };
}

/** A metrics function whose clock is past every group's maximum age. */
function later(params: { job: string; stage: string; env?: Record<string, string> }) {
  return metricsFunction({ ...params, nowSeconds: () => Date.now() / 1000 + MAX_AGE_SECONDS + 1 });
}

/** Every http_requests_total series of a GET /metrics answer, by its labels. */
function requestSeries(text: string): Map<string, number> {
  const series = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^http_requests_total(\{.*\}) (\S+)$/.exec(line);
    if (m) series.set(m[1] ?? '', Number(m[2]));
  }
  return series;
}

describe('fleet counters through a real Pushgateway', () => {
  it('a runtime restarted in the same execution environment adds to the total instead of replacing it', async () => {
    // Prepare
    const job = uniqueName('sts-fleet');
    const stage = 'dev';
    await container({ job, stage, instance: 'env-1' }).serve(100);
    await container({ job, stage, instance: 'env-2' }).serve(50);
    const fn = metricsFunction({ job, stage });
    expect(await fn.total()).toBe(150);
    // Act: Lambda restarts the runtime in env-1 (a new process, counters from zero).
    await container({ job, stage, instance: 'env-1' }).serve(3);
    // Assess
    expect(await fn.total()).toBe(153);
  });

  it('a live container pruned while idle keeps its counts, and is not counted twice when it pushes again', async () => {
    // Prepare
    const job = uniqueName('sts-fleet');
    const stage = 'dev';
    const idle = container({ job, stage, instance: 'env-idle' });
    await idle.serve(100);
    await container({ job, stage, instance: 'env-busy' }).serve(50);
    // Act 1: every group is past its maximum age; the prune deletes them.
    const report = await later({ job, stage }).prune();
    // Assess 1
    expect(report).toMatchObject({ deleted: 2, failed: 0 });
    const fn = metricsFunction({ job, stage });
    expect(await fn.total()).toBe(150);
    // Act 2: the idle container was alive all along and is invoked again.
    idle.clock.ms += (MAX_AGE_SECONDS + 1) * 1000;
    await idle.serve(1);
    // Assess 2
    expect(await fn.total()).toBe(151);
    // Act 3: a second prune run (nothing stale any more) and a third (all stale again).
    await fn.prune();
    await later({ job, stage }).prune();
    // Assess 3
    expect(await fn.total()).toBe(151);
  });

  it('two stages on one Pushgateway: each sees and prunes only its own groups', async () => {
    // Prepare
    const job = uniqueName('sts-fleet');
    await container({ job, stage: 'dev', instance: 'env-d' }).serve(7);
    await container({ job, stage: 'prod', instance: 'env-p' }).serve(40);
    const dev = metricsFunction({ job, stage: 'dev' });
    const prod = metricsFunction({ job, stage: 'prod' });
    // Act / Assess: reads
    expect(await dev.total()).toBe(7);
    expect(await prod.total()).toBe(40);
    // Act: dev's prune, with every group past its age
    const report = await later({ job, stage: 'dev' }).prune();
    // Assess: only dev's groups went (into dev's retired totals); prod's is untouched
    expect(report).toMatchObject({ failed: 0 });
    const groups = (
      (await (await fetch(`${pushgateway.url}/api/v1/metrics`)).json()) as { data: Array<{ labels: Record<string, string> }> }
    ).data;
    const instances = (stage: string) =>
      groups.filter((g) => g.labels.job === job && g.labels.stage === stage).map((g) => g.labels.instance);
    expect(instances('dev')).not.toContain('env-d');
    expect(instances('prod')).toContain('env-p');
    expect(await prod.total()).toBe(40);
    expect(await dev.total()).toBe(7);
  });
});

describe('folds at once and reads in any order', () => {
  it('a fold whose write of the retired totals is held on the way while another fold runs loses nothing', async () => {
    // Prepare: container groups of 5 and 7 requests, pushed a moment apart
    const job = uniqueName('sts-fleet');
    const stage = 'dev';
    await container({ job, stage, instance: 'env-5' }).serve(5);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await container({ job, stage, instance: 'env-7' }).serve(7);
    const groups = await fetchGroups({ url: pushgateway.url, timeoutMs: 2000, job });
    const pushedAt = (instance: string): number => groups.find((g) => g.labels.instance === instance)?.lastPushSeconds ?? 0;
    const [t5, t7] = [pushedAt('env-5'), pushedAt('env-7')];
    expect(t7).toBeGreaterThan(t5);
    const proxy = await startHoldingProxy(pushgateway.url);
    try {
      // Fold A's clock has only the first group past the maximum age; its writes go through the proxy.
      const foldA = metricsFunction({
        job,
        stage,
        url: proxy.url,
        nowSeconds: () => (t5 + t7) / 2 + MAX_AGE_SECONDS,
        env: { PUSHGATEWAY_QUERY_TIMEOUT_MS: '5000' },
      });
      const retired = `/instance@base64/${Buffer.from('retired').toString('base64url')}`;
      proxy.hold((method, path) => method === 'PUT' && path.includes(retired));
      // Act: A's write of the retired totals is held; fold B folds both groups meanwhile; then A's write lands.
      const a = foldA.prune();
      await waitFor(() => (proxy.held > 0 ? true : undefined), {
        timeoutMs: 10_000,
        what: "fold A's write of the retired totals to reach the proxy",
      });
      const b = await later({ job, stage }).prune();
      proxy.release();
      const reportA = await a;
      // Assess
      expect(b).toMatchObject({ folded: 2, failed: 0 });
      expect(reportA).toMatchObject({ folded: 1, failed: 0 });
      expect(await metricsFunction({ job, stage }).total()).toBe(12);
      // A later fold leaves it so
      await later({ job, stage }).prune();
      expect(await metricsFunction({ job, stage }).total()).toBe(12);
    } finally {
      await proxy.stop();
    }
  });

  it('with more route values than the fleet keeps, no series of GET /metrics goes down over 30 reads (the Pushgateway lists its groups in a new order each time)', async () => {
    // Prepare: two functions' retired totals holding three routes between them (the fleet
    // keeps two), and a live container of the first function with the third route
    const job = uniqueName('sts-fleet');
    const stage = 'dev';
    const env = { METRICS_FLEET_MAX_LABEL_VALUES: '2', METRICS_MAX_LABEL_VALUES: '2' };
    const first = container({ job, stage, instance: 'env-1' });
    await first.serve(1, '/a');
    await first.serve(1, '/b');
    await container({ job, stage, instance: 'env-2', fn: 'onError' }).serve(1, '/c');
    expect(await later({ job, stage, env }).prune()).toMatchObject({ folded: 2, failed: 0 });
    await container({ job, stage, instance: 'env-3' }).serve(5, '/c');
    const fn = metricsFunction({ job, stage, env });
    const seen = new Map<string, number>();
    // Act / Assess
    for (let i = 0; i < 30; i++) {
      const response = await fn.get();
      expect(response.statusCode).toBe(200);
      for (const [series, value] of requestSeries(String(response.body))) {
        expect(value, `read ${i + 1}: ${series}`).toBeGreaterThanOrEqual(seen.get(series) ?? 0);
        seen.set(series, value);
      }
    }
    expect([...seen.keys()].filter((s) => s.includes(`job="${job}"`) && s.includes('route="other"'))).not.toEqual([]);
  });
});

describe('GET /metrics under load', () => {
  it('20 requests at once cost one read of the Pushgateway, and the answer is reused for METRICS_ANSWER_REUSE_MS', async () => {
    // Prepare
    const job = uniqueName('sts-fleet');
    await container({ job, stage: 'dev', instance: 'env-1' }).serve(3);
    const proxy = await startHoldingProxy(pushgateway.url);
    try {
      const fn = metricsFunction({ job, stage: 'dev', url: proxy.url, env: { METRICS_ANSWER_REUSE_MS: '5000' } });
      const reads = () => proxy.requests.filter((r) => r.method === 'GET' && r.path.startsWith('/api/v1/metrics')).length;
      // Act
      const answers = await Promise.all(Array.from({ length: 20 }, () => fn.get()));
      const readsAtOnce = reads();
      const again = await fn.get();
      // Assess
      expect(answers.map((a) => a.statusCode)).toEqual(Array(20).fill(200));
      expect(readsAtOnce).toBe(1);
      expect(new Set(answers.map((a) => a.body)).size).toBe(1);
      expect(again.body).toBe(answers[0]?.body);
      expect(reads()).toBe(1);
      expect(sumSamples(String(again.body), 'http_requests_total', { job, ...REQUEST })).toBe(3);
    } finally {
      await proxy.stop();
    }
  });
});

describe('consumer-group lag', () => {
  it('the lag of a consumer group whose offsets cannot be read keeps its last value instead of vanishing, and the others are updated', async () => {
    // Prepare: every group 6 records behind on partition 0
    const job = uniqueName('sts-fleet');
    const broker: { failing?: string; end: bigint } = { end: 10n };
    const reader: OffsetReader = {
      topicOffsets: () => Promise.resolve([{ partition: 0, low: 0n, high: broker.end }]),
      committedOffsets: (group) =>
        group === broker.failing ? Promise.reject(new Error('the coordinator is not available')) : Promise.resolve(new Map([[0, 4n]])),
    };
    const fn = metricsFunction({ job, stage: 'dev', withOffsets: (use) => use(reader) });
    const lagByGroup = async (): Promise<Record<string, number>> => {
      const body = String((await fn.get()).body);
      return Object.fromEntries(
        [...body.matchAll(/^kafka_consumergroup_lag\{.*group="([^"]+)".*\} (\S+)$/gm)].map((m) => [m[1] ?? '', Number(m[2])]),
      );
    };
    expect(await fn.schedule()).toMatchObject({ lag: { failures: [] } });
    const before = await lagByGroup();
    expect(Object.values(before)).toEqual([6, 6, 6, 6, 6]);
    // Act: one group's offsets cannot be read on the next run; the topics have 5 more records
    const failing = Object.keys(before)[0];
    broker.failing = failing;
    broker.end = 15n;
    const run = await fn.schedule();
    // Assess
    expect(run.lag).toMatchObject({ failures: [{ group: failing }] });
    const after = await lagByGroup();
    expect(Object.keys(after).sort()).toEqual(Object.keys(before).sort());
    for (const group of Object.keys(before)) expect(after[group], group).toBe(group === failing ? 6 : 11);
  });
});

describe("Prometheus's own view agrees", () => {
  const TOKEN = 'prometheus-scrape-token-0123456789';
  let prometheus: PrivateProcess | undefined;
  let server: http.Server | undefined;

  afterAll(async () => {
    await prometheus?.stop();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  });

  it('scraping the Pushgateway and GET /metrics gives the same totals, and increase() shows no false reset over a restart and a prune', async () => {
    // Prepare: GET /metrics served over HTTP (behind METRICS_TOKEN), a private Prometheus scraping it and the Pushgateway every second
    const job = uniqueName('sts-fleet-prom');
    const stage = 'dev';
    const fn = metricsFunction({ job, stage, env: { METRICS_TOKEN: TOKEN } });
    server = http.createServer((request, response) => {
      const headers: Record<string, string> = request.headers.authorization ? { authorization: request.headers.authorization } : {};
      void fn.get(headers).then((result) => {
        response.writeHead(result.statusCode ?? 500, result.headers as http.OutgoingHttpHeaders);
        response.end(result.body);
      });
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const address = server.address() as AddressInfo;
    prometheus = await startPrivatePrometheus({
      config: [
        'global: { scrape_interval: 1s }',
        'scrape_configs:',
        '  - job_name: pushgateway',
        '    honor_labels: true',
        `    static_configs: [{ targets: ['${new URL(pushgateway.url).host}'] }]`,
        '  - job_name: service-metrics',
        '    authorization: { type: Bearer, credentials: ' + TOKEN + ' }',
        `    static_configs: [{ targets: ['127.0.0.1:${address.port}'] }]`,
      ].join('\n'),
    });
    const promUrl = prometheus.url;
    const scalar = async (query: string): Promise<number> => Number((await promQuery(promUrl, query))[0]?.value[1] ?? Number.NaN);
    // The containers' requests (the metrics function counts its own GET /metrics under function="metrics").
    const pushgatewayTotal = `sum(http_requests_total{job="${job}",stage="${stage}",function="http"})`;
    const scrapedTotal = `sum(http_requests_total{job="service-metrics",exported_job="${job}",stage="${stage}",function="http"})`;
    /** Waits until Prometheus has scraped both views at `total`. */
    const seen = (total: number) =>
      waitFor(async () => ((await scalar(pushgatewayTotal)) === total && (await scalar(scrapedTotal)) === total ? true : undefined), {
        timeoutMs: 20_000,
        intervalMs: 250,
        what: `Prometheus to see ${total} requests in both views`,
      });
    const a = container({ job, stage, instance: 'env-1' });
    await a.serve(100);
    await container({ job, stage, instance: 'env-2' }).serve(50);
    await seen(150);
    // Act: a runtime restart in env-1, a prune of every group, the idle container invoked again
    await container({ job, stage, instance: 'env-1' }).serve(3);
    await seen(153);
    await later({ job, stage }).prune();
    await seen(153);
    a.clock.ms += (MAX_AGE_SECONDS + 1) * 1000;
    await a.serve(1);
    await seen(154);
    // Assess
    expect(await fn.total()).toBe(154);
    expect(await scalar(`sum(resets(http_requests_total{job="service-metrics",exported_job="${job}",function="http"}[5m]))`)).toBe(0);
    expect(await scalar(`sum(resets(http_requests_total{job="${job}",function="http"}[5m]))`)).toBe(0);
    const increase = await scalar(`sum(increase(http_requests_total{job="service-metrics",exported_job="${job}",function="http"}[5m]))`);
    // 4 requests after the first scrape, extrapolated a little by Prometheus; a false reset would add about 150.
    expect(increase).toBeGreaterThan(3.9);
    expect(increase).toBeLessThan(10);
  });
});
