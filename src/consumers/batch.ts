/**
 * One Kafka batch's records to per-record outcomes, with the Lambda Kafka event source's
 * failure semantics:
 * - a partition's records run in offset order, partitions side by side;
 * - a record that can never be processed, or whose handler fails with a non-retriable
 *   error, is dead-lettered and its partition goes on (retrying would block it forever);
 * - a retriable failure (src/errors.ts), or a failed dead-lettering, fails the record and
 *   every later one of its partition: the partial batch response lists them all, which is
 *   safe however Lambda retries, and no effect runs out of order;
 * - a record whose event id was processed before is a duplicate and its effect not repeated.
 */
import { performance } from 'node:perf_hooks';
import { ValidationError, errorMessage, isRetriable } from '../errors';
import type { ConsumedRecord, DeadLetterReason, DeadLetterer } from '../kafka';
import type { MetricInstances } from '../metrics';
import type { ProcessedIds } from './idempotency';

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
      run: () => Promise<void>;
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
   * The partial batch response: in each partition with a failure, the failed record and
   * every record after it (not attempted), in offset order.
   */
  failed: ConsumedRecord[];
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

export interface BatchProcessorParams {
  /** The function's name, for logs and the `dlq.consumer` header. */
  consumer: string;
  decide: (record: ConsumedRecord) => RecordDecision;
  deadLetterer: DeadLetterer;
  processed: ProcessedIds;
  metrics?: ConsumerMetrics;
  logger: ConsumerLog;
  /** Epoch milliseconds; injectable for tests. */
  now?: () => number;
}

export const UNKNOWN_EVENT_TYPE = 'unknown';

function coordinates(record: ConsumedRecord): Record<string, unknown> {
  return { topic: record.topic, partition: record.partition, offset: record.offset };
}

export function createBatchProcessor(params: BatchProcessorParams): {
  process(records: readonly ConsumedRecord[]): Promise<BatchResult>;
} {
  const { consumer, decide, deadLetterer, processed, metrics, logger } = params;
  const now = params.now ?? Date.now;

  function count(record: ConsumedRecord, eventType: string, status: RecordOutcome['status']): void {
    metrics?.kafkaMessagesReceived.inc({ topic: record.topic, event_type: eventType, status });
  }

  async function deadLetter(
    record: ConsumedRecord,
    eventType: string,
    reason: DeadLetterReason,
    error: string,
  ): Promise<RecordOutcome> {
    try {
      const ack = await deadLetterer.send(record, reason, error);
      metrics?.deadLetters.inc({ topic: record.topic, reason });
      count(record, eventType, 'dead_lettered');
      logger.warn('record dead-lettered', {
        ...coordinates(record),
        event_type: eventType,
        reason,
        error,
        dlq_topic: ack.topic,
        dlq_partition: ack.partition,
        dlq_offset: ack.offset,
      });
      return { status: 'dead_lettered', eventType, reason };
    } catch (dlqError) {
      // Not acknowledged by the dead-letter topic: the record must be delivered again.
      count(record, eventType, 'failed');
      logger.error('record could not be dead-lettered; it will be delivered again', {
        ...coordinates(record),
        event_type: eventType,
        reason,
        error: errorMessage(dlqError),
      });
      return { status: 'failed', eventType, error: `dead-lettering failed: ${errorMessage(dlqError)}` };
    }
  }

  async function processRecord(record: ConsumedRecord): Promise<RecordOutcome> {
    metrics?.kafkaConsumerLag.observe({ topic: record.topic }, Math.max(0, now() - record.timestamp));
    let decision: RecordDecision;
    try {
      decision = decide(record);
    } catch (error) {
      // decide() only classifies; an exception there is a bug, and the record is kept.
      return deadLetter(record, UNKNOWN_EVENT_TYPE, 'handler_error', `classifying the record failed: ${errorMessage(error)}`);
    }
    if (decision.kind === 'skip') {
      count(record, decision.eventType, 'skipped');
      logger.debug('record skipped', { ...coordinates(record), event_type: decision.eventType, reason: decision.reason });
      return { status: 'skipped', eventType: decision.eventType, reason: decision.reason };
    }
    if (decision.kind === 'dead_letter') {
      return deadLetter(record, decision.eventType, decision.reason, decision.error);
    }
    const { eventType, id, correlationId } = decision;
    const facts = { ...coordinates(record), event_type: eventType, event_id: id, correlation_id: correlationId };
    const claim = await processed.claim(id);
    if (!claim) {
      metrics?.duplicatesSuppressed.inc({ topic: record.topic, event_type: eventType });
      count(record, eventType, 'duplicate');
      logger.info('duplicate record: effect not repeated', facts);
      return { status: 'duplicate', eventType, id };
    }
    const started = performance.now();
    const observeTime = () =>
      metrics?.kafkaMessageProcessTime.observe({ topic: record.topic, event_type: eventType }, (performance.now() - started) / 1000);
    try {
      await decision.run();
    } catch (error) {
      claim.release();
      observeTime();
      if (isRetriable(error)) {
        count(record, eventType, 'failed');
        logger.warn('record failed; it will be delivered again', { ...facts, error: errorMessage(error) });
        return { status: 'failed', eventType, error: errorMessage(error) };
      }
      const reason: DeadLetterReason = error instanceof ValidationError ? 'invalid_data' : 'handler_error';
      const details = error instanceof ValidationError && error.details.length > 0 ? `: ${error.details.join('; ')}` : '';
      return deadLetter(record, eventType, reason, `${errorMessage(error)}${details}`);
    }
    observeTime();
    claim.commit();
    count(record, eventType, 'processed');
    return { status: 'processed', eventType, id };
  }

  async function processPartition(records: ConsumedRecord[]): Promise<Array<{ record: ConsumedRecord; outcome: RecordOutcome }>> {
    const out: Array<{ record: ConsumedRecord; outcome: RecordOutcome }> = [];
    let failed = false;
    for (const record of records) {
      if (failed) {
        out.push({ record, outcome: { status: 'not_attempted' } });
        continue;
      }
      const outcome = await processRecord(record);
      out.push({ record, outcome });
      if (outcome.status === 'failed') failed = true;
    }
    return out;
  }

  return {
    async process(records) {
      const partitions = new Map<string, ConsumedRecord[]>();
      for (const record of records) {
        const key = `${record.topic}\u0000${record.partition}`;
        const list = partitions.get(key) ?? [];
        list.push(record);
        partitions.set(key, list);
      }
      for (const list of partitions.values()) list.sort((a, b) => (BigInt(a.offset) < BigInt(b.offset) ? -1 : 1));
      const results = await Promise.all([...partitions.values()].map(processPartition));
      const byRecord = new Map<ConsumedRecord, RecordOutcome>();
      for (const list of results) for (const { record, outcome } of list) byRecord.set(record, outcome);
      // Outcomes in the order the event listed the records.
      const outcomes = records.map((record) => ({ record, outcome: byRecord.get(record) ?? { status: 'not_attempted' as const } }));
      const failed = results.flatMap((list) => {
        const first = list.findIndex((r) => r.outcome.status === 'failed');
        return first < 0 ? [] : list.slice(first).map((r) => r.record);
      });
      const summary: Record<string, number> = {};
      for (const { outcome } of outcomes) summary[outcome.status] = (summary[outcome.status] ?? 0) + 1;
      logger.debug('batch processed', { consumer, records: records.length, ...summary });
      return { outcomes, failed };
    },
  };
}
