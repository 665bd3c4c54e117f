/**
 * Dead-lettering: a record that can never be processed is written to the dead-letter
 * topic as it arrived, key and value byte for byte (a null stays null), with its original
 * headers, and `dlq.*` headers saying why and where it came from, so it can be inspected
 * and replayed onto its source topic unchanged.
 *
 * The write goes with its partition's next produce and waits for acks=all (the container
 * producer). If it fails, the caller must not treat the record as done: the consumer reports
 * it as failed so the event source delivers it again (src/consumers/batch.ts). A record is
 * never dropped because the dead-letter topic was unreachable.
 */
import type { ConsumedRecord, OutgoingRecord } from './records';

/** Why a record was dead-lettered: a short, fixed list (a metric label and a header). */
export type DeadLetterReason =
  /** The value is null (a tombstone): there is nothing to process. */
  | 'empty_value'
  /** The value is not UTF-8 text. */
  | 'not_utf8'
  /** The value is text but not JSON. */
  | 'not_json'
  /** JSON nested deeper than MAX_JSON_DEPTH (src/json.ts). */
  | 'too_deep'
  /** JSON, but not a valid event envelope (src/events). */
  | 'invalid_envelope'
  /** A command without a correlation id: no answer could ever be correlated. */
  | 'missing_correlation_id'
  /** JSON, but neither our envelope nor the plain command shape. */
  | 'invalid_command'
  /** A valid event of a type no function on this topic handles. */
  | 'unhandled_event_type'
  /**
   * An event_type that JSON readers read differently (a byte order mark, a repeated or
   * escaped event_type), one of them as a type another function's filter selects: which
   * function a filter delivers it to depends on the reader (src/consumers/ownership.ts).
   */
  | 'ambiguous_event_type'
  /** A valid event whose data its handler refused (non-retriable validation). */
  | 'invalid_data'
  /** The handler failed with an error that trying again cannot fix. */
  | 'handler_error';

/** The headers added to a dead-lettered record. */
export const DLQ_HEADERS = {
  reason: 'dlq.reason',
  error: 'dlq.error',
  topic: 'dlq.source.topic',
  partition: 'dlq.source.partition',
  offset: 'dlq.source.offset',
  timestamp: 'dlq.source.timestamp',
  consumer: 'dlq.consumer',
  deadLetteredAt: 'dlq.dead_lettered_at',
  /** Only when a header name repeats in the original: every header in order, as JSON. */
  originalHeaders: 'dlq.original_headers',
} as const;

/**
 * The `dlq.` names belong to the service: whoever produces to a source topic could
 * otherwise forge them (a replay receipt, a list of original headers). An original header
 * whose name begins with `dlq.` is kept under this prefix instead (`dlq.source.header.dlq.reason`),
 * so every other `dlq.` header of a dead letter was written by the service.
 */
export const ORIGINAL_HEADER_PREFIX = 'dlq.source.header.';

/** The name an original header is written under in a dead letter. */
export function deadLetterHeaderName(name: string): string {
  return name.startsWith('dlq.') ? `${ORIGINAL_HEADER_PREFIX}${name}` : name;
}

/** The original name of a dead letter's header, or undefined for one of the service's own `dlq.` headers. */
export function originalHeaderName(name: string): string | undefined {
  if (name.startsWith(ORIGINAL_HEADER_PREFIX)) return name.slice(ORIGINAL_HEADER_PREFIX.length);
  return name.startsWith('dlq.') ? undefined : name;
}

const MAX_ERROR_LENGTH = 1000;

/**
 * The record written to the dead-letter topic. Original headers are kept under their own
 * names, those beginning with `dlq.` under `dlq.source.header.<name>` (deadLetterHeaderName).
 * A header name may repeat in Kafka but not in OutgoingRecord's headers, so when one does,
 * the full ordered list is also kept in `dlq.original_headers` as JSON
 * (`[[name, base64 value], ...]`) and nothing is lost.
 */
export function deadLetterRecord(params: {
  record: ConsumedRecord;
  reason: DeadLetterReason;
  error: string;
  topic: string;
  consumer: string;
  now?: Date;
}): OutgoingRecord {
  const { record, reason, topic, consumer } = params;
  // No prototype, so a header named "__proto__" is a header like any other.
  const headers = Object.create(null) as Record<string, string | Buffer>;
  const names = new Set<string>();
  let repeated = false;
  for (const { name, value } of record.headers) {
    if (names.has(name)) repeated = true;
    names.add(name);
    headers[deadLetterHeaderName(name)] = value;
  }
  if (repeated) {
    headers[DLQ_HEADERS.originalHeaders] = JSON.stringify(record.headers.map((h) => [h.name, h.value.toString('base64')]));
  }
  headers[DLQ_HEADERS.reason] = reason;
  headers[DLQ_HEADERS.error] = params.error.slice(0, MAX_ERROR_LENGTH);
  headers[DLQ_HEADERS.topic] = record.topic;
  headers[DLQ_HEADERS.partition] = String(record.partition);
  headers[DLQ_HEADERS.offset] = record.offset;
  headers[DLQ_HEADERS.timestamp] = String(record.timestamp);
  headers[DLQ_HEADERS.consumer] = consumer;
  headers[DLQ_HEADERS.deadLetteredAt] = (params.now ?? new Date()).toISOString();
  return { topic, key: record.key, value: record.value, headers };
}

/**
 * The dead letters of one consuming function. A dead letter is written with the other
 * records of its partition's next produce (src/consumers/batch.ts), and its record counts as
 * done only once that produce is acknowledged; if it is not, the record is delivered again.
 */
export interface DeadLetterer {
  /** The dead letter of `record`, to be written to the dead-letter topic. */
  letter(record: ConsumedRecord, reason: DeadLetterReason, error: string): OutgoingRecord;
}

export function createDeadLetterer(params: {
  /** The dead-letter topic (KAFKA_TOPIC_DLQ). */
  topic: string;
  /** The consuming function's name, recorded in `dlq.consumer`. */
  consumer: string;
  now?: () => Date;
}): DeadLetterer {
  const { topic, consumer } = params;
  const now = params.now ?? (() => new Date());
  return {
    letter: (record, reason, error) => deadLetterRecord({ record, reason, error, topic, consumer, now: now() }),
  };
}
