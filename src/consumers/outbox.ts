/**
 * One partition's records waiting for one acknowledged produce: their answers and dead
 * letters are written together, in record order, with one `send` (the container producer
 * makes it one produce request per broker, and the idempotent producer keeps the order of a
 * partition's records within it). So a partition of a hundred commands pays one round trip
 * to the brokers, not a hundred.
 *
 * A record waiting here is not done. When the produce is acknowledged, every record in it
 * is done, in order. When it is not (refused, timed out, or failed after part of it was
 * written: the caller cannot know which part), none is: each is told so and gives up what
 * it holds, and the partition stops there. Records rewritten on redelivery keep their ids
 * (answers' ids are derived from the commands'), so a part written twice is read once.
 *
 * A record with nothing to write is done at once when nothing waits before it; otherwise it
 * waits with the others, so nothing after a record that is not done counts as done.
 */
import { RetriableError } from '../errors';
import type { ConsumedRecord, OutgoingRecord, RecordAck, RecordPublisher } from '../kafka';
import { KafkaUnavailableError, recordBytes } from '../kafka';
import { withTimeout } from '../timeout';
import type { RecordOutcome } from './batch';

export interface OutboxEntry {
  record: ConsumedRecord;
  /** Written with the partition's next produce, in order. */
  publish: readonly OutgoingRecord[];
  /** The produce was acknowledged (`acks`: those of `publish`, in order): the record is done. */
  acknowledged(acks: ReadonlyArray<RecordAck | undefined>): RecordOutcome;
  /** It was not: the record will be delivered again. */
  notAcknowledged(error: unknown): RecordOutcome;
}

export interface Settled {
  record: ConsumedRecord;
  outcome: RecordOutcome;
}

/**
 * The most a produce carries (record bytes, headers included), well under the broker's
 * default message.max.bytes (1 MiB) for one partition's batch; a larger record goes alone.
 */
export const MAX_PRODUCE_BYTES = 512 * 1024;
/** Below this much remaining time a produce is not started: its answer could not arrive in time. */
export const MIN_PRODUCE_WAIT_MS = 20;

/** The function's time ran out before the records could be written. */
export class NoTimeLeftError extends RetriableError {}

interface Queued {
  records: OutgoingRecord[];
  bytes: number;
  timeoutMs: number | undefined;
  resolve: (acks: RecordAck[]) => void;
  reject: (error: unknown) => void;
}

/**
 * A publisher that sends what several partitions' outboxes flush in the same turn of the
 * event loop as one produce (at most `maxBytes`, so no partition's batch in it grows past
 * what one outbox may write): partitions finish their records at about the same time, and
 * each produce would otherwise wait for the one before it on the same connection. Every
 * caller is answered with its own records' acknowledgements, or with the produce's error:
 * its records are then not acknowledged, whichever partition's made it fail.
 */
export function coalescing(publisher: RecordPublisher, maxBytes = MAX_PRODUCE_BYTES): RecordPublisher {
  const queue: Queued[] = [];
  let scheduled = false;
  function sendQueued(): void {
    scheduled = false;
    let bytes = 0;
    let n = 0;
    while (n < queue.length && (n === 0 || bytes + (queue[n]?.bytes ?? 0) <= maxBytes)) bytes += queue[n++]?.bytes ?? 0;
    const batch = queue.splice(0, n);
    if (queue.length > 0) schedule();
    const timeouts = batch.map((q) => q.timeoutMs ?? Number.POSITIVE_INFINITY);
    const timeoutMs = Math.min(...timeouts);
    publisher
      .send(
        batch.flatMap((q) => q.records),
        Number.isFinite(timeoutMs) ? { timeoutMs } : {},
      )
      .then(
        (acks) => {
          let at = 0;
          for (const q of batch) {
            q.resolve(acks.slice(at, at + q.records.length));
            at += q.records.length;
          }
        },
        (error: unknown) => {
          for (const q of batch) q.reject(error);
        },
      );
  }
  function schedule(): void {
    if (scheduled) return;
    scheduled = true;
    setImmediate(sendQueued);
  }
  return {
    send: (records, options = {}) =>
      new Promise<RecordAck[]>((resolve, reject) => {
        const bytes = records.reduce((sum, r) => sum + recordBytes(r), 0);
        queue.push({ records, bytes, timeoutMs: options.timeoutMs, resolve, reject });
        schedule();
      }),
  };
}

export interface Outbox {
  /** Whether `entry` must wait for a produce of what is waiting now first (the produce would be too large). */
  full(entry: OutboxEntry): boolean;
  /** Adds `entry`; settles it at once when it writes nothing and nothing waits before it. */
  add(entry: OutboxEntry): Settled[];
  readonly waiting: number;
  /** Writes what waits with one produce; `ok` false when it was not acknowledged. */
  flush(): Promise<{ ok: boolean; settled: Settled[] }>;
}

export function createOutbox(params: {
  publisher: RecordPublisher;
  /** Bound on each produce (KAFKA_SEND_TIMEOUT_MS). */
  sendTimeoutMs: number;
  /** How long the function may still wait; unbounded when not given. */
  remainingTimeMs?: () => number;
  maxBytes?: number;
}): Outbox {
  const { publisher, sendTimeoutMs } = params;
  const maxBytes = params.maxBytes ?? MAX_PRODUCE_BYTES;
  const entries: OutboxEntry[] = [];
  let bytes = 0;
  const sizes = new WeakMap<OutboxEntry, number>();
  const sizeOf = (entry: OutboxEntry): number => {
    let size = sizes.get(entry);
    if (size === undefined) {
      size = entry.publish.reduce((sum, r) => sum + recordBytes(r), 0);
      sizes.set(entry, size);
    }
    return size;
  };

  /** One produce of `records`, its wait bounded by the send timeout and the function's remaining time. */
  async function produce(records: OutgoingRecord[]): Promise<RecordAck[]> {
    const remaining = params.remainingTimeMs?.() ?? Number.POSITIVE_INFINITY;
    if (remaining < MIN_PRODUCE_WAIT_MS) {
      throw new NoTimeLeftError(`the function has ${Math.max(Math.floor(remaining), 0)} ms left, too little to wait for Kafka`);
    }
    const waitMs = Math.min(sendTimeoutMs, remaining);
    return withTimeout(
      publisher.send(records, { timeoutMs: waitMs }),
      waitMs,
      () =>
        new KafkaUnavailableError(`Kafka did not acknowledge within ${waitMs} ms; the records may still be written`, {
          outcome: 'unknown',
        }),
    );
  }

  return {
    full: (entry) => entries.length > 0 && bytes + sizeOf(entry) > maxBytes,
    add(entry) {
      if (entries.length === 0 && entry.publish.length === 0) return [{ record: entry.record, outcome: entry.acknowledged([]) }];
      entries.push(entry);
      bytes += sizeOf(entry);
      return [];
    },
    get waiting() {
      return entries.length;
    },
    async flush() {
      const batch = entries.splice(0);
      bytes = 0;
      if (batch.length === 0) return { ok: true, settled: [] };
      const records = batch.flatMap((e) => e.publish);
      let acks: RecordAck[];
      try {
        acks = records.length === 0 ? [] : await produce(records);
      } catch (error) {
        return { ok: false, settled: batch.map((e) => ({ record: e.record, outcome: e.notAcknowledged(error) })) };
      }
      let at = 0;
      const settled = batch.map((e) => {
        const own = e.publish.map((_, i) => acks[at + i]);
        at += e.publish.length;
        return { record: e.record, outcome: e.acknowledged(own) };
      });
      return { ok: true, settled };
    },
  };
}
