/**
 * Reading the dead-letter topic and sending records back to where they came from
 * (`npm run dlq`, infra/dlq.ts).
 *
 * The topic holds three kinds of record:
 * - the service's own dead letters (./dlq.ts): the original key and value byte for byte,
 *   the original headers, and `dlq.*` headers saying why and where from;
 * - what Lambda writes to a `kafka://` on-failure destination once retries are exhausted
 *   or a record is too old: a JSON document whose `payload` is the Kafka event of the
 *   failed record(s), with `requestContext.condition` saying why
 *   (docs.aws.amazon.com/lambda/latest/dg/kafka-on-failure-destination.html);
 * - replay receipts written by `replay` (header `dlq.replay.of`), so that replaying the
 *   same dead letter twice sends it once.
 *
 * A replayed record goes to its source topic and partition with its original key, value
 * and headers, so it keeps its event id and every consumer drops it if it already
 * processed it (src/consumers/idempotency.ts).
 */
import { randomUUID } from 'node:crypto';
import type { Admin, Consumer, IHeaders, Kafka, Producer } from 'kafkajs';
import { withTimeout } from '../timeout';
import { DLQ_HEADERS, originalHeaderName } from './dlq';
import type { DeadLetterReason } from './dlq';
import { DeadLetterToolError } from './errors';
import { decodeKafkaEvent } from './msk-event';
import type { ConsumedRecord, RecordAck } from './records';

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
  /** `service` (./dlq.ts), `lambda` (an on-failure destination record) or `unknown`. */
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
export function coordinates(record: { partition: number; offset: string }): string {
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

/** Which dead letters a command applies to; every field given must match. */
export interface Selection {
  partition?: number;
  /** Inclusive offsets in the dead-letter topic (with or without `partition`). */
  fromOffset?: bigint;
  toOffset?: bigint;
  reason?: string;
  /** The topic the record came from. */
  sourceTopic?: string;
}

export function selects(selection: Selection, letter: DeadLetter): boolean {
  if (selection.partition !== undefined && letter.partition !== selection.partition) return false;
  const offset = BigInt(letter.offset);
  if (selection.fromOffset !== undefined && offset < selection.fromOffset) return false;
  if (selection.toOffset !== undefined && offset > selection.toOffset) return false;
  if (selection.reason !== undefined && letter.reason !== selection.reason) return false;
  if (selection.sourceTopic !== undefined && !letter.originals.some((o) => o.topic === selection.sourceTopic)) return false;
  return true;
}

/** Parses `<partition>:<offset>` or `<partition>:<from>-<to>`. */
export function parseCoordinates(text: string): { partition: number; fromOffset: bigint; toOffset: bigint } {
  const match = /^(\d{1,9}):(\d{1,19})(?:-(\d{1,19}))?$/.exec(text.trim());
  if (!match) throw new DeadLetterToolError(`"${text}" is not <partition>:<offset> or <partition>:<from>-<to>`);
  const fromOffset = BigInt(match[2]!);
  const toOffset = match[3] === undefined ? fromOffset : BigInt(match[3]);
  if (toOffset < fromOffset) throw new DeadLetterToolError(`"${text}": the range ends before it starts`);
  return { partition: Number(match[1]), fromOffset, toOffset };
}

function toConsumed(
  topic: string,
  partition: number,
  message: { offset: string; timestamp: string; key: Buffer | null; value: Buffer | null; headers?: IHeaders },
): ConsumedRecord {
  const headers: ConsumedRecord['headers'] = [];
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    for (const v of Array.isArray(value) ? value : [value]) {
      if (v !== undefined) headers.push({ name, value: Buffer.isBuffer(v) ? v : Buffer.from(v) });
    }
  }
  return {
    topic,
    partition,
    offset: message.offset,
    timestamp: Number(message.timestamp),
    timestampType: 'CREATE_TIME',
    key: message.key,
    value: message.value,
    headers,
  };
}

/** The end offset of every partition of `topic` that holds records, and how many offsets they span. */
async function topicEnds(admin: Admin, topic: string): Promise<{ ends: Map<number, bigint>; total: number }> {
  const existing = await admin.listTopics();
  if (!existing.includes(topic)) throw new DeadLetterToolError(`the topic ${topic} does not exist`);
  const ends = new Map<number, bigint>();
  let total = 0n;
  for (const p of await admin.fetchTopicOffsets(topic)) {
    if (BigInt(p.high) > BigInt(p.low)) ends.set(p.partition, BigInt(p.high));
    total += BigInt(p.high) - BigInt(p.low);
  }
  return { ends, total: Number(total) };
}

/** Runs `consumer` over the records before `ends`, at most `maxRecords` of them; resolves with how many it read. */
function consumeUntil(params: {
  consumer: Consumer;
  topic: string;
  ends: Map<number, bigint>;
  maxRecords: number;
  onRecord: (record: ConsumedRecord) => void;
}): { done: Promise<void>; read: () => number } {
  const { consumer, topic, ends, maxRecords, onRecord } = params;
  let count = 0;
  const done = new Promise<void>((resolve, reject) => {
    // A crash kafkajs will not restart from (a batch refused by src/kafka/gzip.ts, say) is the answer.
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (!payload.restart) reject(payload.error);
    });
    consumer
      .run({
        autoCommit: false,
        eachMessage: ({ partition, message }) => {
          const end = ends.get(partition);
          if (end === undefined || count >= maxRecords) return Promise.resolve();
          if (BigInt(message.offset) < end) {
            count += 1;
            try {
              onRecord(toConsumed(topic, partition, message));
            } catch (error) {
              // Stop reading: the caller's refusal is the answer, not a reason to fetch again.
              reject(error instanceof Error ? error : new Error(String(error)));
              return Promise.resolve();
            }
          }
          if (BigInt(message.offset) + 1n >= end) ends.delete(partition);
          if (ends.size === 0 || count >= maxRecords) resolve();
          return Promise.resolve();
        },
      })
      .catch(reject);
  });
  return { done, read: () => count };
}

/**
 * Reads the records of `topic` that exist when it starts (up to each partition's end
 * offset then), in offset order per partition, at most `maxRecords` of them, with a
 * throwaway consumer group that is deleted afterwards. Rejects when it cannot finish
 * within `timeoutMs`. `unread`: the offsets left unread because of `maxRecords`.
 */
export async function readTopic(params: {
  kafka: Kafka;
  topic: string;
  timeoutMs: number;
  maxRecords?: number;
  onRecord: (record: ConsumedRecord) => void;
  groupPrefix?: string;
}): Promise<{ records: number; unread: number }> {
  const { kafka, topic, timeoutMs, onRecord } = params;
  const deadline = Date.now() + timeoutMs;
  const admin: Admin = kafka.admin();
  await admin.connect();
  const groupId = `${params.groupPrefix ?? 'simple-time-service-dlq-tool'}-${randomUUID()}`;
  let joined = false;
  try {
    const { ends, total } = await topicEnds(admin, topic);
    if (ends.size === 0) return { records: 0, unread: 0 };
    const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 200, allowAutoTopicCreation: false });
    await consumer.connect();
    joined = true;
    try {
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      const reading = consumeUntil({ consumer, topic, ends, maxRecords: params.maxRecords ?? Number.MAX_SAFE_INTEGER, onRecord });
      const tooLate = () =>
        new DeadLetterToolError(
          `read ${reading.read()} record(s) of ${topic} in ${timeoutMs} ms and not to the end; give it more time (--timeout-ms)`,
        );
      await withTimeout(reading.done, Math.max(0, deadline - Date.now()), tooLate);
      return { records: reading.read(), unread: Math.max(0, total - reading.read()) };
    } finally {
      await consumer.disconnect();
    }
  } finally {
    if (joined) await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect();
  }
}

/**
 * The dead letters of the dead-letter topic (oldest first) and which of them were
 * replayed, reading at most `maxRecords` records; `unread` says how many were left.
 */
export async function readDeadLetters(params: { kafka: Kafka; topic: string; timeoutMs: number; maxRecords: number }): Promise<{
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
    onRecord: (record) => {
      const read = readDeadLetterTopicRecord(record);
      if (read.kind === 'receipt') replayed.set(read.of, read);
      else letters.push(read);
    },
  });
  letters.sort((a, b) => a.timestamp - b.timestamp || a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
  return { letters, replayed, records, unread };
}

/** kafkajs headers from an ordered list; values of a repeated name are kept, grouped under it. */
export function producerHeaders(headers: OriginalRecord['headers']): IHeaders {
  const out: Record<string, Buffer[]> = {};
  for (const { name, value } of headers) (out[name] ??= []).push(value);
  return Object.fromEntries(Object.entries(out).map(([name, values]) => [name, values.length === 1 ? values[0]! : values]));
}

export interface ReplayOutcome {
  deadLetter: string;
  status: 'replayed' | 'already-replayed' | 'nothing-to-replay';
  sent: RecordAck[];
}

/**
 * Sends the selected dead letters back, in dead-letter-topic order: each original record
 * to its source topic and partition with its key, value and headers, then a receipt in
 * the dead-letter topic. A dead letter with a receipt is skipped, so running the same
 * replay twice sends each record once; should the tool stop between a record and its
 * receipt, running it again sends that record a second time with the same event id,
 * which the consumers drop.
 */
export async function replayDeadLetters(params: {
  producer: Producer;
  deadLetterTopic: string;
  letters: readonly DeadLetter[];
  replayed: ReadonlyMap<string, ReplayReceipt>;
  timeoutMs: number;
  now?: () => Date;
}): Promise<ReplayOutcome[]> {
  const { producer, deadLetterTopic, letters, replayed, timeoutMs } = params;
  const now = params.now ?? (() => new Date());
  const outcomes: ReplayOutcome[] = [];
  for (const letter of letters) {
    const name = coordinates(letter);
    if (replayed.has(name)) {
      outcomes.push({ deadLetter: name, status: 'already-replayed', sent: [] });
      continue;
    }
    if (letter.originals.length === 0) {
      outcomes.push({ deadLetter: name, status: 'nothing-to-replay', sent: [] });
      continue;
    }
    const sent: RecordAck[] = [];
    for (const original of letter.originals) {
      if (original.topic === deadLetterTopic) {
        throw new DeadLetterToolError(`${name} came from the dead-letter topic itself; it is not replayed`);
      }
      const [meta] = await producer.send({
        topic: original.topic,
        acks: -1,
        timeout: timeoutMs,
        messages: [{ partition: original.partition, key: original.key, value: original.value, headers: producerHeaders(original.headers) }],
      });
      if (!meta) throw new DeadLetterToolError(`${original.topic} returned no acknowledgement for ${name}`);
      sent.push({ topic: meta.topicName, partition: meta.partition, offset: meta.baseOffset ?? '' });
    }
    await producer.send({
      topic: deadLetterTopic,
      acks: -1,
      timeout: timeoutMs,
      messages: [
        {
          key: name,
          value: JSON.stringify({ replayed_to: sent }),
          headers: { [REPLAY_HEADERS.of]: name, [REPLAY_HEADERS.replayedAt]: now().toISOString() },
        },
      ],
    });
    outcomes.push({ deadLetter: name, status: 'replayed', sent });
  }
  return outcomes;
}
