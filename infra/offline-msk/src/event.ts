/**
 * The event Lambda sends for Amazon MSK (`aws:kafka`) and self-managed Apache Kafka
 * (`SelfManagedKafka`) event source mappings, built from consumed records, and how Lambda
 * reads the function's partial batch response.
 *
 * The shape follows AWS's documented examples (docs.aws.amazon.com/lambda/latest/dg/
 * with-msk.html and with-kafka.html; recorded in test/fixtures):
 * - `records` is keyed `<topic>-<partition>`, each an array of records in offset order;
 * - `offset`, `partition` and `timestamp` are JSON numbers, `timestampType` is the
 *   broker's (`CREATE_TIME` or `LOG_APPEND_TIME`);
 * - `key` and `value` are base64 of the raw bytes; a null key or value is left out;
 * - `headers` is an array of one-entry objects `{ name: [byte, byte, ...] }`, one per header;
 * - MSK events carry `eventSourceArn` (the cluster ARN); self-managed ones do not;
 * - `bootstrapServers` is the comma-separated broker list.
 */
import type { ConsumedRecord } from './records';
import { partitionKey } from './records';

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

export interface MskEvent {
  eventSource: 'aws:kafka';
  eventSourceArn: string;
  bootstrapServers: string;
  records: Record<string, KafkaEventRecord[]>;
}

export interface SelfManagedKafkaEvent {
  eventSource: 'SelfManagedKafka';
  bootstrapServers: string;
  records: Record<string, KafkaEventRecord[]>;
}

export type KafkaEvent = MskEvent | SelfManagedKafkaEvent;

/** Where the event says its records came from. */
export type KafkaEventSource =
  { kind: 'msk'; eventSourceArn: string; bootstrapServers: string[] } | { kind: 'self-managed'; bootstrapServers: string[] };

function encodeRecord(record: ConsumedRecord): KafkaEventRecord {
  // Field order as in AWS's events, so a serialised event reads like theirs (key and value
  // are left out when null).
  const encoded: KafkaEventRecord = {
    topic: record.topic,
    partition: record.partition,
    offset: Number(record.offset),
    timestamp: record.timestamp,
    timestampType: record.timestampType,
  } as KafkaEventRecord;
  if (record.key !== null) encoded.key = record.key.toString('base64');
  if (record.value !== null) encoded.value = record.value.toString('base64');
  const headers: KafkaEventRecord['headers'] = [];
  for (const { name, value } of record.headers) headers.push({ [name]: [...value] });
  encoded.headers = headers;
  return encoded;
}

/**
 * The exact event Lambda sends for these records. Records keep their order within a
 * partition; partitions appear in the order their first record does.
 */
export function buildKafkaEvent(source: KafkaEventSource, records: readonly ConsumedRecord[]): KafkaEvent {
  const grouped: Record<string, KafkaEventRecord[]> = {};
  let list: KafkaEventRecord[] | undefined;
  let topic: string | undefined;
  let partition: number | undefined;
  for (const record of records) {
    if (record.topic !== topic || record.partition !== partition) {
      topic = record.topic;
      partition = record.partition;
      list = grouped[partitionKey(topic, partition)] ??= [];
    }
    list!.push(encodeRecord(record));
  }
  const bootstrapServers = source.bootstrapServers.join(',');
  if (source.kind === 'msk') {
    return { eventSource: 'aws:kafka', eventSourceArn: source.eventSourceArn, bootstrapServers, records: grouped };
  }
  return { eventSource: 'SelfManagedKafka', bootstrapServers, records: grouped };
}

/** Base64 length of n bytes. */
function base64Length(n: number): number {
  return Math.ceil(n / 3) * 4;
}

/** Bytes a record adds to the serialised event (base64 and JSON overhead), for the 6 MB payload cap. */
export function recordEventBytes(record: ConsumedRecord): number {
  let bytes = 160 + record.topic.length + base64Length(record.key?.length ?? 0) + base64Length(record.value?.length ?? 0);
  for (const h of record.headers) bytes += h.name.length + h.value.length * 4 + 8;
  return bytes;
}

/**
 * How Lambda reads a function's response to a Kafka batch when ReportBatchItemFailures is
 * on (docs.aws.amazon.com/lambda/latest/dg/kafka-retry-configurations.html): "If you
 * return an empty valid JSON or null, the event source mapping will consider a batch as
 * successfully processed. Any invalid topic-partition_number or offset returned that was
 * not present in the invoked event will be treated as failure and entire batch will be
 * retried."
 *
 * - no response, null, an object without `batchItemFailures` (or with null or `[]`):
 *   complete success;
 * - `{ batchItemFailures: [{ itemIdentifier: { partition: "<topic>-<n>", offset } }] }`
 *   naming records of the batch: a partial failure. Per partition, delivery resumes at
 *   the lowest reported offset; the reported records are the failed ones;
 * - anything else (a string, number or array as the response, `batchItemFailures` that is
 *   not a list, an identifier that is not an object or names no record of the batch): the
 *   whole batch failed.
 */
export type BatchOutcome =
  | { kind: 'success' }
  | { kind: 'partial'; retryFrom: Map<string, bigint>; failed: Map<string, Set<bigint>> }
  | { kind: 'failure'; reason: string };

export function interpretBatchResponse(response: unknown, batch: ReadonlyMap<string, ReadonlySet<bigint>>): BatchOutcome {
  if (response === null || response === undefined) return { kind: 'success' };
  if (typeof response !== 'object' || Array.isArray(response)) {
    return { kind: 'failure', reason: `the response is not a batch response: ${describe(response)}` };
  }
  const failures = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === null || failures === undefined) return { kind: 'success' };
  if (!Array.isArray(failures)) return { kind: 'failure', reason: 'batchItemFailures is not an array' };
  if (failures.length === 0) return { kind: 'success' };
  const retryFrom = new Map<string, bigint>();
  const failed = new Map<string, Set<bigint>>();
  for (const entry of failures as unknown[]) {
    const id = (entry as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (id === null || typeof id !== 'object') {
      return { kind: 'failure', reason: `invalid itemIdentifier ${describe(id)}: expected { partition, offset }` };
    }
    const { partition, offset } = id as { partition?: unknown; offset?: unknown };
    const asBigInt =
      typeof offset === 'number' && Number.isSafeInteger(offset) && offset >= 0
        ? BigInt(offset)
        : typeof offset === 'string' && /^\d{1,19}$/.test(offset)
          ? BigInt(offset)
          : undefined;
    if (typeof partition !== 'string' || asBigInt === undefined || !batch.get(partition)?.has(asBigInt)) {
      return { kind: 'failure', reason: `itemIdentifier ${describe(id)} names no record of this batch` };
    }
    const current = retryFrom.get(partition);
    if (current === undefined || asBigInt < current) retryFrom.set(partition, asBigInt);
    let set = failed.get(partition);
    if (!set) failed.set(partition, (set = new Set()));
    set.add(asBigInt);
  }
  return { kind: 'partial', retryFrom, failed };
}

function describe(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
