/**
 * What one record's outcome does, prepared before its partition's produce: an entry for the
 * partition's outbox (./outbox.ts) whose logs and metrics run only once that produce settles
 * (acknowledged: the record is done; not: it will be delivered again), or a retriable
 * failure that ends the partition.
 */
import { performance } from 'node:perf_hooks';
import { ValidationError, errorMessage, isRetriable } from '../errors';
import type { ConsumedRecord, DeadLetterReason, DeadLetterer } from '../kafka';
import type { ConsumerLog, ConsumerMetrics, Effect, RecordOutcome } from './batch';
import type { IdClaim } from './idempotency';
import type { OutboxEntry } from './outbox';

/** The event type of a record whose type cannot be read. */
export const UNKNOWN_EVENT_TYPE = 'unknown';

export const NOT_ATTEMPTED: RecordOutcome = { status: 'not_attempted' };

/** What preparing one record leaves to do. */
export type Step =
  /** An entry for the partition's outbox. */
  | { kind: 'entry'; entry: OutboxEntry & { abandon(): void } }
  /** A retriable failure of this record: what is waiting is written first, then this outcome. */
  | { kind: 'retry'; fail: () => RecordOutcome }
  /** An earlier record was not done (a produce made to free an id failed). */
  | { kind: 'stopped' };

/** Where the steps' effects go. */
export interface StepContext {
  deadLetterer: DeadLetterer;
  metrics?: ConsumerMetrics | undefined;
  logger: ConsumerLog;
}

/** A handled record and what it holds: the claim on its id, its effect, when its handling started. */
export interface Handled {
  record: ConsumedRecord;
  eventType: string;
  id: string;
  claim: IdClaim;
  effect: Effect;
  /** What its log lines say of it. */
  facts: Record<string, unknown>;
  /** performance.now() when its handling started. */
  started: number;
}

export function coordinates(record: ConsumedRecord): Record<string, unknown> {
  return { topic: record.topic, partition: record.partition, offset: record.offset };
}

function count(ctx: StepContext, record: ConsumedRecord, eventType: string, status: RecordOutcome['status']): void {
  ctx.metrics?.kafkaMessagesReceived.inc({ topic: record.topic, event_type: eventType, status });
}

/** The time a record's handling took, from `started` (performance.now()). */
export function observeTime(ctx: StepContext, record: ConsumedRecord, eventType: string, started: number): void {
  ctx.metrics?.kafkaMessageProcessTime.observe({ topic: record.topic, event_type: eventType }, (performance.now() - started) / 1000);
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

export function skipped(ctx: StepContext, record: ConsumedRecord, eventType: string, reason: string): Step {
  return settledEntry(record, { status: 'skipped', eventType, reason }, () => {
    count(ctx, record, eventType, 'skipped');
    ctx.logger.debug('record skipped', { ...coordinates(record), event_type: eventType, reason });
  });
}

export function duplicate(ctx: StepContext, record: ConsumedRecord, eventType: string, id: string, facts: Record<string, unknown>): Step {
  return settledEntry(record, { status: 'duplicate', eventType, id }, () => {
    ctx.metrics?.duplicatesSuppressed.inc({ topic: record.topic, event_type: eventType });
    count(ctx, record, eventType, 'duplicate');
    ctx.logger.info('duplicate record: effect not repeated', facts);
  });
}

export function deadLetter(ctx: StepContext, record: ConsumedRecord, eventType: string, reason: DeadLetterReason, error: string): Step {
  const letter = ctx.deadLetterer.letter(record, reason, error);
  const facts = { ...coordinates(record), event_type: eventType, reason };
  return {
    kind: 'entry',
    entry: {
      record,
      publish: [letter],
      acknowledged: ([ack]) => {
        ctx.metrics?.deadLetters.inc({ topic: record.topic, reason });
        count(ctx, record, eventType, 'dead_lettered');
        ctx.logger.warn('record dead-lettered', {
          ...facts,
          error,
          dlq_topic: ack?.topic ?? letter.topic,
          dlq_partition: ack?.partition,
          dlq_offset: ack?.offset,
        });
        return { status: 'dead_lettered', eventType, reason };
      },
      notAcknowledged: (dlqError) => {
        // Not acknowledged by the dead-letter topic: the record must be delivered again.
        count(ctx, record, eventType, 'failed');
        ctx.logger.error('record could not be dead-lettered; it will be delivered again', { ...facts, error: errorMessage(dlqError) });
        return { status: 'failed', eventType, error: `dead-lettering failed: ${errorMessage(dlqError)}` };
      },
      abandon: () => undefined,
    },
  };
}

/** A handled record: done once what its effect writes is acknowledged; the claim on its id is held till then. */
export function handled(ctx: StepContext, h: Handled): Step {
  const { record, eventType, id, claim, effect, facts } = h;
  const publish = effect.publish ?? [];
  const giveUp = () => {
    claim.release();
    observeTime(ctx, record, eventType, h.started);
    effect.notDone?.();
  };
  const acknowledged = (): RecordOutcome => {
    claim.commit();
    observeTime(ctx, record, eventType, h.started);
    try {
      effect.done?.();
    } catch (error) {
      ctx.logger.error('logging or counting a processed record failed', { ...facts, error: errorMessage(error) });
    }
    count(ctx, record, eventType, 'processed');
    return { status: 'processed', eventType, id };
  };
  const notAcknowledged = (error: unknown): RecordOutcome => {
    giveUp();
    if (publish.length === 0) return NOT_ATTEMPTED;
    return failed(ctx, record, eventType, error, facts);
  };
  return { kind: 'entry', entry: { record, publish, acknowledged, notAcknowledged, abandon: giveUp } };
}

/** The record failed and will be delivered again. */
function failed(
  ctx: StepContext,
  record: ConsumedRecord,
  eventType: string,
  error: unknown,
  facts: Record<string, unknown>,
): RecordOutcome {
  count(ctx, record, eventType, 'failed');
  ctx.logger.warn('record failed; it will be delivered again', { ...facts, error: errorMessage(error) });
  return { status: 'failed', eventType, error: errorMessage(error) };
}

/** The handler failed: retriable errors fail the record, others dead-letter it. */
export function handlerFailed(
  ctx: StepContext,
  record: ConsumedRecord,
  eventType: string,
  error: unknown,
  facts: Record<string, unknown>,
): Step {
  if (isRetriable(error)) return { kind: 'retry', fail: () => failed(ctx, record, eventType, error, facts) };
  const reason: DeadLetterReason = error instanceof ValidationError ? 'invalid_data' : 'handler_error';
  const details = error instanceof ValidationError && error.details.length > 0 ? `: ${error.details.join('; ')}` : '';
  return deadLetter(ctx, record, eventType, reason, `${errorMessage(error)}${details}`);
}
