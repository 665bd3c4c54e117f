/**
 * The metrics pipeline at fleet scale: a private Pushgateway (Debian's, or PUSHGATEWAY_BIN)
 * is filled with N synthetic containers, each pushing a registry like the service's own
 * functions push (see `profiles`), then, at each N:
 * - push latency: a real pusher (src/fleet-metrics/src/push.ts) re-pushing a container's registry;
 * - GET /metrics: the metrics function's bundle (built as serverless.yml builds it) in a
 *   fresh node process limited like a 256 MB Lambda (--max-old-space-size=230): the time
 *   of a cold and a warm request, then of 20 requests at once, the answer's size, and the
 *   process's peak RSS;
 * - the scheduled fold (10 % of the groups stale) in the same kind of process;
 * - the Pushgateway's own RSS and peak RSS.
 *
 *   npx tsx bench/metrics-fleet.ts [sizes=100,300,1000] [profile=realistic|heavy] [flags=default|no-check|both] [baseline=<git ref>] [baseline-first]
 *
 * With a baseline, the metrics function of that commit (its tree exported from git, built
 * the same way) is measured too, on a Pushgateway of its own filled the same way: rows of
 * both in one run.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { CONSUMER_FUNCTIONS } from '../src/consumers/functions';
import { createMetrics } from '../src/metrics/container-metrics';
import { createMetricsPusher } from '@simple-time-service/fleet-metrics';
import { expositionText } from '@simple-time-service/fleet-metrics';
import { groupRequest } from '@simple-time-service/fleet-metrics';
import type { FamilyOut } from '@simple-time-service/fleet-metrics';
import { startPrivatePushgateway } from '../test/helpers/private-pushgateway';
import type { PrivateProcess } from '../test/helpers/private-pushgateway';
import { percentile } from './stats';

const run = promisify(execFile);
const repo = path.resolve(__dirname, '..');
const sizes = (process.argv[2] ?? '100,300,1000').split(',').map(Number);
const profile = (process.argv[3] ?? 'realistic') as 'realistic' | 'heavy';
const flagSets: Record<string, string[]> = { default: [], 'no-check': ['--push.disable-consistency-check'] };
const variants = (process.argv[4] ?? 'both') === 'both' ? Object.keys(flagSets) : [process.argv[4] ?? 'default'];
const baseline = process.argv[5];
const JOB = 'simple-time-service';
const STAGE = 'bench';
const SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const LAG_MS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000, 300_000, 900_000];
const BYTES = [64, 128, 256, 512, 1024, 2048, 4096, 8192, 16_384, 65_536, 262_144, 1_048_576];

type Pairs = Array<[string, string]>;

function histogram(name: string, bounds: number[], labelSets: Pairs[], seed: number): FamilyOut {
  return {
    name,
    help: name,
    type: 'histogram',
    series: labelSets.map((labels, i) => {
      const count = 10 + ((seed * 7 + i * 13) % 500);
      const buckets = new Map<number, number>();
      bounds.forEach((b, j) => buckets.set(b, Math.round((count * (j + 1)) / bounds.length)));
      return { labels, histogram: { buckets, sum: count * 0.01, count } };
    }),
  };
}

function counter(name: string, labelSets: Pairs[], seed: number): FamilyOut {
  return {
    name,
    help: name,
    type: 'counter',
    series: labelSets.map((labels, i) => ({ labels, value: 1 + ((seed * 31 + i * 17) % 1000) })),
  };
}

function cross(...dims: Array<[string, string[]]>): Pairs[] {
  let out: Pairs[] = [[]];
  for (const [name, values] of dims) out = out.flatMap((pairs) => values.map((v): Pairs => [...pairs, [name, v]]));
  return out;
}

/**
 * What one container of each function pushes. realistic: the service's own routes,
 * topics, event types and statuses, per-caller series off (the default). heavy: every
 * outside-fed label at today's per-container cap (20 values): about 1,000 series.
 */
function containerBody(fn: string, seed: number): string {
  const heavy = profile === 'heavy';
  const n = (realistic: number) => (heavy ? 20 : realistic);
  const values = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix}${(seed + i) % (count * 3)}`);
  const topics = ['sts-requests', 'sts-events'];
  const routes = ['/', '/healthz', '/kafka/status', '/kafka/publish', '/kafka/flush'];
  const families: FamilyOut[] = [counter('pushgateway_pushes_total', [[['outcome', 'success']]], seed)];
  switch (fn) {
    case 'http':
      families.push(
        counter(
          'http_requests_total',
          cross(['method', ['GET', 'POST']], ['route', heavy ? values('/r', 20) : routes], ['status', ['200', '202', '503']]),
          seed,
        ),
        histogram(
          'http_request_duration_seconds',
          SECONDS,
          cross(['method', ['GET', 'POST']], ['route', heavy ? values('/r', 20) : routes]),
          seed,
        ),
        counter('kafka_messages_sent_total', cross(['status', ['success', 'error']], ['topic', topics]), seed),
        histogram('kafka_message_size_bytes', BYTES, cross(['topic', topics]), seed),
      );
      break;
    case 'onHttpResponse':
      families.push(
        histogram(
          'http_response_time_seconds',
          SECONDS,
          cross(['endpoint', heavy ? values('/e', 20) : routes], ['status', heavy ? values('s', 3) : ['200', '202', '404']]),
          seed,
        ),
        counter(
          'kafka_messages_received_total',
          cross(['event_type', ['http_response']], ['status', ['processed', 'duplicate']], ['topic', ['sts-events']]),
          seed,
        ),
        histogram('kafka_message_process_time_seconds', SECONDS, cross(['event_type', ['http_response']], ['topic', ['sts-events']]), seed),
        histogram('kafka_consumer_lag_ms', LAG_MS, [[['topic', 'sts-events']]], seed),
      );
      break;
    default: {
      // onHttpRequest, onError, onCommand, onCustomEvent: event types and one or two outside-fed counters
      const types = heavy ? values('type', n(4)) : ['http_request', 'error', 'time.now', 'custom'];
      families.push(
        counter(
          'kafka_messages_received_total',
          cross(['event_type', types], ['status', ['processed', 'dead_lettered']], ['topic', ['sts-events']]),
          seed,
        ),
        histogram('kafka_message_process_time_seconds', SECONDS, cross(['event_type', types], ['topic', ['sts-events']]), seed),
        histogram('kafka_consumer_lag_ms', LAG_MS, [[['topic', 'sts-events']]], seed),
        counter('error_events_total', cross(['error_type', values('E', n(3))], ['service', values('svc', n(2))]), seed),
        counter('commands_total', cross(['command_type', values('cmd', n(2))], ['outcome', ['processed', 'rejected']]), seed),
        counter('kafka_messages_sent_total', cross(['status', ['success']], ['topic', ['sts-events']]), seed),
        histogram('kafka_message_size_bytes', BYTES, [[['topic', 'sts-events']]], seed),
      );
      if (heavy) families.push(counter('caller_requests_total', cross(['caller', values('10.0.0.', 20)]), seed));
    }
  }
  return expositionText(families);
}

const FUNCTIONS = ['http', ...CONSUMER_FUNCTIONS.map((fn) => fn.name)];

function seriesIn(body: string): number {
  return body.split('\n').filter((l) => l && !l.startsWith('#')).length;
}

/** A commit's tree in a folder of its own, with this checkout's node_modules. */
async function exportTree(ref: string): Promise<string> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sts-fleet-baseline-'));
  await run('bash', ['-c', `git -C ${JSON.stringify(repo)} archive ${JSON.stringify(ref)} | tar -x -C ${JSON.stringify(dir)}`]);
  symlinkSync(path.join(repo, 'node_modules'), path.join(dir, 'node_modules'));
  return dir;
}

/** The metrics function's bundle, and one of the fold alone (its clock set from FOLD_NOW_SECONDS), from the tree at `root`. */
async function bundles(root: string): Promise<{ get: string; fold: string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sts-fleet-bench-'));
  const foldEntry = path.join(dir, 'fold-entry.ts');
  writeFileSync(
    foldEntry,
    `import { getConfig } from ${JSON.stringify(path.join(root, 'src/config'))};
import { foldStaleGroups, stageLabel } from ${JSON.stringify(path.join(root, 'src/metrics'))};
export const handler = async () => {
  const c = getConfig();
  const r = await foldStaleGroups({ url: c.pushgateway.url, timeoutMs: 15000, deleteTimeoutMs: c.metrics.queryTimeoutMs, job: c.service.name, stage: stageLabel(c.service.stage),
    maxLabelValues: c.metrics.fleetMaxLabelValues, maxAgeSeconds: c.metrics.groupMaxAgeSeconds, nowSeconds: Number(process.env.FOLD_NOW_SECONDS) });
  return { prune: { kept: r.kept, folded: r.folded, deleted: r.deleted.length, failed: r.failed.length } };
};`,
  );
  const out = { get: path.join(dir, 'metrics.js'), fold: path.join(dir, 'fold.js') };
  for (const [entry, outfile] of [
    [path.join(root, 'handlers', 'metrics.ts'), out.get],
    [foldEntry, out.fold],
  ] as const) {
    await build({
      entryPoints: [entry],
      bundle: true,
      minify: true,
      platform: 'node',
      target: 'node22',
      outfile,
      external: ['@aws-sdk/*', 'aws-msk-iam-sasl-signer-js'],
      logLevel: 'error',
    });
  }
  return out;
}

/** One metrics-function container: loads the bundle, answers `what` twice, reports times and peak RSS. */
interface FunctionRun {
  coldMs: number;
  warmMs: number;
  /** 20 GET /metrics at once: until the last answered. */
  burstMs: number;
  bytes: number;
  peakMb: number;
  result: string;
}

async function inFunction(outfile: string, url: string, what: 'get' | 'burst' | 'fold', foldNowSeconds = 0): Promise<FunctionRun> {
  const script = `
const fs = require('node:fs');
const { handler } = require(${JSON.stringify(outfile)});
const ctx = { functionName: 'metrics', functionVersion: '$LATEST', awsRequestId: 'bench', invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:metrics', memoryLimitInMB: '256', getRemainingTimeInMillis: () => 20000 };
const get = { version: '2.0', routeKey: 'GET /metrics', rawPath: '/metrics', rawQueryString: '', headers: {}, isBase64Encoded: false,
  requestContext: { http: { method: 'GET', path: '/metrics', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'bench' }, requestId: 'r', routeKey: 'GET /metrics', stage: '$default', timeEpoch: 0 } };
const scheduled = { 'detail-type': 'Scheduled Event', source: 'aws.events', id: 'e', time: new Date().toISOString(), region: 'us-east-1', resources: [], detail: {}, account: '123456789012', version: '0' };
(async () => {
  const times = []; let bytes = 0; let result = '';
  for (let i = 0; i < ${what === 'get' ? 2 : what === 'fold' ? 1 : 0}; i++) {
    const t = performance.now();
    const r = await handler(${what === 'get' ? 'get' : 'scheduled'}, ctx);
    times.push(performance.now() - t);
    if (r && r.body !== undefined) { bytes = Buffer.byteLength(r.body); result = String(r.statusCode); } else result = JSON.stringify(r && r.prune);
  }
  let burstMs = 0;
  if (${what === 'burst' ? 'true' : 'false'}) {
    const t = performance.now();
    const answers = await Promise.all(Array.from({ length: 20 }, () => handler(get, ctx)));
    burstMs = performance.now() - t;
    result = answers.filter((a) => a.statusCode === 200).length + ' of 20 answered 200';
  }
  const hwm = /VmHWM:\\s+(\\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  process.stdout.write(JSON.stringify({ coldMs: times[0], warmMs: times[1] ?? 0, burstMs, bytes, peakMb: Number(hwm[1]) / 1024, result }));
})().catch((e) => { console.error(e); process.exit(1); });`;
  const { stdout } = await run(process.execPath, ['--max-old-space-size=230', '-e', script], {
    env: {
      ...process.env,
      PUSHGATEWAY_URL: url,
      SERVICE_NAME: JOB,
      STAGE,
      LOG_LEVEL: 'ERROR',
      AWS_LAMBDA_FUNCTION_NAME: 'metrics',
      // GET /metrics gets the largest read budget the configuration allows (the default is
      // 2 s); the fold reads with 15 s, as the metrics job does (src/use-cases/metrics-job.ts).
      PUSHGATEWAY_QUERY_TIMEOUT_MS: '5000',
      // The warm request reads again (the answer is not reused); 20 at once still share one read.
      METRICS_ANSWER_REUSE_MS: '0',
      METRICS_GROUP_MAX_AGE_SECONDS: '900',
      FOLD_NOW_SECONDS: String(foldNowSeconds),
      KAFKA_BROKERS: '127.0.0.1:1',
      KAFKA_CONNECT_TIMEOUT_MS: '100',
    },
    maxBuffer: 1 << 20,
    timeout: 120_000,
  });
  return JSON.parse(stdout) as FunctionRun;
}

/** A run that failed is a row that says so, not the end of the benchmark. */
async function orFailure(run: Promise<FunctionRun>): Promise<FunctionRun> {
  try {
    return await run;
  } catch (error) {
    const message = /could not [^\n]*|timed out[^\n]*/.exec(String((error as { stderr?: string }).stderr ?? error))?.[0] ?? 'failed';
    return { coldMs: Number.NaN, warmMs: Number.NaN, burstMs: Number.NaN, bytes: 0, peakMb: Number.NaN, result: `failed: ${message}` };
  }
}

async function fill(pg: PrivateProcess, indices: number[], pushedAt: number[], segment = 's0'): Promise<number[]> {
  const latencies: number[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < indices.length) {
      const i = indices[next++] ?? 0;
      const fn = FUNCTIONS[i % FUNCTIONS.length] ?? 'http';
      const body = containerBody(fn, i);
      const started = performance.now();
      await groupRequest({
        url: pg.url,
        method: 'PUT',
        labels: { job: JOB, stage: STAGE, function: fn, instance: `env-${i}`, segment },
        body,
        timeoutMs: 60_000,
      });
      latencies.push(performance.now() - started);
      pushedAt[i] = Date.now() / 1000;
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  return latencies;
}

/** A real pusher re-pushing one realistic container's registry, 30 times. */
async function pushLatency(pg: PrivateProcess): Promise<number[]> {
  const metrics = createMetrics();
  for (const route of ['/', '/healthz', '/kafka/status', '/kafka/publish']) {
    metrics.httpRequests.inc({ route, method: 'GET', status: '200' }, 10);
    metrics.httpRequestDuration.observe({ route, method: 'GET' }, 0.003);
  }
  metrics.kafkaMessageSize.observe({ topic: 'sts-events' }, 300);
  const pusher = createMetricsPusher({
    metrics,
    url: pg.url,
    grouping: { job: JOB, stage: STAGE, function: 'http', instance: 'bench-pusher' },
    timeoutMs: 300,
    intervalMs: 0,
  });
  const samples: number[] = [];
  for (let i = 0; i < 30; i++) {
    metrics.httpRequests.inc({ route: '/', method: 'GET', status: '200' });
    const started = performance.now();
    const outcome = await pusher.push();
    samples.push(outcome === 'success' ? performance.now() - started : Number.POSITIVE_INFINITY);
  }
  return samples;
}

function ms(samples: number[], p: number): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const v = p === 100 ? sorted[sorted.length - 1] : percentile(sorted, p);
  return v === undefined || !Number.isFinite(v) ? 'timeout' : v.toFixed(0);
}

/** One code version on one Pushgateway flag set: its rows, N by N. */
async function measure(code: string, outfiles: { get: string; fold: string }, variant: string, perContainer: number[]): Promise<void> {
  const pg = await startPrivatePushgateway({ flags: flagSets[variant] ?? [] });
  try {
    const pushedAt: number[] = [];
    let have = 0;
    let series = 0;
    for (const size of sizes) {
      const fillLatencies = await fill(
        pg,
        Array.from({ length: size - have }, (_, k) => have + k),
        pushedAt,
      );
      for (let i = have; i < size; i++) series += perContainer[i % FUNCTIONS.length] ?? 0;
      have = size;
      const pushes = await pushLatency(pg);
      const get = await orFailure(inFunction(outfiles.get, pg.url, 'get'));
      // The fold's clock is set so that the 10 % oldest groups are past the maximum age;
      // they are folded and deleted, then pushed again (a new segment) for the next size.
      const byAge = pushedAt.map((t, i) => [t, i] as const).sort((a, b) => a[0] - b[0]);
      const cut = byAge[Math.floor(size / 10)]?.[0] ?? 0;
      const fold = await orFailure(inFunction(outfiles.fold, pg.url, 'fold', cut + 900 - 0.0001));
      await fill(
        pg,
        byAge.slice(0, Math.floor(size / 10)).map(([, i]) => i),
        pushedAt,
        `s${size}`,
      );
      // Last: 20 requests at once (in a function that does not share one read, the Pushgateway
      // renders every group 20 times, which would slow whatever came next).
      const burst = await orFailure(inFunction(outfiles.get, pg.url, 'burst'));
      await new Promise((resolve) => setTimeout(resolve, 5000));
      console.log(
        `| ${code} | ${variant} | ${size} | ${series} | ${ms(fillLatencies, 50)} / ${ms(fillLatencies, 99)} | ${ms(pushes, 50)} / ${ms(pushes, 99)} / ${ms(pushes, 100)} | ${get.coldMs.toFixed(0)} / ${get.warmMs.toFixed(0)} (${get.result}) | ${burst.burstMs.toFixed(0)} (${burst.result}) | ${(get.bytes / 1024).toFixed(0)} | ${get.peakMb.toFixed(0)} | ${fold.coldMs.toFixed(0)}, ${fold.peakMb.toFixed(0)} ${fold.result} | ${(pg.rssBytes() / 2 ** 20).toFixed(0)} / ${(pg.peakRssBytes() / 2 ** 20).toFixed(0)} |`,
      );
    }
  } finally {
    await pg.stop();
  }
}

async function main(): Promise<void> {
  const versions = [{ code: 'this checkout', root: repo }];
  if (baseline) versions.push({ code: baseline, root: await exportTree(baseline) });
  // The machine's load drifts during a run: a second run in the other order tells it from the code.
  if (process.argv[6] === 'baseline-first') versions.reverse();
  const built = [];
  for (const version of versions) built.push({ ...version, outfiles: await bundles(version.root) });
  const perContainer = FUNCTIONS.map((fn) => seriesIn(containerBody(fn, 1)));
  console.log(`profile ${profile}: series per container by function ${FUNCTIONS.map((f, i) => `${f} ${perContainer[i]}`).join(', ')}`);
  console.log(
    '| code | flags | containers | series in the Pushgateway | fill push p50 / p99 ms | pusher push p50 / p99 / max ms | GET /metrics cold / warm ms | 20 GET /metrics at once ms | answer KB | function peak RSS MB | fold of 10 % ms, peak RSS MB | Pushgateway RSS / peak MB |',
  );
  console.log('| --- | --- | ---: | ---: | --- | --- | --- | ---: | ---: | ---: | --- | --- |');
  try {
    for (const variant of variants) for (const version of built) await measure(version.code, version.outfiles, variant, perContainer);
  } finally {
    for (const version of built) {
      rmSync(path.dirname(version.outfiles.get), { recursive: true, force: true });
      if (version.root !== repo) rmSync(version.root, { recursive: true, force: true });
    }
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
