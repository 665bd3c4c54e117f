/**
 * Counters that stay true across the fleet's life, against a real Pushgateway of this
 * file's own (it prunes and folds groups, which must not touch the shared one's):
 * a runtime restart in the same execution environment, a live container pruned and then
 * invoked again, and two stages sharing one Pushgateway. GET /metrics never goes down.
 */
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetricsHandler } from '../../handlers/metrics';
import type { ScheduledRunReport } from '../../handlers/metrics';
import { loadConfig } from '../../src/config';
import { createMetrics, createMetricsPusher } from '../../src/metrics';
import { uniqueName } from '../helpers/kafka';
import { httpEvent, lambdaContext as context, scheduledEvent } from '../helpers/lambda';
import { startPrivatePushgateway } from '../helpers/private-pushgateway';
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

function metricsFunction(params: { job: string; stage: string; nowSeconds?: () => number }) {
  const config = loadConfig({
    PUSHGATEWAY_URL: pushgateway.url,
    SERVICE_NAME: params.job,
    STAGE: params.stage,
    AWS_LAMBDA_FUNCTION_NAME: 'metrics',
    LOG_LEVEL: 'SILENT',
    METRICS_GROUP_MAX_AGE_SECONDS: String(MAX_AGE_SECONDS),
  });
  const deps: Parameters<typeof createMetricsHandler>[0] = {
    config,
    metrics: createMetrics(),
    // No broker here: the lag task fails (and is counted); the prune is what is tested.
    withOffsets: () => Promise.reject(new Error('no broker in this test')),
  };
  if (params.nowSeconds) deps.nowSeconds = params.nowSeconds;
  const handler = createMetricsHandler(deps);
  return {
    async total(): Promise<number> {
      const response = (await handler(httpEvent('GET /metrics'), context('metrics'))) as Result;
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
