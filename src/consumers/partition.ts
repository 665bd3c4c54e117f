/**
 * One partition's records, in offset order, through its outbox (./outbox.ts): each record
 * decided and prepared (./steps.ts), its entry written with the partition's next produce;
 * after a record that is not done, nothing more of the partition is attempted.
 */
import { performance } from 'node:perf_hooks';
import { errorMessage } from '../errors';
import type { ConsumedRecord, RecordPublisher } from '../kafka';
import type { ProcessOptions, RecordDecision } from './batch';
import type { ProcessedIds } from './idempotency';
import type { Settled } from './outbox';
import { createOutbox } from './outbox';
import type { Step, StepContext } from './steps';
import {
  NOT_ATTEMPTED,
  UNKNOWN_EVENT_TYPE,
  coordinates,
  deadLetter,
  duplicate,
  handled,
  handlerFailed,
  observeTime,
  skipped,
} from './steps';

export interface PartitionContext extends StepContext {
  decide: (record: ConsumedRecord) => RecordDecision;
  processed: ProcessedIds;
  /** Bound on each produce (KAFKA_SEND_TIMEOUT_MS). */
  sendTimeoutMs: number;
  /** Epoch milliseconds. */
  now: () => number;
}

/** The record's decision, or a dead letter when deciding failed (a bug: the record is kept). */
function decideRecord(ctx: PartitionContext, record: ConsumedRecord): RecordDecision {
  try {
    return ctx.decide(record);
  } catch (error) {
    // decide() only classifies; an exception there is a bug, and the record is kept.
    return {
      kind: 'dead_letter',
      eventType: UNKNOWN_EVENT_TYPE,
      reason: 'handler_error',
      error: `classifying the record failed: ${errorMessage(error)}`,
    };
  }
}

/**
 * Decides and prepares one record. `freeIds` writes what waits in the partition's outbox
 * (false when that was not acknowledged): it is called before waiting for an id another
 * record holds, so no partition waits while it holds ids itself, and none waits forever.
 */
async function prepareRecord(ctx: PartitionContext, record: ConsumedRecord, freeIds: () => Promise<boolean>): Promise<Step> {
  ctx.metrics?.kafkaConsumerLag.observe({ topic: record.topic }, Math.max(0, ctx.now() - record.timestamp));
  const decision = decideRecord(ctx, record);
  if (decision.kind === 'skip') return skipped(ctx, record, decision.eventType, decision.reason);
  if (decision.kind === 'dead_letter') return deadLetter(ctx, record, decision.eventType, decision.reason, decision.error);
  const { eventType, id, correlationId } = decision;
  const facts = { ...coordinates(record), event_type: eventType, event_id: id, correlation_id: correlationId };
  if (ctx.processed.busy(id) && !(await freeIds())) return { kind: 'stopped' };
  const claim = await ctx.processed.claim(id);
  if (!claim) return duplicate(ctx, record, eventType, id, facts);
  const started = performance.now();
  try {
    const effect = (await decision.prepare()) ?? {};
    return handled(ctx, { record, eventType, id, claim, effect, facts, started });
  } catch (error) {
    claim.release();
    observeTime(ctx, record, eventType, started);
    return handlerFailed(ctx, record, eventType, error, facts);
  }
}

/** One partition's records (in offset order) to their outcomes; `shared` carries its produces. */
export async function processPartition(
  ctx: PartitionContext,
  records: ConsumedRecord[],
  shared: RecordPublisher,
  options: ProcessOptions,
): Promise<Settled[]> {
  const outbox = createOutbox({
    publisher: shared,
    sendTimeoutMs: ctx.sendTimeoutMs,
    ...(options.remainingTimeMs ? { remainingTimeMs: options.remainingTimeMs } : {}),
  });
  const results: Settled[] = [];
  let stopped = false;
  const flush = async (): Promise<boolean> => {
    const { ok, settled } = await outbox.flush();
    results.push(...settled);
    if (!ok) stopped = true;
    return ok;
  };
  for (const record of records) {
    const step: Step = stopped ? { kind: 'stopped' } : await prepareRecord(ctx, record, flush);
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
