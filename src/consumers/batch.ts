/**
 * One Kafka batch's records to per-record outcomes, with the Lambda Kafka event source's
 * failure semantics:
 * - a partition's records run in offset order, partitions side by side;
 * - what handling a record writes (a command's answer), and the dead letters of records that
 *   can never be processed, go with one produce per partition (./outbox.ts): a record counts
 *   as done only once that produce is acknowledged, and its effects (logs, metrics) run
 *   then, in order, so a record delivered again never repeats them;
 * - a record that can never be processed, or whose handler fails with a non-retriable
 *   error, is dead-lettered and its partition goes on (retrying would block it forever);
 * - a retriable failure (src/errors.ts), or a produce that is not acknowledged, fails the
 *   first record not done and every later one of its partition: the partial batch response
 *   lists them all, which is safe however Lambda retries, and no effect runs out of order;
 * - a record whose event id was processed before is a duplicate and its effect not repeated;
 * - every wait is bounded by KAFKA_SEND_TIMEOUT_MS and by the function's remaining time.
 *
 * This file splits a batch by partition and gathers the outcomes; ./partition.ts runs one
 * partition's records, and ./steps.ts says what each record's outcome does.
 */
import type { ConsumedRecord, DeadLetterReason, DeadLetterer, OutgoingRecord, RecordPublisher } from '../kafka';
import type { MetricInstances } from '../metrics';
import type { ProcessedIds } from './idempotency';
import type { Settled } from './outbox';
import { coalescing } from './outbox';
import { processPartition } from './partition';
import { NOT_ATTEMPTED } from './steps';

/**
 * What handling a record does, prepared before anything is done: records to write, then
 * what to do once they are acknowledged (the record is done) or not (it will be delivered
 * again). Preparing has no effect of its own, so it may run ahead of the produce.
 */
export interface Effect {
  /** Written with the partition's next produce (acks=all), in order. */
  publish?: readonly OutgoingRecord[];
  /** The record is done: its logs and metrics. */
  done?: () => void;
  /** It is not: it will be delivered again. */
  notDone?: () => void;
}

/** What a consumer decides to do with one record, before any effect. */
export type RecordDecision =
  /** Another function on this topic handles it (its filter delivers it there). */
  | { kind: 'skip'; eventType: string; reason: string }
  | { kind: 'dead_letter'; eventType: string; reason: DeadLetterReason; error: string }
  | {
      kind: 'handle';
      eventType: string;
      /** The idempotency key: the event id (or a content id for id-less messages). */
      id: string;
      correlationId: string;
      prepare: () => Promise<Effect | void> | Effect | void;
    };

export type RecordOutcome =
  | { status: 'processed'; eventType: string; id: string }
  | { status: 'duplicate'; eventType: string; id: string }
  | { status: 'skipped'; eventType: string; reason: string }
  | { status: 'dead_lettered'; eventType: string; reason: DeadLetterReason }
  | { status: 'failed'; eventType: string; error: string }
  /** After a failure on the same partition: delivered again later. */
  | { status: 'not_attempted' };

export interface BatchResult {
  outcomes: Array<{ record: ConsumedRecord; outcome: RecordOutcome }>;
  /**
   * The partial batch response: in each partition with a failure, the first record not
   * done and every record after it, in offset order.
   */
  failed: ConsumedRecord[];
}

export interface ProcessOptions {
  /** How long the function may still wait (Lambda's remaining time less what its answer needs). */
  remainingTimeMs?: () => number;
}

export type ConsumerMetrics = Pick<
  MetricInstances,
  'kafkaMessagesReceived' | 'kafkaMessageProcessTime' | 'kafkaConsumerLag' | 'deadLetters' | 'duplicatesSuppressed'
>;

/** The structured logger's shape (Powertools Logger fits). */
export interface ConsumerLog {
  debug(message: string, ...extra: Array<Record<string, unknown>>): void;
  info(message: string, ...extra: Array<Record<string, unknown>>): void;
  warn(message: string, ...extra: Array<Record<string, unknown>>): void;
  error(message: string, ...extra: Array<Record<string, unknown>>): void;
}

/** A logger whose every line carries `keys`. */
export function withKeys(log: ConsumerLog, keys: Record<string, unknown>): ConsumerLog {
  return {
    debug: (message, ...extra) => log.debug(message, keys, ...extra),
    info: (message, ...extra) => log.info(message, keys, ...extra),
    warn: (message, ...extra) => log.warn(message, keys, ...extra),
    error: (message, ...extra) => log.error(message, keys, ...extra),
  };
}

export interface BatchProcessorParams {
  /** The function's name, for logs and the `dlq.consumer` header. */
  consumer: string;
  decide: (record: ConsumedRecord) => RecordDecision;
  publisher: RecordPublisher;
  deadLetterer: DeadLetterer;
  /** Bound on each produce (KAFKA_SEND_TIMEOUT_MS). */
  sendTimeoutMs: number;
  processed: ProcessedIds;
  metrics?: ConsumerMetrics;
  logger: ConsumerLog;
  /** Epoch milliseconds; injectable for tests. */
  now?: () => number;
}

export { UNKNOWN_EVENT_TYPE } from './steps';

/** The batch's records by topic-partition, each partition's in offset order. */
function byPartition(records: readonly ConsumedRecord[]): ConsumedRecord[][] {
  const partitions = new Map<string, ConsumedRecord[]>();
  for (const record of records) {
    const key = `${record.topic}\u0000${record.partition}`;
    const list = partitions.get(key) ?? [];
    list.push(record);
    partitions.set(key, list);
  }
  for (const list of partitions.values()) list.sort((a, b) => (BigInt(a.offset) < BigInt(b.offset) ? -1 : 1));
  return [...partitions.values()];
}

/** The partitions' outcomes as a batch result: in the order the event listed the records, and the partial batch response. */
function batchResult(records: readonly ConsumedRecord[], results: Settled[][]): BatchResult {
  const byRecord = new Map<ConsumedRecord, RecordOutcome>();
  for (const list of results) for (const { record, outcome } of list) byRecord.set(record, outcome);
  const outcomes = records.map((record) => ({ record, outcome: byRecord.get(record) ?? NOT_ATTEMPTED }));
  const failed = results.flatMap((list) => {
    const first = list.findIndex((r) => r.outcome.status === 'failed' || r.outcome.status === 'not_attempted');
    return first < 0 ? [] : list.slice(first).map((r) => r.record);
  });
  return { outcomes, failed };
}

/** How many records ended in each status. */
function summary(outcomes: BatchResult['outcomes']): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { outcome } of outcomes) counts[outcome.status] = (counts[outcome.status] ?? 0) + 1;
  return counts;
}

export function createBatchProcessor(params: BatchProcessorParams): {
  process(records: readonly ConsumedRecord[], options?: ProcessOptions): Promise<BatchResult>;
} {
  const { consumer, publisher, logger } = params;
  const ctx = { ...params, now: params.now ?? Date.now };
  return {
    async process(records, options = {}) {
      // The partitions' produces that fall in one turn of the event loop go as one.
      const shared = coalescing(publisher);
      const results = await Promise.all(byPartition(records).map((list) => processPartition(ctx, list, shared, options)));
      const result = batchResult(records, results);
      logger.debug('batch processed', { consumer, records: records.length, ...summary(result.outcomes) });
      return result;
    },
  };
}
