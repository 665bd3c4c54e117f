/**
 * The event Lambda sends for Amazon MSK (`aws:kafka`) and self-managed Apache Kafka
 * (`SelfManagedKafka`) event source mappings: `decodeKafkaEvent` validates an event and
 * turns it into plain `ConsumedRecord`s (the consumer functions use it). Also the partial
 * batch response for Kafka. (The local event source, infra/offline-msk, builds the events.)
 *
 * The shape follows AWS's documented examples (docs.aws.amazon.com/lambda/latest/dg/
 * with-msk.html and with-kafka.html, recorded in infra/offline-msk/test/fixtures):
 * - `records` is keyed `<topic>-<partition>`, each an array of records in offset order;
 * - `offset`, `partition` and `timestamp` are JSON numbers, `timestampType` is the
 *   broker's (`CREATE_TIME` or `LOG_APPEND_TIME`);
 * - `key` and `value` are base64 of the raw bytes; a null key or value is left out of the
 *   record (AWS's filtering examples show records without `key`);
 * - `headers` is an array of one-entry objects `{ name: [byte, byte, ...] }`, one per header;
 * - MSK events carry `eventSourceArn` (the cluster ARN); self-managed ones do not;
 * - `bootstrapServers` is the comma-separated broker list.
 */
import * as z from '../zod';
import { ValidationError } from '../errors';
import type { ConsumedRecord } from './records';

export const MSK_EVENT_SOURCE = 'aws:kafka';
export const SELF_MANAGED_KAFKA_EVENT_SOURCE = 'SelfManagedKafka';

export interface KafkaEventRecord {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  timestampType: string;
  key?: string;
  value?: string;
  headers: Array<Record<string, number[]>>;
}

interface KafkaEventBase {
  bootstrapServers: string;
  records: Record<string, KafkaEventRecord[]>;
}

export interface MskEvent extends KafkaEventBase {
  eventSource: typeof MSK_EVENT_SOURCE;
  eventSourceArn: string;
}

export interface SelfManagedKafkaEvent extends KafkaEventBase {
  eventSource: typeof SELF_MANAGED_KAFKA_EVENT_SOURCE;
}

export type KafkaEvent = MskEvent | SelfManagedKafkaEvent;

/** Where the event says its records came from. */
export type KafkaEventSource =
  { kind: 'msk'; eventSourceArn: string; bootstrapServers: string[] } | { kind: 'self-managed'; bootstrapServers: string[] };

/** The `records` key AWS uses for one partition: `<topic>-<partition>`. */
export function partitionKey(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}

/**
 * The schema of a Kafka event, made on first use: only the consumer functions decode
 * events, and a function that never does should not build it at start.
 */
function buildKafkaEventSchema() {
  const base64 = z.string().check(z.regex(/^[A-Za-z0-9+/]*={0,2}$/, 'base64'));
  const nonNegativeInt = () => z.number().check(z.int(), z.gte(0));

  const headerBytesSchema = z.array(z.number().check(z.int(), z.gte(-128), z.lte(255)));

  /**
   * One header, `{ name: [byte, ...] }`, validated without rebuilding the object: a record
   * schema would drop a header named `__proto__`, and a dead-letter copy must keep them all.
   */
  const headerSchema = z.custom<Record<string, number[]>>(
    (value) =>
      typeof value === 'object' &&
      value !== null &&
      !Array.isArray(value) &&
      Object.values(value).every((bytes) => headerBytesSchema.safeParse(bytes).success),
    'a header: { "<name>": [byte, ...] }',
  );

  const kafkaEventRecordSchema = z.object({
    topic: z.string().check(z.minLength(1)),
    partition: nonNegativeInt(),
    offset: nonNegativeInt(),
    timestamp: z.number().check(z.int()),
    timestampType: z.string(),
    key: z.nullish(base64),
    value: z.nullish(base64),
    headers: z._default(z.array(headerSchema), []),
  });

  const recordsSchema = z.record(z.string(), z.array(kafkaEventRecordSchema));

  return z.discriminatedUnion('eventSource', [
    z.object({
      eventSource: z.literal(MSK_EVENT_SOURCE),
      eventSourceArn: z.string().check(z.minLength(1)),
      bootstrapServers: z.optional(z.string()),
      records: recordsSchema,
    }),
    z.object({
      eventSource: z.literal(SELF_MANAGED_KAFKA_EVENT_SOURCE),
      bootstrapServers: z.optional(z.string()),
      records: recordsSchema,
    }),
  ]);
}

let kafkaEventSchema: ReturnType<typeof buildKafkaEventSchema> | undefined;

function timestampTypeOf(value: string): ConsumedRecord['timestampType'] {
  return value === 'CREATE_TIME' || value === 'LOG_APPEND_TIME' ? value : 'NO_TIMESTAMP_TYPE';
}

/** Header bytes as AWS sends them; Java-serialised events may carry signed bytes (-128..127). */
function headerBytes(bytes: number[]): Buffer {
  return Buffer.from(bytes.map((b) => (b < 0 ? b + 256 : b)));
}

/**
 * Validates an MSK or self-managed Kafka event and returns its records as plain values,
 * in event order (partition by partition, offsets ascending within one). Throws a
 * ValidationError naming every problem when the envelope is not a Kafka event.
 */
export function decodeKafkaEvent(event: unknown): { source: KafkaEventSource; records: ConsumedRecord[] } {
  const parsed = (kafkaEventSchema ??= buildKafkaEventSchema()).safeParse(event);
  if (!parsed.success) {
    throw new ValidationError(
      'not an MSK or self-managed Kafka event',
      parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`),
    );
  }
  const e = parsed.data;
  const bootstrapServers = (e.bootstrapServers ?? '').split(',').filter((s) => s.length > 0);
  const source: KafkaEventSource =
    e.eventSource === MSK_EVENT_SOURCE
      ? { kind: 'msk', eventSourceArn: e.eventSourceArn, bootstrapServers }
      : { kind: 'self-managed', bootstrapServers };
  const problems: string[] = [];
  const records: ConsumedRecord[] = [];
  for (const [key, list] of Object.entries(e.records)) {
    for (const r of list) {
      if (partitionKey(r.topic, r.partition) !== key) {
        problems.push(`records.${key}: holds a record of ${partitionKey(r.topic, r.partition)}`);
      }
      records.push({
        topic: r.topic,
        partition: r.partition,
        offset: String(r.offset),
        timestamp: r.timestamp,
        timestampType: timestampTypeOf(r.timestampType),
        key: r.key == null ? null : Buffer.from(r.key, 'base64'),
        value: r.value == null ? null : Buffer.from(r.value, 'base64'),
        headers: r.headers.flatMap((h) => Object.entries(h).map(([name, bytes]) => ({ name, value: headerBytes(bytes) }))),
      });
    }
  }
  if (problems.length > 0) throw new ValidationError('inconsistent Kafka event', problems);
  return { source, records };
}

/**
 * Identifies one record in a partial batch response for Kafka event sources:
 * `partition` is the event's records key (`<topic>-<partition>`) and `offset` the
 * record's offset. Lambda commits each reported partition up to that offset and
 * delivers it again from there; partitions not reported are complete.
 * (docs.aws.amazon.com/lambda/latest/dg/kafka-retry-configurations.html; the same shape in
 * Powertools for AWS Lambda (Python) KafkaItemIdentifier and the Rust runtime's events.)
 */
export interface KafkaItemIdentifier {
  partition: string;
  offset: number;
}

export interface KafkaBatchResponse {
  batchItemFailures: Array<{ itemIdentifier: KafkaItemIdentifier }>;
}

/** Builds the partial batch response that reports these records as failed. */
export function kafkaBatchResponse(failed: ReadonlyArray<Pick<ConsumedRecord, 'topic' | 'partition' | 'offset'>>): KafkaBatchResponse {
  return {
    batchItemFailures: failed.map((r) => ({
      itemIdentifier: { partition: partitionKey(r.topic, r.partition), offset: Number(r.offset) },
    })),
  };
}
