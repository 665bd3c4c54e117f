/** Fakes for the consumer and command unit tests: a publisher, a logger, records, metrics. */
import { randomUUID } from 'node:crypto';
import { loadConfig } from '../../src/config';
import type { ConsumerLog } from '../../src/consumers';
import { KafkaUnavailableError } from '../../src/kafka/errors';
import { createEvent } from '../../src/events';
import type { ConsumedRecord, OutgoingRecord, RecordAck, RecordPublisher } from '../../src/kafka/records';
import { createMetrics } from '../../src/metrics/container-metrics';

export const TOPICS = { requests: 'requests', events: 'events', commands: 'commands', dlq: 'dlq' };

export const config = loadConfig({
  KAFKA_TOPIC_REQUESTS: TOPICS.requests,
  KAFKA_TOPIC_EVENTS: TOPICS.events,
  KAFKA_TOPIC_COMMANDS: TOPICS.commands,
  KAFKA_TOPIC_DLQ: TOPICS.dlq,
  SERVICE_NAME: 'sts',
});

/**
 * Records every send. `failNext(n, topic, after)` makes n sends (to `topic`, or any) reject
 * like the real producer does when the broker does not acknowledge, once `after` matching
 * sends have succeeded.
 */
export class FakePublisher implements RecordPublisher {
  readonly sent: OutgoingRecord[] = [];
  private failures: Array<{ topic: string | undefined; after: number }> = [];
  private offsets = new Map<string, number>();

  failNext(count = 1, topic?: string, after = 0): void {
    for (let i = 0; i < count; i += 1) this.failures.push({ topic, after });
  }

  send(records: OutgoingRecord[]): Promise<RecordAck[]> {
    const index = this.failures.findIndex((f) => f.topic === undefined || records.some((r) => r.topic === f.topic));
    const failure = this.failures[index];
    if (failure && failure.after > 0) {
      failure.after -= 1;
    } else if (failure) {
      this.failures.splice(index, 1);
      return Promise.reject(new KafkaUnavailableError('waiting for the broker to acknowledge timed out after 1000 ms'));
    }
    return Promise.resolve(
      records.map((r) => {
        this.sent.push(r);
        const offset = this.offsets.get(r.topic) ?? 0;
        this.offsets.set(r.topic, offset + 1);
        return { topic: r.topic, partition: 0, offset: String(offset) };
      }),
    );
  }

  to(topic: string): OutgoingRecord[] {
    return this.sent.filter((r) => r.topic === topic);
  }

  /** The JSON values sent to a topic. */
  values(topic: string): Array<Record<string, unknown>> {
    return this.to(topic).map((r) => JSON.parse(String(r.value)) as Record<string, unknown>);
  }
}

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  fields: Record<string, unknown>;
}

export function fakeLogger(): ConsumerLog & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at =
    (level: LogLine['level']) =>
    (message: string, ...extra: Array<Record<string, unknown>>) => {
      lines.push({ level, message, fields: Object.assign({}, ...extra) as Record<string, unknown> });
    };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

let nextOffset = 0;

export function record(overrides: Partial<ConsumedRecord> & { json?: unknown } = {}): ConsumedRecord {
  const { json, ...rest } = overrides;
  nextOffset += 1;
  return {
    topic: TOPICS.events,
    partition: 0,
    offset: String(nextOffset),
    timestamp: Date.now(),
    timestampType: 'CREATE_TIME',
    key: Buffer.from('203.0.113.7'),
    value: json === undefined ? null : Buffer.from(JSON.stringify(json)),
    headers: [],
    ...rest,
  };
}

export function eventRecord(
  eventType: string,
  data: Record<string, unknown>,
  overrides: Partial<ConsumedRecord> = {},
  correlationId = `corr-${randomUUID()}`,
): ConsumedRecord {
  const event = createEvent({ eventType, data, source: 'test', correlationId });
  return record({ json: event, ...overrides });
}

export function metrics() {
  return createMetrics();
}

/** The value of one sample of a metric by its labels (`sample` picks `<name>_count` and the like of a histogram). */
export async function sampleValue(
  m: ReturnType<typeof createMetrics>,
  name: string,
  labels: Record<string, string>,
  sample = name,
): Promise<number | undefined> {
  const metric = m.registry.getSingleMetric(name);
  if (!metric) return undefined;
  const data = await metric.get();
  const found = data.values.find(
    (v) =>
      // Histogram samples carry metricName (<name>_bucket, _sum, _count); the others do not.
      ((v as { metricName?: string }).metricName ?? name) === sample &&
      Object.entries(labels).every(([k, val]) => String(v.labels[k]) === val),
  );
  return found?.value;
}
