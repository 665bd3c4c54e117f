/**
 * Counters that stay true across the fleet's life, against a real Pushgateway of this
 * file's own (it prunes and folds groups, which must not touch the shared one's):
 * a runtime restart in the same execution environment, a live container pruned and then
 * invoked again, and two stages sharing one Pushgateway. GET /metrics never goes down.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultDeps } from '../../handlers/factories/deps';
import type { HandlerDeps } from '../../handlers/factories/deps';
import { createMetricsHandler } from '../../handlers/factories/metrics';
import type { ScheduledRunReport } from '../../src/use-cases';
import { loadConfig } from '../../src/config';
import { createMetrics } from '../../src/metrics/registry';
import { createMetricsPusher } from '../../src/metrics/push';
import { uniqueName } from '../helpers/kafka';
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
    /** Counts `n` requests, then pushes. */
    async serve(n: number): Promise<void> {
      metrics.httpRequests.inc(REQUEST, n);
      expect(await pusher.push()).toBe('success');
    },
  };
}

function metricsFunction(params: { job: string; stage: string; nowSeconds?: () => number; env?: Record<string, string> }) {
  const config = loadConfig({
    PUSHGATEWAY_URL: pushgateway.url,
    SERVICE_NAME: params.job,
    STAGE: params.stage,
    AWS_LAMBDA_FUNCTION_NAME: 'metrics',
    LOG_LEVEL: 'SILENT',
    METRICS_GROUP_MAX_AGE_SECONDS: String(MAX_AGE_SECONDS),
    ...params.env,
  });
  const deps: Partial<HandlerDeps> = {
    config,
    metrics: createMetrics(),
    // No broker here: the lag task fails (and is counted); the prune is what is tested.
    withOffsets: () => Promise.reject(new Error('no broker in this test')),
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
    async prune(): Promise<ScheduledRunReport['prune']> {
      return ((await handler(scheduledEvent(), context('metrics'))) as ScheduledRunReport).prune;
    },
  };
}

/** A metrics function whose clock is past every group's maximum age. */
function later(params: { job: string; stage: string }) {
  return metricsFunction({ ...params, nowSeconds: () => Date.now() / 1000 + MAX_AGE_SECONDS + 1 });
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
    const groups = ((await (await fetch(`${pushgateway.url}/api/v1/metrics`)).json()) as { data: Array<{ labels: Record<string, string> }> }).data;
    const instances = (stage: string) => groups.filter((g) => g.labels.job === job && g.labels.stage === stage).map((g) => g.labels.instance);
    expect(instances('dev')).not.toContain('env-d');
    expect(instances('prod')).toContain('env-p');
    expect(await prod.total()).toBe(40);
    expect(await dev.total()).toBe(7);
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
