/**
 * Push overhead per invocation: a middy HTTP handler with the pushMetrics middleware
 * (recordHttp on, a registry holding a realistic set of series) against the real local
 * Pushgateway, with it up, down (a closed port) and hanging (accepts, never answers).
 * Invocations run back to back; the pusher's clock is virtual and advances by 1/rate per
 * invocation, so "10 invocations/s for 200 s" takes as long as the pushes themselves.
 *
 * Then, per rate, the counts a container loses when it is reaped: its local
 * http_requests_total minus what the Pushgateway holds for its group after the last push.
 *
 *   npx tsx bench/metrics-push.ts            (PUSHGATEWAY_URL, default http://127.0.0.1:9091)
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { pushMetrics } from '../handlers/middleware/push-metrics';
import { loadConfig } from '../src/config';
import { createMetrics } from '../src/metrics/container-metrics';
import { createMetricsPusher } from '@simple-time-service/fleet-metrics';
import { deleteGroup, fetchGroups } from '@simple-time-service/fleet-metrics';
import type { ServiceMetrics } from '../src/metrics';
import { closedPort } from '../test/helpers/net';
import { BENCH_SERVICE } from './service';

type Result = APIGatewayProxyStructuredResultV2;

const pushgatewayUrl = loadConfig().pushgateway.url;
// A job of its own per run (its groups are counted and deleted by job), under the benchmarks' name.
const job = `${BENCH_SERVICE.SERVICE_NAME}-push-${Date.now().toString(36)}`;

const event: APIGatewayProxyEventV2 = {
  version: '2.0',
  routeKey: 'GET /',
  rawPath: '/',
  rawQueryString: '',
  headers: {},
  isBase64Encoded: false,
  requestContext: {
    accountId: '123456789012',
    apiId: 'bench',
    domainName: '127.0.0.1',
    domainPrefix: '127',
    http: { method: 'GET', path: '/', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'bench' },
    requestId: 'bench',
    routeKey: 'GET /',
    stage: '$default',
    time: '',
    timeEpoch: 0,
  },
};
const context = { awsRequestId: 'bench', getRemainingTimeInMillis: () => 10_000 } as Context;

function percentile(sorted: number[], p: number): number {
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}

function summary(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
    mean: sorted.reduce((a, b) => a + b, 0) / sorted.length,
  };
}

/** What a busy HTTP container holds: several routes, statuses, topics and histograms. */
function realisticMetrics(): ServiceMetrics {
  const metrics = createMetrics();
  for (const route of ['/', '/healthz', '/kafka/status', '/kafka/publish']) {
    for (const status of ['200', '400', '503']) metrics.httpRequests.inc({ route, method: 'GET', status });
    metrics.httpRequestDuration.observe({ route, method: 'GET' }, 0.003);
  }
  for (const topic of ['simple-time-service-requests', 'simple-time-service-events']) {
    metrics.kafkaMessagesSent.inc({ topic, status: 'success' });
    metrics.kafkaMessageSize.observe({ topic }, 420);
  }
  return metrics;
}

/** An HTTP server that accepts requests and never answers: the slow-Pushgateway case. */
async function hangingServer(): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer(() => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

interface Scenario {
  name: string;
  url: string | undefined; // undefined: no middleware (baseline)
  intervalMs: number;
  ratePerSecond: number;
  invocations: number;
}

async function run(scenario: Scenario) {
  const metrics = realisticMetrics();
  let clock = 0;
  const builder = middy<APIGatewayProxyEventV2, Result>();
  let pushes: () => Promise<number> = () => Promise.resolve(0);
  if (scenario.url !== undefined) {
    const pusher = createMetricsPusher({
      metrics,
      url: scenario.url,
      grouping: { job, stage: BENCH_SERVICE.STAGE, function: 'bench', instance: scenario.name.replace(/\W+/g, '-') },
      timeoutMs: 300,
      intervalMs: scenario.intervalMs,
      now: () => clock,
    });
    builder.use(pushMetrics({ metrics, pusher, recordHttp: true }));
    pushes = async () => (await metrics.pushgatewayPushes.get()).values.reduce((s, v) => s + v.value, 0);
  }
  const handler = builder.handler(() => Promise.resolve({ statusCode: 200, body: '{}' }));
  for (let i = 0; i < 50; i++) await handler(event, context); // warm up (JIT, first connect)
  clock += 600_000;
  const samples: number[] = [];
  const pushesBefore = await pushes();
  for (let i = 0; i < scenario.invocations; i++) {
    const t0 = performance.now();
    await handler(event, context);
    samples.push(performance.now() - t0);
    clock += 1000 / scenario.ratePerSecond;
  }
  return { ...summary(samples), pushes: (await pushes()) - pushesBefore, bytes: (await metrics.registry.metrics()).length };
}

/**
 * Counts lost at reaping. After every invocation, the counts not yet in the Pushgateway
 * are what Lambda would lose if it reaped the container right then; their mean and maximum
 * over the run are the expected and worst loss for a reap after a random invocation. The
 * last push is checked against the Pushgateway's copy of the group.
 */
async function lostAtReap(ratePerSecond: number, intervalMs: number, invocations: number) {
  const metrics = createMetrics();
  const instance = `reap-${ratePerSecond}-${intervalMs}`;
  let clock = 0;
  const pusher = createMetricsPusher({
    metrics,
    url: pushgatewayUrl,
    grouping: { job, stage: BENCH_SERVICE.STAGE, function: 'reap', instance },
    timeoutMs: 300,
    intervalMs,
    now: () => clock,
  });
  const handler = middy<APIGatewayProxyEventV2, Result>()
    .use(pushMetrics({ metrics, pusher, recordHttp: true }))
    .handler(() => Promise.resolve({ statusCode: 200 }));
  const successes = async () => (await metrics.pushgatewayPushes.get()).values.find((v) => v.labels.outcome === 'success')?.value ?? 0;
  let pushedCount = 0;
  let pushesSeen = 0;
  const unpushed: number[] = [];
  for (let i = 1; i <= invocations; i++) {
    await handler(event, context);
    const pushes = await successes();
    if (pushes > pushesSeen) {
      // The push ran in this invocation's `after`, once its request had been counted.
      pushesSeen = pushes;
      pushedCount = i;
    }
    unpushed.push(i - pushedCount);
    clock += 1000 / ratePerSecond;
  }
  const groups = await fetchGroups({ url: pushgatewayUrl, timeoutMs: 2000, job });
  const group = groups.find((g) => g.labels.instance === instance);
  const inGateway = Number(group?.families.find((f) => f.name === 'http_requests_total')?.samples[0]?.value ?? 0);
  if (inGateway !== pushedCount) throw new Error(`the Pushgateway holds ${inGateway}, expected ${pushedCount}`);
  return {
    pushes: pushesSeen,
    meanLost: unpushed.reduce((a, b) => a + b, 0) / unpushed.length,
    maxLost: Math.max(...unpushed),
  };
}

const ms = (v: number) => v.toFixed(3);

async function main(): Promise<void> {
  const down = `http://127.0.0.1:${await closedPort()}`;
  const hanging = await hangingServer();
  const n = 3000;
  const scenarios: Scenario[] = [
    { name: 'baseline (no middleware)', url: undefined, intervalMs: 0, ratePerSecond: 10, invocations: n },
    { name: 'up, push every invocation', url: pushgatewayUrl, intervalMs: 0, ratePerSecond: 10, invocations: n },
    { name: 'up, interval 10 s, 1 inv/s', url: pushgatewayUrl, intervalMs: 10_000, ratePerSecond: 1, invocations: n },
    { name: 'up, interval 10 s, 10 inv/s', url: pushgatewayUrl, intervalMs: 10_000, ratePerSecond: 10, invocations: n },
    { name: 'up, interval 10 s, 100 inv/s', url: pushgatewayUrl, intervalMs: 10_000, ratePerSecond: 100, invocations: n },
    { name: 'down (closed port), every invocation', url: down, intervalMs: 0, ratePerSecond: 10, invocations: n },
    { name: 'down (closed port), interval 10 s, 10 inv/s', url: down, intervalMs: 10_000, ratePerSecond: 10, invocations: n },
    { name: 'hanging, every invocation', url: hanging.url, intervalMs: 0, ratePerSecond: 10, invocations: n },
    { name: 'hanging, interval 10 s, 10 inv/s', url: hanging.url, intervalMs: 10_000, ratePerSecond: 10, invocations: n },
  ];
  console.log(`Pushgateway ${pushgatewayUrl}; ${n} invocations per scenario; job ${job}\n`);
  console.log('| scenario | p50 ms | p99 ms | max ms | mean ms | pushes | registry bytes |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  try {
    for (const scenario of scenarios) {
      const r = await run(scenario);
      console.log(
        `| ${scenario.name} | ${ms(r.p50)} | ${ms(r.p99)} | ${ms(r.max)} | ${ms(r.mean)} | ${scenario.url === undefined ? '-' : r.pushes} | ${r.bytes} |`,
      );
    }
    console.log('\nCounts a container loses if Lambda reaps it after a random invocation (1000 invocations each):\n');
    console.log('| interval | invocations/s | pushes | mean lost | max lost |');
    console.log('| ---: | ---: | ---: | ---: | ---: |');
    for (const [intervalMs, rate] of [
      [10_000, 0.05],
      [10_000, 0.5],
      [10_000, 1],
      [10_000, 10],
      [10_000, 100],
      [0, 100],
    ] as const) {
      const r = await lostAtReap(rate, intervalMs, 1000);
      console.log(`| ${intervalMs / 1000} s | ${rate} | ${r.pushes} | ${r.meanLost.toFixed(1)} | ${r.maxLost} |`);
    }
  } finally {
    await hanging.close();
    for (const group of await fetchGroups({ url: pushgatewayUrl, timeoutMs: 2000, job })) {
      await deleteGroup({ url: pushgatewayUrl, timeoutMs: 2000, labels: group.labels });
    }
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
