/**
 * The container's metrics: one private prom-client Registry per execution environment
 * holding every metric of METRIC_DEFINITIONS. Nothing is registered in prom-client's
 * global registry, so two instances (two simulated containers in a test) never share
 * a count.
 */
import { OVERFLOW_LABEL_VALUE } from '@simple-time-service/fleet-metrics';
import { Counter, Gauge, Histogram, Registry } from './prom-client';
import type { Config } from '../config';
import { buildInfo } from './build';
import { METRIC_DEFINITIONS } from './definitions';
import type { MetricDefinition, MetricKey } from './definitions';

type Defs = typeof METRIC_DEFINITIONS;
type LabelsOf<D> = D extends { labelNames: readonly (infer L)[] } ? Extract<L, string> : never;
type MetricFor<D> = D extends { type: 'counter' }
  ? Counter<LabelsOf<D>>
  : D extends { type: 'gauge' }
    ? Gauge<LabelsOf<D>>
    : Histogram<LabelsOf<D>>;

export type MetricInstances = { readonly [K in MetricKey]: MetricFor<Defs[K]> };

export interface ServiceMetrics extends MetricInstances {
  readonly registry: Registry;
}

export { OVERFLOW_LABEL_VALUE };
const MAX_LABEL_VALUE_LENGTH = 128;

/**
 * Caps the distinct values of a label in one container: the first `max` values are kept
 * as they are, later new ones become "other". Per container (METRICS_MAX_LABEL_VALUES);
 * GET /metrics and the retired totals cap the same labels again for the whole fleet
 * (METRICS_FLEET_MAX_LABEL_VALUES, the fleet-metrics package's aggregate).
 */
class LabelBudget {
  private readonly seen = new Map<string, Set<string>>();

  constructor(private readonly max: number) {}

  bound(key: string, value: string): string {
    let values = this.seen.get(key);
    if (!values) {
      values = new Set();
      this.seen.set(key, values);
    }
    const trimmed = value.length > MAX_LABEL_VALUE_LENGTH ? value.slice(0, MAX_LABEL_VALUE_LENGTH) : value;
    if (values.has(trimmed)) return trimmed;
    if (values.size >= this.max) return OVERFLOW_LABEL_VALUE;
    values.add(trimmed);
    return trimmed;
  }
}

type LabelObject = Record<string, string | number>;

function isLabelObject(value: unknown): value is LabelObject {
  return typeof value === 'object' && value !== null;
}

/**
 * Routes every label object given to a metric's recording methods through the budget,
 * so a call site cannot forget to bound an outside value.
 */
function guardLabels(metric: object, key: MetricKey, definition: MetricDefinition, budget: LabelBudget): void {
  const bounded = definition.bounded ?? [];
  if (bounded.length === 0) return;
  const boundObject = (labels: LabelObject): LabelObject => {
    const out: LabelObject = { ...labels };
    for (const name of bounded) {
      const value = out[name];
      if (value !== undefined) out[name] = budget.bound(`${key}.${name}`, String(value));
    }
    return out;
  };
  const target = metric as Record<string, unknown>;
  for (const method of ['inc', 'dec', 'set', 'observe', 'startTimer', 'labels', 'remove']) {
    const original = target[method];
    if (typeof original !== 'function') continue;
    const call = original as (...args: unknown[]) => unknown;
    target[method] = (...args: unknown[]): unknown => {
      if (isLabelObject(args[0])) {
        args[0] = boundObject(args[0]);
      } else if ((method === 'labels' || method === 'remove') && args.length > 0) {
        // Positional label values, in labelNames order.
        args = args.map((value, index) => {
          const name = definition.labelNames[index];
          return name !== undefined && bounded.includes(name) ? budget.bound(`${key}.${name}`, String(value)) : value;
        });
      }
      return call.apply(metric, args);
    };
  }
}

function build(definition: MetricDefinition, registry: Registry): object {
  const common = {
    name: definition.name,
    help: definition.help,
    labelNames: [...definition.labelNames],
    registers: [registry],
  };
  switch (definition.type) {
    case 'counter':
      return new Counter(common);
    case 'gauge':
      return new Gauge(common);
    case 'histogram':
      return new Histogram({ ...common, buckets: [...(definition.buckets ?? [])] });
  }
}

/** Records nothing: a metric switched off keeps its type but never has a series. */
function silence(metric: object): void {
  const target = metric as Record<string, unknown>;
  const noop = (): void => undefined;
  for (const method of ['inc', 'dec', 'set', 'observe']) if (typeof target[method] === 'function') target[method] = noop;
  target.labels = () => ({ inc: noop, dec: noop, set: noop, observe: noop });
}

/**
 * Every metric of METRIC_DEFINITIONS in `registry` (a new private one by default).
 * `perCaller: false` switches caller_requests_total off (client ips are personal data and
 * grow with the callers); the service's containers follow METRICS_PER_CALLER, off by default.
 */
export function createMetrics(params: { registry?: Registry; maxLabelValues?: number; perCaller?: boolean } = {}): ServiceMetrics {
  const registry = params.registry ?? new Registry();
  const budget = new LabelBudget(params.maxLabelValues ?? 20);
  const instances: Record<string, object> = {};
  for (const [key, definition] of Object.entries(METRIC_DEFINITIONS) as Array<[MetricKey, MetricDefinition]>) {
    const metric = build(definition, registry);
    guardLabels(metric, key, definition, budget);
    if (key === 'callerRequests' && params.perCaller === false) silence(metric);
    instances[key] = metric;
  }
  // The loop above created exactly one instance of the right class per key.
  const metrics: ServiceMetrics = { registry, ...(instances as unknown as MetricInstances) };
  startAtZero(metrics);
  return metrics;
}

/** A push's outcomes (src/fleet-metrics/src/push.ts). */
export const PUSH_OUTCOMES = ['success', 'error', 'timeout'] as const;

/**
 * Every container's series whose label values are known before anything happens: the
 * push outcomes at 0 (a first failure is then a rise, not a new series, and a panel shows 0,
 * not "no data") and build_info.
 */
function startAtZero(metrics: ServiceMetrics): void {
  for (const outcome of PUSH_OUTCOMES) metrics.pushgatewayPushes.inc({ outcome }, 0);
  metrics.buildInfo.set({ ...buildInfo() }, 1);
}

/**
 * A consumer function's counters at 0 before its first record: duplicates_suppressed_total
 * per event type it alone handles (else per topic), and error_events_total when it handles
 * error events (no label: the error types and reporting services are not known before).
 */
export function startConsumerCountersAtZero(
  metrics: Pick<MetricInstances, 'duplicatesSuppressed' | 'errorEvents'>,
  fn: { topic: string; eventTypes: readonly string[] | undefined },
): void {
  if (fn.eventTypes === undefined) metrics.duplicatesSuppressed.inc({ topic: fn.topic }, 0);
  for (const eventType of fn.eventTypes ?? []) metrics.duplicatesSuppressed.inc({ topic: fn.topic, event_type: eventType }, 0);
  if (fn.eventTypes?.includes('error')) metrics.errorEvents.inc({}, 0);
}

let containerInstance: ServiceMetrics | undefined;

/** This execution environment's metrics, created on first use and kept for its life. */
export function containerMetrics(config: Pick<Config, 'metrics'>): ServiceMetrics {
  containerInstance ??= createMetrics({ maxLabelValues: config.metrics.maxLabelValues, perCaller: config.metrics.perCaller });
  return containerInstance;
}
