/**
 * Pushing one container's registry to the Pushgateway, inside the invocation (Lambda
 * freezes the container once it answers, so a push left running may never finish).
 * - PUT, not POST: the container is its group's only writer and its registry is
 *   cumulative, so replacing the whole group is exact.
 * - Grouped by {job, stage, function, instance: execution environment id, segment}: no
 *   container overwrites another; `segment` is new per process and after an idle gap longer
 *   than a group may live, so a group is never replaced with smaller counts nor counted twice.
 * - At most once per METRICS_PUSH_INTERVAL_MS and on a container's first invocation: most
 *   invocations pay nothing. Where the runtime does not freeze (serverless offline), a timer
 *   pushes what the last invocations left once the interval is over; on Lambda it waits for
 *   the container's next invocation, or its shutdown (`flush`).
 * - Bounded (300 ms at most), never throws, backs off after failures; no keep-alive, since a
 *   socket kept across a freeze is often dead on thaw.
 */
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { errorMessage } from './errors';
import { expositionText } from './exposition';
import type { FamilyOut, FamilyType, HistogramValue, LabelPairs } from './exposition';
import { groupRequest } from './pushgateway';

export interface PushGrouping {
  job: string;
  stage: string;
  function: string;
  instance: string;
}

/** A container group's full key: the grouping and the process's current segment. */
export type PushGroupKey = PushGrouping & { segment: string };

export type PushOutcome = 'success' | 'error' | 'timeout';

export interface MetricsPusher {
  /** The group the next push goes to (its segment changes after a long idle gap). */
  readonly grouping: PushGroupKey;
  /** Pushes when the interval (or the back-off after a failure) has passed; never throws. */
  pushIfDue(): Promise<PushOutcome | 'skipped'>;
  /** Pushes now, whatever the interval; never throws. */
  push(): Promise<PushOutcome>;
  /** Waits for a push in flight, then pushes everything counted; never throws. */
  flush(): Promise<PushOutcome>;
}

/** Where a pusher says that pushes failed, and that they recovered. */
export interface PushLogger {
  warn(message: string, fields: Record<string, unknown>): void;
  info(message: string, fields: Record<string, unknown>): void;
}

/**
 * What a pusher reads and counts: a prom-client Registry (its getMetricsAsJSON), and a
 * counter of its own pushes by outcome.
 */
export interface PushedMetrics {
  registry: { getMetricsAsJSON(): Promise<unknown> };
  pushgatewayPushes: { inc(labels: { outcome: PushOutcome }): void };
}

export interface MetricsPusherParams {
  metrics: PushedMetrics;
  url: string;
  grouping: PushGrouping;
  timeoutMs: number;
  intervalMs: number;
  /** METRICS_GROUP_MAX_AGE_SECONDS: a segment idle for this less a minute is not pushed to again. */
  groupMaxAgeSeconds?: number;
  logger?: PushLogger;
  /** Milliseconds on a monotonic clock; injectable for tests. */
  now?: () => number;
  /** Milliseconds since the epoch (the wall clock); injectable for tests. */
  wallNow?: () => number;
  /** Sends one push (PUT of the group); injectable for tests. */
  send?: PushSender;
  /**
   * The runtime does not freeze between invocations (serverless offline, not Lambda): counts
   * an invocation left unpushed are pushed by a timer when the interval is over, without
   * waiting for the next invocation.
   */
  flushBetweenInvocations?: boolean;
  /** Runs `flush` in `ms` (an unref'd timer by default); returns how to cancel it. Injectable for tests. */
  schedule?: (flush: () => void, ms: number) => () => void;
}

export type PushSender = (push: {
  url: string;
  grouping: PushGroupKey;
  body: string;
  timeoutMs: number;
  signal: AbortSignal;
}) => Promise<void>;

export const MAX_PUSH_TIMEOUT_MS = 300;
/** Kept between a segment's last push and the prune that may delete its group. */
export const GROUP_AGE_MARGIN_SECONDS = 60;
const DEFAULT_GROUP_MAX_AGE_SECONDS = 900;
const MIN_FAILURE_BACKOFF_MS = 1000;
const MAX_FAILURE_BACKOFF_MS = 60_000;
/** The longest delay setTimeout honours (2^31 - 1 ms). */
const MAX_TIMER_MS = 2_147_483_647;

/** An unref'd timer: it never keeps a process alive by itself. */
const unrefTimer = (flush: () => void, ms: number): (() => void) => {
  const timer = setTimeout(flush, Math.min(Math.max(Math.ceil(ms), 1), MAX_TIMER_MS));
  timer.unref();
  return () => clearTimeout(timer);
};

/** PUT /metrics/job@base64/…/stage@base64/…/function@base64/…/instance@base64/…/segment@base64/… */
export const putToPushgateway: PushSender = ({ url, grouping, body, timeoutMs, signal }) =>
  groupRequest({ url, method: 'PUT', labels: { ...grouping }, body, timeoutMs, signal });

function newSegment(): string {
  return randomBytes(6).toString('hex');
}

/** Cumulative values by family and series, as last sent: what a segment's group may hold. */
type Snapshot = Map<string, Map<string, number | HistogramValue>>;

interface JsonSample {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

interface JsonMetric {
  name: string;
  help: string;
  type: string;
  values: JsonSample[];
}

function labelPairs(labels: Record<string, string | number>): Array<[string, string]> {
  return Object.keys(labels)
    .filter((name) => name !== 'le')
    .sort()
    .map((name) => [name, String(labels[name])]);
}

function pairsKey(pairs: LabelPairs): string {
  return pairs.map(([n, v]) => `${n}\u0000${v}`).join('\u0001');
}

/** prom-client's JSON form (getMetricsAsJSON) as families, histograms regrouped. */
function familiesOf(
  metrics: JsonMetric[],
): Array<{ name: string; help: string; type: FamilyType; series: Map<string, { labels: LabelPairs; value: number | HistogramValue }> }> {
  const out = [];
  for (const metric of metrics) {
    const type = metric.type as FamilyType;
    if (type !== 'counter' && type !== 'gauge' && type !== 'histogram') continue;
    const series = new Map<string, { labels: LabelPairs; value: number | HistogramValue }>();
    for (const v of metric.values) {
      const labels = labelPairs(v.labels);
      const key = pairsKey(labels);
      if (type !== 'histogram') {
        series.set(key, { labels, value: v.value });
        continue;
      }
      let entry = series.get(key);
      if (!entry) {
        entry = { labels, value: { buckets: new Map<number, number>(), sum: 0, count: 0 } };
        series.set(key, entry);
      }
      const h = entry.value as { buckets: Map<number, number>; sum: number; count: number };
      if (v.metricName?.endsWith('_bucket')) {
        const le = v.labels.le;
        h.buckets.set(le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le), v.value);
      } else if (v.metricName?.endsWith('_sum')) h.sum = v.value;
      else if (v.metricName?.endsWith('_count')) h.count = v.value;
    }
    out.push({ name: metric.name, help: metric.help, type, series });
  }
  return out;
}

function minus(value: number | HistogramValue, base: number | HistogramValue | undefined, type: FamilyType): number | HistogramValue {
  if (base === undefined || type === 'gauge') return value;
  if (typeof value === 'number') return typeof base === 'number' ? value - base : value;
  if (typeof base === 'number') return value;
  const buckets = new Map<number, number>();
  for (const [le, count] of value.buckets) buckets.set(le, count - (base.buckets.get(le) ?? 0));
  return { buckets, sum: value.sum - base.sum, count: value.count - base.count };
}

/**
 * The push body: the registry, minus `base` (the counts an earlier segment's group
 * already holds), and the snapshot of the cumulative values it stands for.
 */
async function pushBody(registry: PushedMetrics['registry'], base: Snapshot): Promise<{ body: string; snapshot: Snapshot }> {
  const families = familiesOf((await registry.getMetricsAsJSON()) as JsonMetric[]);
  const snapshot: Snapshot = new Map();
  const out: FamilyOut[] = [];
  for (const family of families) {
    const cumulative = new Map<string, number | HistogramValue>();
    const baseFamily = base.get(family.name);
    const series = [];
    for (const [key, { labels, value }] of family.series) {
      cumulative.set(key, value);
      const delta = minus(value, baseFamily?.get(key), family.type);
      series.push(typeof delta === 'number' ? { labels, value: delta } : { labels, histogram: delta });
    }
    snapshot.set(family.name, cumulative);
    out.push({ name: family.name, help: family.help, type: family.type, series });
  }
  return { body: expositionText(out), snapshot };
}

/** A moment on both clocks. */
interface IdleMark {
  monotonic: number;
  wall: number;
}

/**
 * How long a segment has been idle, on the clock that saw more of it. performance.now() may
 * stand still while Lambda freezes the container (a container thawed after its group was
 * folded would push into it again: counted twice); the wall clock moves on, but NTP may set
 * it back. Taking the larger of the two only ever starts a new segment early, which is safe.
 */
function idleClock(monotonic: () => number, wall: () => number) {
  return {
    mark: (): IdleMark => ({ monotonic: monotonic(), wall: wall() }),
    since: (mark: IdleMark): number => Math.max(monotonic() - mark.monotonic, wall() - mark.wall),
  };
}

/**
 * When the next push is due: the interval after a success; after failures a back-off that
 * doubles from the interval (at least a second) up to a minute (or the interval, if
 * longer). Logs a failure, and the recovery after failures.
 */
function pushSchedule(params: { intervalMs: number; url: string; logger: PushLogger | undefined }) {
  const { intervalMs, url, logger } = params;
  let nextDue = Number.NEGATIVE_INFINITY;
  let consecutiveFailures = 0;
  return {
    get nextDue(): number {
      return nextDue;
    },
    /** Records the outcome of the push that began at `started`. */
    settle(outcome: PushOutcome, started: number, failure: string | undefined): void {
      if (outcome === 'success') {
        if (consecutiveFailures > 0) logger?.info('metrics push recovered', { pushgateway: url, after_failures: consecutiveFailures });
        consecutiveFailures = 0;
        nextDue = started + intervalMs;
        return;
      }
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
    },
  };
}

export function createMetricsPusher(params: MetricsPusherParams): MetricsPusher {
  const { metrics, url } = params;
  const timeoutMs = Math.min(params.timeoutMs, MAX_PUSH_TIMEOUT_MS);
  const now = params.now ?? (() => performance.now());
  const idle = idleClock(now, params.wallNow ?? Date.now);
  const send = params.send ?? putToPushgateway;
  const rotateAfterMs = ((params.groupMaxAgeSeconds ?? DEFAULT_GROUP_MAX_AGE_SECONDS) - GROUP_AGE_MARGIN_SECONDS) * 1000;

  const due = pushSchedule({ intervalMs: params.intervalMs, url, logger: params.logger });

  let grouping: PushGroupKey = { ...params.grouping, segment: newSegment() };
  let inFlight: Promise<PushOutcome> | undefined;
  /** Counts that earlier segments' groups hold (subtracted from every push). */
  let base: Snapshot = new Map();
  /** What the current segment's group may hold: the last push sent to it, applied or not. */
  let lastSent: Snapshot | undefined;
  /** Start of the segment's last successful push (or of its first attempt): its group is no older. */
  let touchedAt: IdleMark | undefined;

  async function attempt(): Promise<PushOutcome> {
    const started = now();
    const mark = idle.mark();
    if (touchedAt !== undefined && idle.since(touchedAt) > rotateAfterMs) {
      // The group may be past its maximum age: pruned, its counts in the retired totals.
      base = lastSent ?? base;
      grouping = { ...params.grouping, segment: newSegment() };
      touchedAt = undefined;
      lastSent = undefined;
    }
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    let outcome: PushOutcome;
    let failure: string | undefined;
    try {
      const { body, snapshot } = await pushBody(metrics.registry, base);
      lastSent = snapshot;
      touchedAt ??= mark;
      await send({ url, grouping, body, timeoutMs, signal: controller.signal });
      outcome = 'success';
      touchedAt = mark;
    } catch (error) {
      outcome = controller.signal.aborted || /timed out/i.test(errorMessage(error)) ? 'timeout' : 'error';
      failure = errorMessage(error);
    } finally {
      clearTimeout(timer);
    }
    metrics.pushgatewayPushes.inc({ outcome });
    due.settle(outcome, started, failure);
    return outcome;
  }

  function push(): Promise<PushOutcome> {
    // Concurrent invocations (serverless-offline in-process) share one push.
    inFlight ??= attempt().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  }

  let cancelFlush: (() => void) | undefined;
  const schedule = params.schedule ?? unrefTimer;

  /**
   * What an invocation left unpushed (skipped, or a failed push) is pushed when it is due,
   * by a timer, where the runtime runs between invocations; one timer at a time.
   */
  function flushWhenDue(result: PushOutcome | 'skipped'): void {
    if (!params.flushBetweenInvocations || result === 'success' || cancelFlush) return;
    // A push in flight sets the next due time when it ends: wait for it, then look again.
    cancelFlush = schedule(
      () => {
        cancelFlush = undefined;
        void (inFlight ?? Promise.resolve()).then(pushIfDue);
      },
      inFlight ? 0 : Math.max(due.nextDue - now(), 0),
    );
  }

  async function pushIfDue(): Promise<PushOutcome | 'skipped'> {
    const result = inFlight || now() < due.nextDue ? 'skipped' : await push();
    flushWhenDue(result);
    return result;
  }

  async function flush(): Promise<PushOutcome> {
    await inFlight;
    return push();
  }

  return {
    get grouping() {
      return grouping;
    },
    push,
    pushIfDue,
    flush,
  };
}
