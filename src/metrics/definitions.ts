/**
 * Every metric the service exports, in one typed table: a call site reads
 * `metrics.kafkaMessagesSent.inc({ topic, status })` and the label names are checked by
 * the compiler. The original service's five Kafka metrics keep their names and labels exactly
 * (docs/compatibility.md).
 *
 * A metric's name and type never change once released: the Pushgateway rejects a push
 * whose type disagrees with a group already there (an old container's), while a changed
 * help text is accepted. Rename instead.
 *
 * Labels whose values come from outside (a caller's IP, a path, an error or command type
 * chosen by whoever published the event) are listed in `bounded`: each container keeps
 * at most METRICS_MAX_LABEL_VALUES distinct values per such label and records the rest as
 * "other", so no caller can grow the Pushgateway or Prometheus without limit.
 */
import type { FamilyCatalog } from '@simple-time-service/fleet-metrics';

export type MetricType = 'counter' | 'gauge' | 'histogram';

export interface MetricDefinition {
  type: MetricType;
  name: string;
  help: string;
  labelNames: readonly string[];
  buckets?: readonly number[];
  bounded?: readonly string[];
}

/** Seconds: sub-millisecond handlers up to the function's own timeout. */
const SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

export const METRIC_DEFINITIONS = {
  // ---- the original service's metrics: producer
  kafkaMessagesSent: {
    type: 'counter',
    name: 'kafka_messages_sent_total',
    help: 'Kafka records sent, by topic and outcome (success or error).',
    labelNames: ['topic', 'status'],
  },
  kafkaMessageSize: {
    type: 'histogram',
    name: 'kafka_message_size_bytes',
    help: 'Size of the Kafka records sent (key, value and headers), in bytes.',
    labelNames: ['topic'],
    buckets: [64, 128, 256, 512, 1024, 2048, 4096, 8192, 16_384, 65_536, 262_144, 1_048_576],
  },
  // ---- the original service's metrics: consumers
  kafkaMessagesReceived: {
    type: 'counter',
    name: 'kafka_messages_received_total',
    help: 'Kafka records received by the consumer functions, by topic, event type and outcome (processed, duplicate, skipped, dead_lettered, failed).',
    labelNames: ['topic', 'event_type', 'status'],
    bounded: ['event_type'],
  },
  kafkaMessageProcessTime: {
    type: 'histogram',
    name: 'kafka_message_process_time_seconds',
    help: 'Time a consumer function spent on one record, in seconds.',
    labelNames: ['topic', 'event_type'],
    buckets: SECONDS,
    bounded: ['event_type'],
  },
  kafkaConsumerLag: {
    type: 'histogram',
    name: 'kafka_consumer_lag_ms',
    help: 'Time from a record being written (its Kafka timestamp) to a consumer function handling it, in milliseconds.',
    labelNames: ['topic'],
    buckets: [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000, 300_000, 900_000],
  },
  // ---- HTTP function
  httpRequests: {
    type: 'counter',
    name: 'http_requests_total',
    help: 'HTTP requests answered, by route template, method and status code.',
    labelNames: ['route', 'method', 'status'],
    bounded: ['route', 'method'],
  },
  httpRequestDuration: {
    type: 'histogram',
    name: 'http_request_duration_seconds',
    help: 'Time from the request reaching the function to its answer, in seconds.',
    labelNames: ['route', 'method'],
    buckets: SECONDS,
    bounded: ['route', 'method'],
  },
  // ---- consumer handlers
  callerRequests: {
    type: 'counter',
    name: 'caller_requests_total',
    help: 'Requests seen in http_request events, by caller IP (at most METRICS_MAX_LABEL_VALUES per container, the rest "other").',
    labelNames: ['caller'],
    bounded: ['caller'],
  },
  httpResponseTime: {
    type: 'histogram',
    name: 'http_response_time_seconds',
    help: 'Time the HTTP function took to produce an answer (the Kafka send of its http_request event included), as reported by http_response events, by endpoint and status code, in seconds.',
    labelNames: ['endpoint', 'status'],
    buckets: SECONDS,
    bounded: ['endpoint', 'status'],
  },
  errorEvents: {
    type: 'counter',
    name: 'error_events_total',
    help: 'Error events handled, by error type and the service that reported it.',
    labelNames: ['error_type', 'service'],
    bounded: ['error_type', 'service'],
  },
  commands: {
    type: 'counter',
    name: 'commands_total',
    help: 'Commands handled, by command type and outcome (processed, rejected, failed).',
    labelNames: ['command_type', 'outcome'],
    bounded: ['command_type'],
  },
  deadLetters: {
    type: 'counter',
    name: 'dead_letters_total',
    help: 'Records sent to the dead-letter topic, by source topic and reason.',
    labelNames: ['topic', 'reason'],
    bounded: ['reason'],
  },
  duplicatesSuppressed: {
    type: 'counter',
    name: 'duplicates_suppressed_total',
    help: 'Redelivered records whose effect was not repeated (same event id), by topic and event type.',
    labelNames: ['topic', 'event_type'],
    bounded: ['event_type'],
  },
  // ---- the metrics pipeline itself
  pushgatewayPushes: {
    type: 'counter',
    name: 'pushgateway_pushes_total',
    help: "Pushes of this container's metrics to the Pushgateway, by outcome (success, error, timeout); a push is counted in the next one.",
    labelNames: ['outcome'],
  },
  metricsTasks: {
    type: 'counter',
    name: 'metrics_function_tasks_total',
    help: 'Scheduled tasks of the metrics function (lag, prune), by outcome (success, error).',
    labelNames: ['task', 'outcome'],
  },
  buildInfo: {
    type: 'gauge',
    name: 'build_info',
    help: 'Always 1: the running build, by version (package.json) and commit (the git commit it was packaged from).',
    labelNames: ['version', 'commit'],
  },
  consumerGroupLag: {
    type: 'gauge',
    name: 'kafka_consumergroup_lag',
    help: 'Records not yet consumed: end offset minus committed offset, per consumer group, topic and partition (set by the metrics function every minute).',
    labelNames: ['group', 'topic', 'partition'],
  },
} as const satisfies Record<string, MetricDefinition>;

export type MetricKey = keyof typeof METRIC_DEFINITIONS;

/** The sample names each metric appears under in the text format (a histogram has three). */
export function seriesNames(definition: Pick<MetricDefinition, 'type' | 'name'>): string[] {
  if (definition.type === 'histogram') {
    return [`${definition.name}_bucket`, `${definition.name}_sum`, `${definition.name}_count`];
  }
  return [definition.name];
}

/** Every metric and sample name the service exports (for the dashboard check and docs). */
export function exportedMetricNames(): Set<string> {
  const names = new Set<string>();
  for (const definition of Object.values(METRIC_DEFINITIONS)) {
    names.add(definition.name);
    for (const series of seriesNames(definition)) names.add(series);
  }
  return names;
}

const BY_NAME = new Map<string, MetricDefinition>(Object.values(METRIC_DEFINITIONS).map((d) => [d.name, d]));

export function definitionByName(name: string): MetricDefinition | undefined {
  return BY_NAME.get(name);
}

/** The service's metrics as the fleet protocol knows them: help, capped labels, order. */
export const SERVICE_CATALOG: FamilyCatalog = {
  order: Object.values(METRIC_DEFINITIONS).map((d) => d.name),
  describe: definitionByName,
};
