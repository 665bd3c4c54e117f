/**
 * Pushing one container's registry to the Pushgateway.
 *
 * - PUT (prom-client's `push`), not POST: the registry is cumulative and this container
 *   is the only writer of its group, so replacing the whole group is exact, and a series
 *   the container no longer has disappears with it. POST would only replace same-named
 *   families and keep the rest.
 * - Grouping {job: service, function, instance: execution environment id}: containers
 *   never overwrite each other; the metrics function sums them per function.
 * - Awaited inside the invocation, never left running: Lambda freezes the container
 *   once the response is returned, so a push in the background may stall until the next
 *   invocation thaws it (its socket long dead) or never finish at all.
 * - At most once per `intervalMs` (METRICS_PUSH_INTERVAL_MS, 10 s by default), and always
 *   on a container's first invocation: most invocations pay nothing, one pays one HTTP
 *   round trip. Measured (BENCHMARKS.md, "Metrics push overhead"): a push on every invocation costs
 *   3-5 ms at p50 locally (the Pushgateway checks each push against all its groups); once
 *   per 10 s it is 0.01-0.02 ms at p50, under 0.5 ms amortised. The price: what a
 *   container counted after its last push is lost when Lambda reaps it (Lambda gives a
 *   function without extensions no shutdown hook), i.e. at most the invocations of its
 *   last `intervalMs` of activity, about interval / (2 x active lifetime) of its counts;
 *   a container whose invocations are further apart than the interval pushes on every
 *   one and loses nothing. METRICS_PUSH_INTERVAL_MS=0 pushes on every invocation.
 * - Bounded: the request is aborted after `timeoutMs` (300 ms at most); a failure never
 *   throws, is counted in pushgateway_pushes_total{outcome} and logged once, and the next
 *   attempt backs off (the interval, at least 1 s, doubled per consecutive failure, up to
 *   a minute) so an unreachable Pushgateway costs one timeout per back-off, not one per
 *   invocation.
 * - No keep-alive: a socket kept across a freeze is often dead on thaw, and a new local
 *   connection costs far less than a failed push.
 */
import http from 'node:http';
import https from 'node:https';
import { performance } from 'node:perf_hooks';
import { Pushgateway } from './prom-client';
import type { Config } from '../config';
import type { Logger } from '../logger';
import { executionEnvironmentId } from '../runtime';
import type { ServiceMetrics } from './registry';

export interface PushGrouping {
  job: string;
  function: string;
  instance: string;
}

export type PushOutcome = 'success' | 'error' | 'timeout';

export interface MetricsPusher {
  readonly grouping: PushGrouping;
  /** Pushes when the interval (or the back-off after a failure) has passed; never throws. */
  pushIfDue(): Promise<PushOutcome | 'skipped'>;
  /** Pushes now, whatever the interval; never throws. */
  push(): Promise<PushOutcome>;
}

type PushLogger = Pick<Logger, 'warn' | 'info'>;

export interface MetricsPusherParams {
  metrics: Pick<ServiceMetrics, 'registry' | 'pushgatewayPushes'>;
  url: string;
  grouping: PushGrouping;
  timeoutMs: number;
  intervalMs: number;
  logger?: PushLogger;
  /** Milliseconds on a monotonic clock; injectable for tests. */
  now?: () => number;
  /** Sends one push; prom-client's Pushgateway (PUT) by default, injectable for tests. */
  send?: PushSender;
}

export type PushSender = (push: {
  url: string;
  registry: ServiceMetrics['registry'];
  grouping: PushGrouping;
  timeoutMs: number;
  signal: AbortSignal;
}) => Promise<void>;

export const MAX_PUSH_TIMEOUT_MS = 300;
const MIN_FAILURE_BACKOFF_MS = 1000;
const MAX_FAILURE_BACKOFF_MS = 60_000;

const agents = { http: new http.Agent({ keepAlive: false }), https: new https.Agent({ keepAlive: false }) };

/** PUT /metrics/job/<job>/function/<function>/instance/<instance> with the registry's text. */
export const putToPushgateway: PushSender = async ({ url, registry, grouping, timeoutMs, signal }) => {
  const { job, ...groupings } = grouping;
  const agent = url.startsWith('https:') ? agents.https : agents.http;
  // A new Pushgateway object per push carries this push's abort signal; constructing one
  // only stores its arguments. `timeout` also bounds the connect.
  const gateway = new Pushgateway(url, { timeout: timeoutMs, signal, agent }, registry);
  await gateway.push({ jobName: job, groupings });
};

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function createMetricsPusher(params: MetricsPusherParams): MetricsPusher {
  const { metrics, url, grouping, intervalMs, logger } = params;
  const timeoutMs = Math.min(params.timeoutMs, MAX_PUSH_TIMEOUT_MS);
  const now = params.now ?? (() => performance.now());
  const send = params.send ?? putToPushgateway;

  let nextDue = Number.NEGATIVE_INFINITY;
  let consecutiveFailures = 0;
  let inFlight: Promise<PushOutcome> | undefined;

  async function attempt(): Promise<PushOutcome> {
    const started = now();
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    let outcome: PushOutcome;
    let failure: string | undefined;
    try {
      await send({ url, registry: metrics.registry, grouping, timeoutMs, signal: controller.signal });
      outcome = 'success';
    } catch (error) {
      outcome = controller.signal.aborted || /timed out/i.test(errorMessage(error)) ? 'timeout' : 'error';
      failure = errorMessage(error);
    } finally {
      clearTimeout(timer);
    }
    metrics.pushgatewayPushes.inc({ outcome });

    if (outcome === 'success') {
      if (consecutiveFailures > 0) {
        logger?.info('metrics push recovered', { pushgateway: url, after_failures: consecutiveFailures });
      }
      consecutiveFailures = 0;
      nextDue = started + intervalMs;
    } else {
      consecutiveFailures += 1;
      const backoff = Math.min(
        Math.max(intervalMs, MAX_FAILURE_BACKOFF_MS),
        Math.max(intervalMs, MIN_FAILURE_BACKOFF_MS) * 2 ** (consecutiveFailures - 1),
      );
      nextDue = started + backoff;
      logger?.warn('metrics push failed', {
        pushgateway: url,
        outcome,
        error: failure,
        consecutive_failures: consecutiveFailures,
        next_attempt_in_ms: Math.round(backoff),
      });
    }
    return outcome;
  }

  function push(): Promise<PushOutcome> {
    // Concurrent invocations (serverless-offline in-process) share one push.
    inFlight ??= attempt().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  }

  function pushIfDue(): Promise<PushOutcome | 'skipped'> {
    if (inFlight || now() < nextDue) return Promise.resolve('skipped');
    return push();
  }

  return { grouping, push, pushIfDue };
}

const containerPushers = new Map<string, MetricsPusher>();

/**
 * This execution environment's pusher, configured from PUSHGATEWAY_URL,
 * PUSHGATEWAY_TIMEOUT_MS and METRICS_PUSH_INTERVAL_MS, grouped by {job: SERVICE_NAME,
 * function: the Lambda function's name, instance: the execution environment id}.
 */
export function containerPusher(params: {
  config: Pick<Config, 'service' | 'pushgateway' | 'metrics' | 'runtime'>;
  metrics: MetricsPusherParams['metrics'];
  logger?: PushLogger;
}): MetricsPusher {
  const { config, metrics, logger } = params;
  const grouping: PushGrouping = {
    job: config.service.name,
    function: config.runtime.functionName,
    instance: executionEnvironmentId(config.runtime),
  };
  const key = JSON.stringify([config.pushgateway.url, grouping]);
  let pusher = containerPushers.get(key);
  if (!pusher) {
    const options: MetricsPusherParams = {
      metrics,
      url: config.pushgateway.url,
      grouping,
      timeoutMs: config.pushgateway.timeoutMs,
      intervalMs: config.metrics.pushIntervalMs,
    };
    if (logger) options.logger = logger;
    pusher = createMetricsPusher(options);
    containerPushers.set(key, pusher);
  }
  return pusher;
}
