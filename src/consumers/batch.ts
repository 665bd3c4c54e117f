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
 */
import { performance } from 'node:perf_hooks';
import { ValidationError, errorMessage, isRetriable } from '../errors';
import type { ConsumedRecord, DeadLetterReason, DeadLetterer, OutgoingRecord, RecordPublisher } from '../kafka';
import type { MetricInstances } from '../metrics';
import type { IdClaim, ProcessedIds } from './idempotency';
import type { OutboxEntry, Settled } from './outbox';
import { coalescing, createOutbox } from './outbox';

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

export const UNKNOWN_EVENT_TYPE = 'unknown';

const NOT_ATTEMPTED: RecordOutcome = { status: 'not_attempted' };

function coordinates(record: ConsumedRecord): Record<string, unknown> {
  return { topic: record.topic, partition: record.partition, offset: record.offset };
}

/** What preparing one record leaves to do. */
type Step =
  /** An entry for the partition's outbox. */
  | { kind: 'entry'; entry: OutboxEntry & { abandon(): void } }
  /** A retriable failure of this record: what is waiting is written first, then this outcome. */
  | { kind: 'retry'; fail: () => RecordOutcome }
  /** An earlier record was not done (a produce made to free an id failed). */
  | { kind: 'stopped' };

export function createBatchProcessor(params: BatchProcessorParams): {
  process(records: readonly ConsumedRecord[], options?: ProcessOptions): Promise<BatchResult>;
} {
  const { consumer, decide, publisher, deadLetterer, sendTimeoutMs, processed, metrics, logger } = params;
  const now = params.now ?? Date.now;

  function count(record: ConsumedRecord, eventType: string, status: RecordOutcome['status']): void {
    metrics?.kafkaMessagesReceived.inc({ topic: record.topic, event_type: eventType, status });
  }

  /** A record that writes nothing: done when everything before it is. */
  function settledEntry(record: ConsumedRecord, outcome: RecordOutcome, done: () => void): Step {
    return {
      kind: 'entry',
      entry: {
        record,
        publish: [],
        acknowledged: () => {
          done();
          return outcome;
        },
        notAcknowledged: () => NOT_ATTEMPTED,
        abandon: () => undefined,
      },
    };
  }

  function skipped(record: ConsumedRecord, eventType: string, reason: string): Step {
    return settledEntry(record, { status: 'skipped', eventType, reason }, () => {
      count(record, eventType, 'skipped');
      logger.debug('record skipped', { ...coordinates(record), event_type: eventType, reason });
    });
  }

  function duplicate(record: ConsumedRecord, eventType: string, id: string, facts: Record<string, unknown>): Step {
    return settledEntry(record, { status: 'duplicate', eventType, id }, () => {
      metrics?.duplicatesSuppressed.inc({ topic: record.topic, event_type: eventType });
      count(record, eventType, 'duplicate');
      logger.info('duplicate record: effect not repeated', facts);
    });
  }

  function deadLetter(record: ConsumedRecord, eventType: string, reason: DeadLetterReason, error: string): Step {
    const letter = deadLetterer.letter(record, reason, error);
    const facts = { ...coordinates(record), event_type: eventType, reason };
    return {
      kind: 'entry',
      entry: {
        record,
        publish: [letter],
        acknowledged: ([ack]) => {
          metrics?.deadLetters.inc({ topic: record.topic, reason });
          count(record, eventType, 'dead_lettered');
          logger.warn('record dead-lettered', { ...facts, error, dlq_topic: ack?.topic ?? letter.topic, dlq_partition: ack?.partition, dlq_offset: ack?.offset });
          return { status: 'dead_lettered', eventType, reason };
        },
        notAcknowledged: (dlqError) => {
          // Not acknowledged by the dead-letter topic: the record must be delivered again.
          count(record, eventType, 'failed');
          logger.error('record could not be dead-lettered; it will be delivered again', { ...facts, error: errorMessage(dlqError) });
          return { status: 'failed', eventType, error: `dead-lettering failed: ${errorMessage(dlqError)}` };
        },
        abandon: () => undefined,
      },
    };
  }

  /** A handled record: done once what its effect writes is acknowledged; the claim on its id is held till then. */
  function handled(record: ConsumedRecord, eventType: string, id: string, claim: IdClaim, effect: Effect, facts: Record<string, unknown>, started: number): Step {
    const publish = effect.publish ?? [];
    const observeTime = () =>
      metrics?.kafkaMessageProcessTime.observe({ topic: record.topic, event_type: eventType }, (performance.now() - started) / 1000);
    const giveUp = () => {
      claim.release();
      observeTime();
      effect.notDone?.();
    };
    return {
      kind: 'entry',
      entry: {
        record,
        publish,
        acknowledged: () => {
          claim.commit();
          observeTime();
          try {
            effect.done?.();
          } catch (error) {
            logger.error('logging or counting a processed record failed', { ...facts, error: errorMessage(error) });
          }
          count(record, eventType, 'processed');
          return { status: 'processed', eventType, id };
        },
        notAcknowledged: (error) => {
          giveUp();
          if (publish.length === 0) return NOT_ATTEMPTED;
          count(record, eventType, 'failed');
          logger.warn('record failed; it will be delivered again', { ...facts, error: errorMessage(error) });
          return { status: 'failed', eventType, error: errorMessage(error) };
        },
        abandon: giveUp,
      },
    };
  }

  /** The handler failed: retriable errors fail the record, others dead-letter it. */
  function handlerFailed(record: ConsumedRecord, eventType: string, error: unknown, facts: Record<string, unknown>): Step {
    if (isRetriable(error)) {
      return {
        kind: 'retry',
        fail: () => {
          count(record, eventType, 'failed');
          logger.warn('record failed; it will be delivered again', { ...facts, error: errorMessage(error) });
          return { status: 'failed', eventType, error: errorMessage(error) };
        },
      };
    }
    const reason: DeadLetterReason = error instanceof ValidationError ? 'invalid_data' : 'handler_error';
    const details = error instanceof ValidationError && error.details.length > 0 ? `: ${error.details.join('; ')}` : '';
    return deadLetter(record, eventType, reason, `${errorMessage(error)}${details}`);
  }

  /**
   * Decides and prepares one record. `freeIds` writes what waits in the partition's outbox
   * (false when that was not acknowledged): it is called before waiting for an id another
   * record holds, so no partition waits while it holds ids itself, and none waits forever.
   */
  async function prepareRecord(record: ConsumedRecord, freeIds: () => Promise<boolean>): Promise<Step> {
    metrics?.kafkaConsumerLag.observe({ topic: record.topic }, Math.max(0, now() - record.timestamp));
    let decision: RecordDecision;
    try {
      decision = decide(record);
    } catch (error) {
      // decide() only classifies; an exception there is a bug, and the record is kept.
      return deadLetter(record, UNKNOWN_EVENT_TYPE, 'handler_error', `classifying the record failed: ${errorMessage(error)}`);
    }
    if (decision.kind === 'skip') return skipped(record, decision.eventType, decision.reason);
    if (decision.kind === 'dead_letter') return deadLetter(record, decision.eventType, decision.reason, decision.error);
    const { eventType, id, correlationId } = decision;
    const facts = { ...coordinates(record), event_type: eventType, event_id: id, correlation_id: correlationId };
    if (processed.busy(id) && !(await freeIds())) return { kind: 'stopped' };
    const claim = await processed.claim(id);
    if (!claim) return duplicate(record, eventType, id, facts);
    const started = performance.now();
    try {
      return handled(record, eventType, id, claim, (await decision.prepare()) ?? {}, facts, started);
    } catch (error) {
      claim.release();
      metrics?.kafkaMessageProcessTime.observe({ topic: record.topic, event_type: eventType }, (performance.now() - started) / 1000);
      return handlerFailed(record, eventType, error, facts);
    }
  }

  async function processPartition(records: ConsumedRecord[], shared: RecordPublisher, options: ProcessOptions): Promise<Settled[]> {
    const outbox = createOutbox({ publisher: shared, sendTimeoutMs, ...(options.remainingTimeMs ? { remainingTimeMs: options.remainingTimeMs } : {}) });
    const results: Settled[] = [];
    let stopped = false;
    const flush = async (): Promise<boolean> => {
      const { ok, settled } = await outbox.flush();
      results.push(...settled);
      if (!ok) stopped = true;
      return ok;
    };
    for (const record of records) {
      const step: Step = stopped ? { kind: 'stopped' } : await prepareRecord(record, flush);
      if (step.kind === 'entry' && outbox.full(step.entry)) await flush();
      if (step.kind === 'stopped' || stopped) {
        if (step.kind === 'entry') step.entry.abandon();
        results.push({ record, outcome: NOT_ATTEMPTED });
      } else if (step.kind === 'entry') {
        results.push(...outbox.add(step.entry));
      } else {
        results.push({ record, outcome: (await flush()) ? step.fail() : NOT_ATTEMPTED });
        stopped = true;
      }
    }
    if (!stopped) await flush();
    return results;
  }

  return {
    async process(records, options = {}) {
      const partitions = new Map<string, ConsumedRecord[]>();
      for (const record of records) {
        const key = `${record.topic}\u0000${record.partition}`;
        const list = partitions.get(key) ?? [];
        list.push(record);
        partitions.set(key, list);
      }
      for (const list of partitions.values()) list.sort((a, b) => (BigInt(a.offset) < BigInt(b.offset) ? -1 : 1));
      // The partitions' produces that fall in one turn of the event loop go as one.
      const shared = coalescing(publisher);
      const results = await Promise.all([...partitions.values()].map((list) => processPartition(list, shared, options)));
      const byRecord = new Map<ConsumedRecord, RecordOutcome>();
      for (const list of results) for (const { record, outcome } of list) byRecord.set(record, outcome);
      // Outcomes in the order the event listed the records.
      const outcomes = records.map((record) => ({ record, outcome: byRecord.get(record) ?? NOT_ATTEMPTED }));
      const failed = results.flatMap((list) => {
        const first = list.findIndex((r) => r.outcome.status === 'failed' || r.outcome.status === 'not_attempted');
        return first < 0 ? [] : list.slice(first).map((r) => r.record);
      });
      const summary: Record<string, number> = {};
      for (const { outcome } of outcomes) summary[outcome.status] = (summary[outcome.status] ?? 0) + 1;
      logger.debug('batch processed', { consumer, records: records.length, ...summary });
      return { outcomes, failed };
    },
  };
}
