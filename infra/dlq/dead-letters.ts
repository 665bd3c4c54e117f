/**
 * What the dead-letter topic holds, read for `npm run dlq` (infra/dlq.ts). The topic holds
 * three kinds of record:
 * - the service's own dead letters (src/kafka/dlq.ts): the original key and value byte for
 *   byte, the original headers, and `dlq.*` headers saying why and where from;
 * - what Lambda writes to a `kafka://` on-failure destination once retries are exhausted
 *   or a record is too old: a JSON document whose `payload` is the Kafka event of the
 *   failed record(s), with `requestContext.condition` saying why
 *   (docs.aws.amazon.com/lambda/latest/dg/kafka-on-failure-destination.html);
 * - replay receipts written by `replay` (header `dlq.replay.of`, ./replay.ts), so that
 *   replaying the same dead letter twice sends it once.
 *
 * The tool's own code: no function of the service reads the dead-letter topic.
 */
import { ServiceError } from '../../src/errors';
import { DLQ_HEADERS, TopicReadError, decodeKafkaEvent, originalHeaderName, readTopic } from '../../src/kafka';
import type { ConsumedRecord, DeadLetterReason, createKafka } from '../../src/kafka';

/** `npm run dlq` cannot do what it was asked (bad selection, unreadable dead letter). */
export class DeadLetterToolError extends ServiceError {}

/** The reasons the service writes (src/kafka/dlq.ts's DeadLetterReason, every one). */
const SERVICE_REASONS = [
  'empty_value',
  'not_utf8',
  'not_json',
  'too_deep',
  'invalid_envelope',
  'missing_correlation_id',
  'invalid_command',
  'unhandled_event_type',
  'ambiguous_event_type',
  'invalid_data',
  'handler_error',
] as const satisfies readonly DeadLetterReason[];
// Compiles only while SERVICE_REASONS names every DeadLetterReason.
const everyReasonListed: Exclude<DeadLetterReason, (typeof SERVICE_REASONS)[number]> extends never ? true : never = true;
void everyReasonListed;

/**
 * Every reason a dead letter can have: the service's, the conditions Lambda writes into
 * an on-failure record (docs.aws.amazon.com/lambda/latest/dg/kafka-on-failure-destination.html),
 * and `unknown` for a record neither wrote.
 */
export const KNOWN_REASONS: readonly string[] = [...SERVICE_REASONS, 'RetriesExhausted', 'RecordAgeExceeded', 'unknown'];

/** Headers of a replay receipt (a record in the dead-letter topic itself). */
export const REPLAY_HEADERS = {
  /** `<partition>:<offset>` of the dead letter that was replayed. */
  of: 'dlq.replay.of',
  replayedAt: 'dlq.replay.replayed_at',
} as const;

/** A record to send back: where it was read from, and its bytes. */
export interface OriginalRecord {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Array<{ name: string; value: Buffer }>;
}

export interface DeadLetter {
  kind: 'dead-letter';
  /** Where it is in the dead-letter topic. */
  partition: number;
  offset: string;
  /** `service` (src/kafka/dlq.ts), `lambda` (an on-failure destination record) or `unknown`. */
  format: 'service' | 'lambda' | 'unknown';
  /** dlq.reason, or Lambda's requestContext.condition (e.g. RetriesExhausted). */
  reason: string;
  error: string;
  /** The function that gave up on it (dlq.consumer, or Lambda's functionArn). */
  consumer: string | undefined;
  deadLetteredAt: string | undefined;
  /** When it was written to the dead-letter topic (its Kafka timestamp, ms since the epoch). */
  timestamp: number;
  /** What replay sends back; empty when nothing can be recovered (an unknown record). */
  originals: OriginalRecord[];
}

export interface ReplayReceipt {
  kind: 'receipt';
  partition: number;
  offset: string;
  /** The dead letter it stands for, `<partition>:<offset>`. */
  of: string;
}

export type DeadLetterTopicRecord = DeadLetter | ReplayReceipt;

/** `<partition>:<offset>`: how a record of the dead-letter topic is named on the command line and in receipts. */
export function deadLetterName(record: { partition: number; offset: string }): string {
  return `${record.partition}:${record.offset}`;
}

function headerText(record: ConsumedRecord, name: string): string | undefined {
  return record.headers.find((h) => h.name === name)?.value.toString('utf8');
}

/**
 * The original headers of a service dead letter, in order: the service's list when a name
 * repeated, else every header but the service's own `dlq.` ones, under its original name
 * (src/kafka/dlq.ts keeps an original `dlq.x` as `dlq.source.header.dlq.x`).
 */
function originalHeaders(record: ConsumedRecord): Array<{ name: string; value: Buffer }> {
  const full = headerText(record, DLQ_HEADERS.originalHeaders);
  if (full !== undefined) {
    const parsed: unknown = JSON.parse(full);
    if (!Array.isArray(parsed) || !parsed.every((h) => Array.isArray(h) && typeof h[0] === 'string' && typeof h[1] === 'string')) {
      throw new Error(`${DLQ_HEADERS.originalHeaders} is not a list of [name, base64 value]`);
    }
    return (parsed as Array<[string, string]>).map(([name, value]) => ({ name, value: Buffer.from(value, 'base64') }));
  }
  const originals: Array<{ name: string; value: Buffer }> = [];
  for (const header of record.headers) {
    const name = originalHeaderName(header.name);
    if (name !== undefined) originals.push({ name, value: header.value });
  }
  return originals;
}

/** A dead letter's own place in the dead-letter topic. */
function where(record: ConsumedRecord): Pick<DeadLetter, 'kind' | 'partition' | 'offset' | 'timestamp'> {
  return { kind: 'dead-letter', partition: record.partition, offset: record.offset, timestamp: record.timestamp };
}

function unknown(record: ConsumedRecord, error: string): DeadLetter {
  return {
    ...where(record),
    format: 'unknown',
    reason: 'unknown',
    error,
    consumer: undefined,
    deadLetteredAt: new Date(record.timestamp).toISOString(),
    originals: [],
  };
}

function serviceDeadLetter(record: ConsumedRecord): DeadLetter {
  const topic = headerText(record, DLQ_HEADERS.topic);
  const partition = Number(headerText(record, DLQ_HEADERS.partition));
  const offset = headerText(record, DLQ_HEADERS.offset);
  if (!topic || !Number.isInteger(partition) || partition < 0 || !offset || !/^\d+$/.test(offset)) {
    return unknown(record, `a dead letter without its source (${DLQ_HEADERS.topic}, ${DLQ_HEADERS.partition}, ${DLQ_HEADERS.offset})`);
  }
  let headers: OriginalRecord['headers'];
  try {
    headers = originalHeaders(record);
  } catch (error) {
    return unknown(record, (error as Error).message);
  }
  return {
    ...where(record),
    format: 'service',
    reason: headerText(record, DLQ_HEADERS.reason) ?? 'unknown',
    error: headerText(record, DLQ_HEADERS.error) ?? '',
    consumer: headerText(record, DLQ_HEADERS.consumer),
    deadLetteredAt: headerText(record, DLQ_HEADERS.deadLetteredAt),
    originals: [{ topic, partition, offset, key: record.key, value: record.value, headers }],
  };
}

interface LambdaFailure {
  requestContext?: { condition?: unknown; functionArn?: unknown };
  responseContext?: { functionError?: unknown; statusCode?: unknown };
  timestamp?: unknown;
  payload?: unknown;
}

function lambdaDeadLetter(record: ConsumedRecord, document: LambdaFailure): DeadLetter {
  let originals: OriginalRecord[];
  try {
    originals = decodeKafkaEvent(document.payload).records.map((r) => ({
      topic: r.topic,
      partition: r.partition,
      offset: r.offset,
      key: r.key,
      value: r.value,
      headers: r.headers,
    }));
  } catch (error) {
    return unknown(record, `an on-failure record whose payload is not a Kafka event: ${(error as Error).message}`);
  }
  const text = (value: unknown) => (typeof value === 'string' ? value : value === undefined ? undefined : JSON.stringify(value));
  const functionError = text(document.responseContext?.functionError);
  const statusCode = text(document.responseContext?.statusCode);
  return {
    ...where(record),
    format: 'lambda',
    reason: text(document.requestContext?.condition) ?? 'unknown',
    error: [functionError, statusCode === undefined ? undefined : `status ${statusCode}`].filter(Boolean).join(', '),
    consumer: text(document.requestContext?.functionArn),
    deadLetteredAt: text(document.timestamp),
    originals,
  };
}

/** What a record of the dead-letter topic is; never throws (an unreadable record is `unknown`). */
export function readDeadLetterTopicRecord(record: ConsumedRecord): DeadLetterTopicRecord {
  // A dead letter is never a receipt, even one written before original `dlq.` headers were
  // kept under a prefix of their own (its original may have carried `dlq.replay.of`).
  if (headerText(record, DLQ_HEADERS.reason) !== undefined) return serviceDeadLetter(record);
  const of = headerText(record, REPLAY_HEADERS.of);
  if (of !== undefined) return { kind: 'receipt', partition: record.partition, offset: record.offset, of };
  if (record.value !== null) {
    let document: unknown;
    try {
      document = JSON.parse(record.value.toString('utf8'));
    } catch {
      document = undefined;
    }
    if (typeof document === 'object' && document !== null && 'payload' in document && 'requestContext' in document) {
      return lambdaDeadLetter(record, document as LambdaFailure);
    }
  }
  return unknown(record, 'neither a dead letter of this service nor a Lambda on-failure record');
}

/**
 * The dead letters of the dead-letter topic (oldest first) and which of them were
 * replayed, reading at most `maxRecords` records; `unread` says how many were left.
 */
export async function readDeadLetters(params: {
  kafka: ReturnType<typeof createKafka>;
  topic: string;
  timeoutMs: number;
  maxRecords: number;
}): Promise<{
  letters: DeadLetter[];
  replayed: Map<string, ReplayReceipt>;
  records: number;
  unread: number;
}> {
  const letters: DeadLetter[] = [];
  const replayed = new Map<string, ReplayReceipt>();
  const { records, unread } = await readTopic({
    kafka: params.kafka,
    topic: params.topic,
    timeoutMs: params.timeoutMs,
    maxRecords: params.maxRecords,
    groupPrefix: 'simple-time-service-dlq-tool',
    onRecord: (record) => {
      const read = readDeadLetterTopicRecord(record);
      if (read.kind === 'receipt') replayed.set(read.of, read);
      else letters.push(read);
    },
  }).catch((error: unknown) => {
    if (!(error instanceof TopicReadError)) throw error;
    const hint = error.reason === 'timeout' ? '; give it more time (--timeout-ms)' : '';
    throw new DeadLetterToolError(`${error.message}${hint}`, { cause: error });
  });
  letters.sort((a, b) => a.timestamp - b.timestamp || a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
  return { letters, replayed, records, unread };
}
