/**
 * One Kafka event source mapping, as Lambda runs it, free of kafkajs: the consumer
 * (./kafka-source.ts, or a fake in tests) hands it the current assignment and the records
 * it fetched; it filters them, gathers batches, invokes the function with the exact AWS
 * event, and commits offsets only for records the function took or that went to the
 * on-failure destination.
 *
 * It is a state machine driven by events (records, assignments, an invocation, commit or
 * destination write settling, a timer): each event updates the state synchronously and
 * then starts whatever work became possible. Nothing waits in a loop, so its behaviour is
 * decided by the order of events alone, which the model-based test generates.
 *
 * How it keeps records safe:
 * - It takes a partition's records only in an unbroken run from where the group stood.
 *   A partition's state knows its start (the group's committed offset when the consumer
 *   got the partition, told by `startAt` or with the assignment) and takes nothing before
 *   it knows it; then it takes a fetch only if the fetch began at or before the offset it
 *   expects next (`expectedOffset`), so every offset from the start to there was handed
 *   over. A fetch that began further on (the consumer's position moved past records it
 *   never handed over, or a batch fetched before a rebalance arrived after it) is refused
 *   (`push` returns false) and nothing of it is taken; the consumer fetches again from
 *   the expected offset. A commit can only pass what was handed over.
 * - Per-partition state with an assignment generation. A partition revoked by a rebalance
 *   loses its state; when it comes back it gets a new state and a new generation. A batch
 *   (or a destination write) settles only against the state and generation it was taken
 *   from: a stale one changes nothing and commits nothing; the partition's owner delivers
 *   those records again from the committed offset.
 * - At most one batch or destination write per partition at a time, across generations: a
 *   partition that comes back while its old batch is in flight waits for that batch.
 * - Records leave a partition's queue by offset, never by count, and only from its head;
 *   the offset committed is the first record not yet resolved, so a commit never passes a
 *   record that was not delivered successfully or written to the destination. (The one
 *   exception, below: records this process already settled may leave from anywhere.)
 * - What it settled stays settled. Per partition it remembers the offsets it settled in
 *   this process (one contiguous range, from the state's start to its commit offset; also a batch that succeeded after its partition was revoked). A commit may be
 *   lost (it failed, or died with the group coordinator, and the consumer restarted), so
 *   the group may hand the partition back at an older offset: records in that range are
 *   then not delivered again but skipped and committed past, as filtered records are. It
 *   skips only what it settled itself: a partition another member moved further resumes
 *   where the group stands; records below the range (another member's) are delivered. One
 *   range per partition of its topic, and at most MAX_SETTLED_PARTITIONS of them.
 * - Buffers are per partition: a partition holding `maxRecordsPerPartition` unresolved
 *   records has its own fetches paused (`deps.pause`) until half of them are resolved; the
 *   others keep fetching. A partition whose record keeps failing waits on its own backoff,
 *   and once it has failed it is delivered in batches of its own, so it never makes
 *   another partition's batch fail again.
 * - A commit is recorded as done only when `deps.commit` resolves; one commit at a time.
 *
 * What it does the way Lambda does (docs.aws.amazon.com/lambda/latest/dg/kafka-retry-
 * configurations.html, kafka-on-failure-destination.html, invocation-eventfiltering.html):
 * - batches of at most `batchSize` records and about 6 MB, gathered for up to
 *   `batchingWindowMs`, records keyed `topic-partition`, each partition in offset order;
 * - filtered-out records never reach the function; their offsets are committed;
 * - a failed invocation (error, timeout, malformed partial response) delivers the records
 *   again after a backoff; `maximumRetryAttempts` counts the retries of the failing record
 *   (the first record the partition resumes at), not of a batch: it starts again for the
 *   next record that fails. -1 retries without end, except that with an on-failure
 *   destination AWS applies at most 10;
 * - with ReportBatchItemFailures, each reported partition resumes at its lowest reported
 *   offset; records below it are done, partitions not reported are done;
 * - `bisectBatchOnFunctionError`: a batch of a partition that fails as a whole is split in
 *   two and each half retried on its own; splitting does not count as a retry;
 * - `maximumRecordAgeSeconds`: a record older than that never reaches the function;
 * - when the retries of a record are used up, the records that failed in the last attempt
 *   (all of the partition's records in the batch, or the reported ones) go to the
 *   on-failure destination, records the function took are done, and the partition moves
 *   on; a record too old goes there too. Without a destination Lambda discards them, and
 *   so does this mapping, with an error line saying so.
 */
import { randomUUID } from 'node:crypto';
import type { CompiledFilter } from './filter';
import type { KafkaEvent, KafkaEventSource } from './event';
import { buildKafkaEvent, interpretBatchResponse, recordEventBytes } from './event';
import type { BatchOutcome } from './event';
import type { ConsumedRecord, TopicPartition } from './records';
import { partitionKey } from './records';

/** What an invocation came back with. */
export type InvokeResult = { ok: true; payload: unknown } | { ok: false; error: string };

export interface PartitionOffset {
  topic: string;
  partition: number;
  /** The next offset to read (Kafka's committed-offset convention). */
  offset: string;
}

export interface EventSourceLog {
  debug(message: string, extra?: Record<string, unknown>): void;
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
}

/** Why records left for the on-failure destination: AWS's `requestContext.condition`. */
export type FailureCondition = 'RetriesExhausted' | 'RecordAgeExceeded';

/** Records of one partition that Lambda gives up on, with what AWS writes about them. */
export interface Failure {
  condition: FailureCondition;
  /** The failed records, in offset order, all of one partition. */
  records: ConsumedRecord[];
  requestId: string;
  /** How many times the function was invoked with the first of them. */
  approximateInvokeCount: number;
  /** The last invocation's response context, or null when none was made. */
  response: { statusCode: number; executedVersion: string; functionError?: string } | null;
  /** When Lambda gave up on them. */
  at: Date;
  /** Why, for logs (the last invocation's error, or the age). */
  reason: string;
}

export interface Timers {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface MappingSettings {
  /** The function's name, for logs. */
  functionName: string;
  /** 1..10000; AWS's default for Kafka is 100. */
  batchSize: number;
  /** AWS's default for Kafka is 500 ms when maximumBatchingWindow is not set. */
  batchingWindowMs: number;
  source: KafkaEventSource;
  filter: CompiledFilter;
  /** FunctionResponseTypes includes ReportBatchItemFailures. */
  reportBatchItemFailures: boolean;
  /** -1 (AWS's default): retry until the function succeeds (at most 10 with a destination). */
  maximumRetryAttempts: number;
  /** -1 (AWS's default): records never get too old. */
  maximumRecordAgeSeconds: number;
  bisectBatchOnFunctionError: boolean;
  /** Whether an on-failure destination takes the records Lambda gives up on (else they are discarded). */
  hasDestination: boolean;
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** Unresolved records held per partition before its fetches pause. */
  maxRecordsPerPartition: number;
  /** Lambda's synchronous invocation payload limit is 6 MB; stay under it. */
  maxEventBytes: number;
  /** At most one commit per this many ms (what settles meanwhile goes into the next); a stop commits at once. */
  commitIntervalMs: number;
}

export const MAPPING_DEFAULTS = {
  batchSize: 100,
  batchingWindowMs: 500,
  reportBatchItemFailures: false,
  maximumRetryAttempts: -1,
  maximumRecordAgeSeconds: -1,
  bisectBatchOnFunctionError: false,
  /** What AWS applies when retries are infinite and an on-failure destination is set. */
  retriesWithDestination: 10,
  initialBackoffMs: 100,
  maxBackoffMs: 5_000,
  maxRecordsPerPartition: 1_000,
  maxEventBytes: 5_900_000,
  commitIntervalMs: 100,
} as const;

export interface MappingDeps {
  invoke(event: KafkaEvent): Promise<InvokeResult>;
  /** Resolves only once the offsets are committed; rejects otherwise. */
  commit(offsets: PartitionOffset[]): Promise<void>;
  /** Writes records Lambda gave up on to the on-failure destination (only called when there is one). */
  sendToDestination?(failure: Failure): Promise<void>;
  /** Told of records discarded because there is no destination (as Lambda discards them). */
  discarded?(failure: Failure): void;
  /** Stop fetching this partition (its buffer is full), and start again. */
  pause(partition: TopicPartition): void;
  resume(partition: TopicPartition): void;
  log: EventSourceLog;
  timers?: Timers;
  requestId?: () => string;
}

interface Pending {
  record: ConsumedRecord;
  offset: bigint;
  arrivedAt: number;
  size: number;
}

interface PartitionState {
  readonly key: string;
  readonly tp: TopicPartition;
  readonly generation: number;
  /** Matching records not yet resolved, in offset order. Records leave from the head only. */
  queue: Pending[];
  /**
   * Where the group stood when this state began (its committed offset): nothing to commit
   * before it moves. Undefined until the consumer says (`startAt`); nothing is taken before.
   */
  start: bigint | undefined;
  /** The offset expected next: every offset from `start` below it was handed over (dedupes a consumer that fetches again). */
  nextOffset: bigint | undefined;
  /** The last offset this state committed. */
  committed: bigint | undefined;
  /** Failed invocations of each queued record (retries are counted per record); entries leave with their records. */
  failures: Map<bigint, number>;
  /** The response of the last failed invocation, for the destination's responseContext. */
  lastResponse: Failure['response'];
  /** A batch that failed as a whole, being retried in halves: records below `end`, `size` at a time. */
  bisect: { end: bigint; size: number } | undefined;
  /** Not before this time (backoff after a failure). */
  retryAt: number;
  /** A destination write that failed, to try again before anything else. */
  pendingFailure: { failure: Failure; through: bigint } | undefined;
  paused: boolean;
}

interface BatchPart {
  state: PartitionState;
  items: Pending[];
}

interface Batch {
  parts: BatchPart[];
  records: ConsumedRecord[];
}

const ZERO = 0n;

/** Whether the invocation left nothing of partition `key` to retry. */
function succeededFor(outcome: BatchOutcome, key: string): boolean {
  return outcome.kind === 'success' || (outcome.kind === 'partial' && !outcome.retryFrom.has(key));
}

/** The longest delay one Node timer holds (a longer one fires after 1 ms, with a TimeoutOverflowWarning). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** The settled ranges a mapping keeps: one per partition of its topic; the oldest goes past this. */
export const MAX_SETTLED_PARTITIONS = 10_000;

/** Offsets `from` (inclusive) to `to` (exclusive) of a partition, settled by this process. */
interface SettledRange {
  from: bigint;
  to: bigint;
}

export class EventSourceMapping {
  readonly settings: MappingSettings;
  readonly #deps: MappingDeps;
  readonly #timers: Timers;
  readonly #partitions = new Map<string, PartitionState>();
  /** Partitions with a batch or destination write in flight, of any generation. */
  readonly #busy = new Set<string>();
  /** Partitions this mapping paused, of any generation (so a partition that comes back is resumed). */
  readonly #pausedKeys = new Set<string>();
  /** What this process settled, per partition, across generations (see the top of the file). */
  readonly #settled = new Map<string, SettledRange>();
  #generation = 0;
  #stopping = false;
  #timer: { handle: unknown; at: number } | undefined;
  #pumpScheduled = false;
  #work = new Set<Promise<void>>();
  #commitRunning = false;
  #commitScheduled = false;
  #commitWanted = false;
  #commitTimer: unknown;
  #commitFailures = 0;
  #lastCommitAt = -Infinity;
  /** Counters for logs and benchmarks. */
  readonly stats = {
    invocations: 0,
    delivered: 0,
    filtered: 0,
    failures: 0,
    commits: 0,
    toDestination: 0,
    discarded: 0,
    skippedSettled: 0,
  };

  constructor(settings: MappingSettings, deps: MappingDeps) {
    this.settings = settings;
    this.#deps = deps;
    this.#timers = deps.timers ?? {
      now: Date.now,
      setTimeout: (callback, ms) => setTimeout(callback, ms),
      clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
    };
  }

  /** The retries a failing record gets: -1 is unlimited, except with a destination (AWS applies 10). */
  get retryLimit(): number {
    const { maximumRetryAttempts, hasDestination } = this.settings;
    if (maximumRetryAttempts < 0 && hasDestination) return MAPPING_DEFAULTS.retriesWithDestination;
    return maximumRetryAttempts;
  }

  /** What a partition holds, for logs and tests. */
  inspect(): Array<{
    key: string;
    generation: number;
    buffered: number;
    busy: boolean;
    paused: boolean;
    attempts: number;
    next: string | undefined;
  }> {
    return [...this.#partitions.values()].map((s) => ({
      key: s.key,
      generation: s.generation,
      buffered: s.queue.length,
      busy: this.#busy.has(s.key),
      paused: s.paused,
      attempts: s.queue[0] ? (s.failures.get(s.queue[0].offset) ?? 0) : 0,
      next: this.#commitOffset(s)?.toString(),
    }));
  }

  /**
   * The consumer's current assignment (after every rebalance). Partitions no longer in it
   * lose their state; new ones get a fresh state and generation; kept ones keep theirs.
   * A new partition's start is its `offset` when given, else told later by `startAt`.
   * Returns the assigned partitions that wait for their start (new ones, and kept ones
   * whose start was not told yet).
   */
  assign(partitions: ReadonlyArray<TopicPartition & { offset?: string }>): TopicPartition[] {
    const wanted = new Map(partitions.map((tp) => [partitionKey(tp.topic, tp.partition), tp]));
    for (const [key, state] of this.#partitions) {
      if (wanted.has(key)) continue;
      this.#partitions.delete(key);
      if (state.paused) this.#resumeFetch(state.tp, key);
    }
    const waiting: TopicPartition[] = [];
    for (const [key, tp] of wanted) {
      const kept = this.#partitions.get(key);
      if (kept) {
        if (kept.start === undefined) waiting.push(kept.tp);
        continue;
      }
      this.#generation += 1;
      const start = tp.offset === undefined ? undefined : BigInt(tp.offset);
      if (start === undefined) waiting.push({ topic: tp.topic, partition: tp.partition });
      this.#partitions.set(key, {
        key,
        tp: { topic: tp.topic, partition: tp.partition },
        generation: this.#generation,
        queue: [],
        start,
        nextOffset: start,
        committed: undefined,
        failures: new Map(),
        lastResponse: null,
        bisect: undefined,
        retryAt: 0,
        pendingFailure: undefined,
        paused: false,
      });
      // A partition paused in an earlier generation must fetch again: its new state is empty.
      if (this.#pausedKeys.has(key)) this.#resumeFetch(tp, key);
    }
    this.#schedulePump();
    return waiting;
  }

  /** Where the group stands on a newly assigned partition (its committed offset): the state takes records from there. */
  startAt(tp: TopicPartition, offset: string): void {
    const state = this.#partitions.get(partitionKey(tp.topic, tp.partition));
    if (!state || state.start !== undefined) return;
    state.start = BigInt(offset);
    state.nextOffset = state.start;
  }

  /** The offset the consumer is to fetch next on this partition; undefined while its start is unknown or it is not assigned. */
  expectedOffset(tp: TopicPartition): string | undefined {
    return this.#partitions.get(partitionKey(tp.topic, tp.partition))?.nextOffset?.toString();
  }

  /**
   * Records of one partition, in offset order, as fetched from `from` (the offset the fetch
   * asked for; the first record's offset when not given) up to `to` (exclusive; offsets
   * between the last record and `to` hold nothing to deliver, such as transaction markers).
   * Never waits: a partition whose buffer is full is paused instead. Returns whether the
   * records were taken: not when the partition is not assigned, its start is not known yet,
   * or the fetch began past the offset expected next (records between were never handed
   * over); then nothing of them is taken, and the consumer fetches again from `expectedOffset`.
   */
  push(records: readonly ConsumedRecord[], fetched: { from?: string; to?: string } = {}): boolean {
    const first = records[0];
    if (!first) return false;
    return this.#handOver({ topic: first.topic, partition: first.partition }, records, {
      from: fetched.from ?? first.offset,
      ...(fetched.to !== undefined ? { to: fetched.to } : {}),
    });
  }

  /**
   * The consumer fetched offsets `from` to `to` (exclusive) and found nothing to deliver
   * (transaction markers, aborted or compacted records). Taken like `push`, on the same terms.
   */
  handOverNothing(tp: TopicPartition, from: string, to: string): boolean {
    return this.#handOver(tp, [], { from, to });
  }

  #handOver(tp: TopicPartition, records: readonly ConsumedRecord[], fetched: { from: string; to?: string }): boolean {
    if (this.#stopping) return false;
    const state = this.#partitions.get(partitionKey(tp.topic, tp.partition));
    if (!state || state.nextOffset === undefined || BigInt(fetched.from) > state.nextOffset) return false;
    this.#take(state, records);
    if (fetched.to !== undefined && BigInt(fetched.to) > state.nextOffset) {
      state.nextOffset = BigInt(fetched.to);
      this.#noteSettled(state);
      this.#requestCommit();
    }
    return true;
  }

  /**
   * The broker no longer holds this partition's records before `logStart` (retention
   * deleted them before they were handed over): nothing can deliver them, on AWS neither.
   * The state moves past them, says so, and commits there.
   */
  skipDeleted(tp: TopicPartition, logStart: string): void {
    const state = this.#partitions.get(partitionKey(tp.topic, tp.partition));
    const to = BigInt(logStart);
    if (!state || state.nextOffset === undefined || to <= state.nextOffset) return;
    this.#deps.log.warn(
      `${this.settings.functionName}: ${state.key}: offsets ${state.nextOffset}..${to - 1n} were deleted by the broker (its retention) before they were read; ` +
        'nothing can deliver them, so they are committed past',
    );
    state.nextOffset = to;
    this.#noteSettled(state);
    this.#requestCommit();
    this.#schedulePump();
  }

  /** Records handed over in an unbroken run: queued, filtered out, or skipped as settled before. */
  #take(state: PartitionState, records: readonly ConsumedRecord[]): void {
    const now = this.#timers.now();
    const settled = this.#settled.get(state.key);
    let filtered = false;
    let skipped = 0;
    for (const record of records) {
      const offset = BigInt(record.offset);
      if (offset < state.nextOffset!) continue; // seen already
      state.nextOffset = offset + 1n;
      if (settled && offset >= settled.from && offset < settled.to) {
        // Settled by this process before the partition came back at an older offset: committed past, never delivered again.
        skipped += 1;
        filtered = true;
      } else if (this.settings.filter.matches(record.value)) {
        state.queue.push({ record, offset, arrivedAt: now, size: recordEventBytes(record) });
      } else {
        this.stats.filtered += 1;
        filtered = true;
      }
    }
    if (!state.paused && state.queue.length >= this.settings.maxRecordsPerPartition) {
      state.paused = true;
      this.#pausedKeys.add(state.key);
      this.#deps.pause(state.tp);
    }
    if (skipped > 0) this.#skipped(state, skipped);
    if (filtered) {
      this.#noteSettled(state);
      this.#requestCommit();
    }
    this.#schedulePump();
  }

  /** Finishes the invocations and destination writes in flight, commits what they resolved, and stops. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#clearTimer();
    while (this.#work.size > 0) await Promise.all([...this.#work]);
    this.#timers.clearTimeout(this.#commitTimer);
    this.#commitTimer = undefined;
    // A last commit of everything resolved, at once.
    await this.#commitOnce();
  }

  // --- scheduling ---------------------------------------------------------------------

  /**
   * Pumps once the current turn is over, so records pushed together (one fetch brings
   * several partitions) and outcomes settled together are batched together.
   */
  #schedulePump(): void {
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    queueMicrotask(() => {
      this.#pumpScheduled = false;
      this.#pump();
    });
  }

  /** Starts every batch and destination write that is due; arms the timer for the next. */
  #pump(): void {
    if (this.#stopping) return;
    const now = this.#timers.now();
    let wakeAt = Infinity;
    const healthy: PartitionState[] = [];
    for (const state of this.#partitions.values()) {
      if (this.#busy.has(state.key)) continue;
      if (state.pendingFailure === undefined && state.queue.length === 0) continue;
      if (state.retryAt > now) {
        wakeAt = Math.min(wakeAt, state.retryAt);
        continue;
      }
      if (state.pendingFailure) {
        this.#writeFailure(state, state.pendingFailure.failure, state.pendingFailure.through);
        continue;
      }
      if (this.#divertOld(state, now)) continue;
      if (state.failures.size > 0 || state.bisect) {
        // A partition that failed is retried on its own: it cannot fail another's batch.
        this.#startBatch([this.#part(state, this.settings.batchSize, 400, now)]);
        continue;
      }
      healthy.push(state);
    }
    // Healthy partitions share batches, oldest first, when full or when the window has passed.
    healthy.sort((a, b) => a.queue[0]!.arrivedAt - b.queue[0]!.arrivedAt);
    while (healthy.length > 0) {
      const count = healthy.reduce((sum, s) => sum + s.queue.length, 0);
      const dueAt = healthy[0]!.queue[0]!.arrivedAt + this.settings.batchingWindowMs;
      if (count < this.settings.batchSize && dueAt > now) {
        wakeAt = Math.min(wakeAt, dueAt);
        break;
      }
      const parts: BatchPart[] = [];
      let room = this.settings.batchSize;
      let bytes = 400;
      while (healthy.length > 0 && room > 0) {
        const part = this.#part(healthy[0]!, room, bytes, now);
        if (part.items.length === 0) break; // the next record would not fit in the event
        healthy.shift();
        parts.push(part);
        room -= part.items.length;
        bytes += part.items.reduce((sum, p) => sum + p.size, 0);
      }
      if (parts.length === 0) break;
      this.#startBatch(parts);
    }
    this.#armTimer(wakeAt);
  }

  /** The records of a partition for a batch: from its head, within room, bytes, bisect and age. */
  #part(state: PartitionState, room: number, bytes: number, now: number): BatchPart {
    const items: Pending[] = [];
    let limit = room;
    if (state.bisect) limit = Math.min(limit, state.bisect.size);
    for (const pending of state.queue) {
      if (items.length >= limit) break;
      if (state.bisect && pending.offset >= state.bisect.end) break;
      if (items.length > 0 && this.#tooOld(pending, now)) break; // it goes to the destination next
      if ((items.length > 0 || bytes > 400) && bytes + pending.size > this.settings.maxEventBytes) break;
      items.push(pending);
      bytes += pending.size;
    }
    return { state, items };
  }

  #tooOld(pending: Pending, now: number): boolean {
    const maxAge = this.settings.maximumRecordAgeSeconds;
    if (maxAge < 0 || pending.record.timestamp <= 0 || pending.record.timestampType === 'NO_TIMESTAMP_TYPE') return false;
    return now - pending.record.timestamp > maxAge * 1000;
  }

  /** Records at the head older than the maximum age never reach the function. */
  #divertOld(state: PartitionState, now: number): boolean {
    let count = 0;
    while (count < state.queue.length && this.#tooOld(state.queue[count]!, now)) count += 1;
    if (count === 0) return false;
    const old = state.queue.slice(0, count);
    const invoked = state.failures.get(old[0]!.offset) ?? 0;
    const failure: Failure = {
      condition: 'RecordAgeExceeded',
      records: old.map((p) => p.record),
      requestId: this.#requestId(),
      approximateInvokeCount: invoked,
      response: invoked > 0 ? state.lastResponse : null,
      at: new Date(now),
      reason: `older than ${this.settings.maximumRecordAgeSeconds} s`,
    };
    this.#giveUp(state, failure, old.at(-1)!.offset);
    return true;
  }

  #startBatch(parts: BatchPart[]): void {
    const batch: Batch = { parts, records: parts.flatMap((p) => p.items.map((i) => i.record)) };
    for (const part of parts) this.#busy.add(part.state.key);
    const event = buildKafkaEvent(this.settings.source, batch.records);
    this.stats.invocations += 1;
    let invoked: Promise<InvokeResult>;
    try {
      invoked = this.#deps.invoke(event);
    } catch (error) {
      invoked = Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    this.#track(
      invoked.then(
        (result) => this.#settle(batch, result),
        (error: unknown) => this.#settle(batch, { ok: false, error: error instanceof Error ? error.message : String(error) }),
      ),
    );
  }

  #track(work: Promise<void>): void {
    const tracked: Promise<void> = work
      .catch((error: unknown) => {
        // A bug here must not stall the mapping silently.
        this.#deps.log.error(`${this.settings.functionName}: internal error`, {
          error: error instanceof Error ? error.stack : String(error),
        });
      })
      .finally(() => {
        this.#work.delete(tracked);
      });
    this.#work.add(tracked);
  }

  // --- outcomes -----------------------------------------------------------------------

  /** Applies an invocation's outcome to the partitions of its batch (those still of the same generation). */
  #settle(batch: Batch, result: InvokeResult): void {
    for (const part of batch.parts) this.#busy.delete(part.state.key);
    const outcome = this.#outcomeOf(batch, result);
    const now = this.#timers.now();
    if (outcome.kind !== 'success') this.stats.failures += 1;
    const retried: string[] = [];
    for (const part of batch.parts) {
      const { state, items } = part;
      if (this.#partitions.get(state.key) !== state) {
        this.#settleRevoked(part, outcome);
      } else if (succeededFor(outcome, state.key)) {
        this.#resolve(state, items.at(-1)!.offset);
        this.stats.delivered += items.length;
      } else {
        this.#settleFailed(part, outcome, now, retried);
      }
    }
    if (retried.length > 0) {
      this.#deps.log.warn(`${this.settings.functionName}: batch failed, delivering it again`, {
        reason: outcome.kind === 'failure' ? outcome.reason : 'partial batch failure',
        partitions: retried,
      });
    }
    this.#requestCommit();
    this.#schedulePump();
  }

  /** What the invocation says of its batch: every record done, some failed (a partial batch response), or all failed. */
  #outcomeOf(batch: Batch, result: InvokeResult): BatchOutcome {
    if (!result.ok) return { kind: 'failure', reason: result.error };
    if (!this.settings.reportBatchItemFailures) return { kind: 'success' };
    const index = new Map<string, Set<bigint>>();
    for (const part of batch.parts) index.set(part.state.key, new Set(part.items.map((i) => i.offset)));
    return interpretBatchResponse(result.payload, index);
  }

  /** A part whose partition was revoked during the invocation: its new owner delivers it again; what the function took is noted. */
  #settleRevoked({ state, items }: BatchPart, outcome: BatchOutcome): void {
    this.#deps.log.debug(`${this.settings.functionName}: ${state.key} was revoked during the invocation; its owner delivers it again`);
    const took = succeededFor(outcome, state.key)
      ? items.at(-1)!.offset
      : outcome.kind === 'partial'
        ? outcome.retryFrom.get(state.key)! - 1n
        : undefined;
    if (took !== undefined && took >= items[0]!.offset) this.#settledWhileRevoked(state, took);
  }

  /** A part that failed, whole or from a record on: what was done is resolved, a whole batch may be split, the rest retried or given up. */
  #settleFailed({ state, items }: BatchPart, outcome: BatchOutcome, now: number, retried: string[]): void {
    const first = items[0]!.offset;
    const last = items.at(-1)!.offset;
    let failedFrom = first;
    let failed = new Set(items.map((i) => i.offset));
    let response: Failure['response'] = { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' };
    if (outcome.kind === 'partial') {
      failedFrom = outcome.retryFrom.get(state.key)!;
      failed = outcome.failed.get(state.key)!;
      response = { statusCode: 200, executedVersion: '$LATEST' };
      const done = items.filter((i) => i.offset < failedFrom).length;
      if (done > 0) {
        this.#resolve(state, failedFrom - 1n);
        this.stats.delivered += done;
      }
    } else if (this.settings.bisectBatchOnFunctionError && items.length > 1) {
      // Split in two and retry each half; splitting is not a retry.
      state.bisect = { end: last + 1n, size: Math.ceil(items.length / 2) };
      state.retryAt = now + this.settings.initialBackoffMs;
      retried.push(`${state.key}@${first} (split into ${state.bisect.size})`);
      return;
    }
    const rest = items.filter((i) => i.offset >= failedFrom);
    const reason = outcome.kind === 'failure' ? outcome.reason : 'reported in a partial batch response';
    this.#retryOrGiveUp(state, { rest, failed, response, reason }, now, retried);
  }

  /**
   * The records from the first failed one on: each failed one counts a failed invocation of
   * its own. Those the function took and those whose retries are used up leave (those to the
   * destination); the first failed record with retries left is where delivery resumes.
   */
  #retryOrGiveUp(
    state: PartitionState,
    failure: { rest: Pending[]; failed: ReadonlySet<bigint>; response: Failure['response']; reason: string },
    now: number,
    retried: string[],
  ): void {
    const { rest, failed, response } = failure;
    for (const i of rest) if (failed.has(i.offset)) state.failures.set(i.offset, (state.failures.get(i.offset) ?? 0) + 1);
    state.lastResponse = response;
    const limit = this.retryLimit;
    const givenUp: Pending[] = [];
    let through: bigint | undefined;
    let resumeAt: Pending | undefined;
    for (const i of rest) {
      if (failed.has(i.offset)) {
        if (limit < 0 || state.failures.get(i.offset)! <= limit) {
          resumeAt = i;
          break;
        }
        givenUp.push(i);
      }
      through = i.offset;
    }
    if (resumeAt) {
      const attempts = state.failures.get(resumeAt.offset)!;
      state.retryAt = now + Math.min(this.settings.maxBackoffMs, this.settings.initialBackoffMs * 2 ** (attempts - 1));
      retried.push(`${state.key}@${resumeAt.offset} (attempt ${attempts})`);
    }
    if (givenUp.length === 0) return;
    this.stats.delivered += rest.filter((i) => i.offset <= through! && !failed.has(i.offset)).length;
    this.#giveUp(
      state,
      {
        condition: 'RetriesExhausted',
        records: givenUp.map((i) => i.record),
        requestId: this.#requestId(),
        approximateInvokeCount: Math.max(...givenUp.map((i) => state.failures.get(i.offset)!)),
        response,
        at: new Date(now),
        reason: failure.reason,
      },
      through!,
    );
  }

  /** Records up to `through` are done: they leave the queue. */
  #resolve(state: PartitionState, through: bigint): void {
    let count = 0;
    while (count < state.queue.length && state.queue[count]!.offset <= through) count += 1;
    if (count === 0) return;
    state.queue.splice(0, count);
    for (const offset of state.failures.keys()) if (offset <= through) state.failures.delete(offset);
    this.#noteSettled(state);
    this.#afterRemoval(state);
  }

  /** Bisecting, the fetch pause and the commit follow what left the queue. */
  #afterRemoval(state: PartitionState): void {
    const head = state.queue[0]?.offset;
    if (state.bisect) {
      if (head === undefined || head >= state.bisect.end) state.bisect = undefined;
      else state.bisect.size = state.queue.filter((p) => p.offset < state.bisect!.end).length;
    }
    if (state.paused && state.queue.length <= Math.floor(this.settings.maxRecordsPerPartition / 2)) {
      state.paused = false;
      this.#resumeFetch(state.tp, state.key);
    }
    this.#requestCommit();
  }

  /** A current state's records from where it started fetching to its commit offset are settled. */
  #noteSettled(state: PartitionState): void {
    const to = this.#commitOffset(state);
    if (state.start !== undefined && to !== undefined) this.#mergeSettled(state.key, state.start, to);
  }

  #skipped(state: PartitionState, count: number): void {
    this.stats.skippedSettled += count;
    const range = this.#settled.get(state.key)!;
    this.#deps.log.warn(
      `${this.settings.functionName}: ${state.key} came back at an older offset (a commit was lost); ${count} record(s) this process already settled are committed past, not delivered again`,
      { settled: `${range.from}..${range.to - 1n}` },
    );
  }

  #mergeSettled(key: string, from: bigint, to: bigint): void {
    if (to <= from) return;
    const old = this.#settled.get(key);
    let range: SettledRange = { from, to };
    // Ranges that touch make one; otherwise the newer wins (forgetting only makes it skip less).
    if (old && old.from <= to && from <= old.to) range = { from: old.from < from ? old.from : from, to: old.to > to ? old.to : to };
    this.#settled.delete(key);
    this.#settled.set(key, range);
    if (this.#settled.size > MAX_SETTLED_PARTITIONS) this.#settled.delete(this.#settled.keys().next().value!);
  }

  /**
   * A batch (or destination write) whose partition was revoked while it ran settled its
   * records up to `through` all the same: it began at its old state's commit offset, so
   * everything from where that state started fetching is settled. If the partition is back
   * with those records queued again, they leave.
   */
  #settledWhileRevoked(state: PartitionState, through: bigint): void {
    if (state.start === undefined) return;
    this.#mergeSettled(state.key, state.start, through + 1n);
    const current = this.#partitions.get(state.key);
    const settled = this.#settled.get(state.key)!;
    if (!current || this.#busy.has(current.key)) return;
    const kept = current.queue.filter((p) => p.offset < settled.from || p.offset >= settled.to);
    const dropped = current.queue.length - kept.length;
    if (dropped === 0) return;
    current.queue = kept;
    for (const offset of current.failures.keys()) if (offset >= settled.from && offset < settled.to) current.failures.delete(offset);
    this.#skipped(current, dropped);
    this.#noteSettled(current);
    this.#afterRemoval(current);
    this.#schedulePump();
  }

  /** Lambda gives up on these records: to the destination, or discarded (as Lambda does without one). */
  #giveUp(state: PartitionState, failure: Failure, through: bigint): void {
    const offsets = `${failure.records[0]!.offset}..${failure.records.at(-1)!.offset}`;
    if (!this.settings.hasDestination || !this.#deps.sendToDestination) {
      this.stats.discarded += failure.records.length;
      this.#deps.log.error(
        `${this.settings.functionName}: discarded ${failure.records.length} record(s) of ${state.key} (offsets ${offsets}, ${failure.condition}): ` +
          'there is no on-failure destination, and Lambda discards them the same way',
        { condition: failure.condition, approximateInvokeCount: failure.approximateInvokeCount, reason: failure.reason },
      );
      this.#deps.discarded?.(failure);
      this.#resolve(state, through);
      this.#schedulePump();
      return;
    }
    this.#writeFailure(state, failure, through);
  }

  #writeFailure(state: PartitionState, failure: Failure, through: bigint): void {
    state.pendingFailure = undefined;
    this.#busy.add(state.key);
    let written: Promise<void>;
    try {
      written = this.#deps.sendToDestination!(failure);
    } catch (error) {
      written = Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    this.#track(
      written.then(
        () => {
          this.#busy.delete(state.key);
          if (this.#partitions.get(state.key) === state) {
            this.stats.toDestination += failure.records.length;
            this.#deps.log.warn(
              `${this.settings.functionName}: ${failure.records.length} record(s) of ${state.key} written to the on-failure destination (${failure.condition})`,
              { offsets: failure.records.map((r) => r.offset), reason: failure.reason },
            );
            this.#resolve(state, through);
          } else {
            this.#settledWhileRevoked(state, through);
          }
          this.#schedulePump();
        },
        (error: unknown) => {
          this.#busy.delete(state.key);
          if (this.#partitions.get(state.key) === state) {
            state.pendingFailure = { failure, through };
            state.retryAt = this.#timers.now() + this.settings.maxBackoffMs;
            this.#deps.log.error(`${this.settings.functionName}: could not write to the on-failure destination; trying again`, {
              partition: state.key,
              error: error instanceof Error ? error.message : String(error),
            });
          }
          this.#schedulePump();
        },
      ),
    );
  }

  // --- commits ------------------------------------------------------------------------

  #commitOffset(state: PartitionState): bigint | undefined {
    return state.queue[0]?.offset ?? state.nextOffset;
  }

  /** Asks for a commit: one runs at a time; a request during one runs after it, with the offsets of then. */
  #requestCommit(): void {
    this.#commitWanted = true;
    if (this.#commitScheduled || this.#commitRunning || this.#commitTimer !== undefined) return;
    this.#commitScheduled = true;
    // After the current turn, so everything settled together goes into one commit.
    queueMicrotask(() => {
      this.#commitScheduled = false;
      if (this.#commitRunning || this.#commitTimer !== undefined || !this.#commitWanted) return;
      const wait = this.#lastCommitAt + this.settings.commitIntervalMs - this.#timers.now();
      if (!this.#stopping && wait > 0) {
        // Paced: the next commit takes everything that settles until then.
        this.#commitLater(wait);
        return;
      }
      this.#track(this.#commitOnce());
    });
  }

  /** One commit of every partition's first unresolved offset; asks for the next when more is wanted. */
  async #commitOnce(): Promise<void> {
    if (this.#commitRunning) return;
    this.#commitRunning = true;
    this.#commitWanted = false;
    try {
      const targets: Array<[PartitionState, bigint]> = [];
      for (const state of this.#partitions.values()) {
        const next = this.#commitOffset(state);
        if (next === undefined || next < ZERO || state.start === undefined) continue;
        if (state.committed !== undefined ? next <= state.committed : next <= state.start) continue;
        targets.push([state, next]);
      }
      if (targets.length === 0) return;
      const offsets = targets.map(([s, next]) => ({ topic: s.tp.topic, partition: s.tp.partition, offset: next.toString() }));
      try {
        await this.#deps.commit(offsets);
        this.#commitFailures = 0;
        this.#lastCommitAt = this.#timers.now();
        this.stats.commits += 1;
        for (const [state, next] of targets) {
          if (state.committed === undefined || next > state.committed) state.committed = next;
        }
      } catch (error) {
        this.#commitFailures += 1;
        this.#deps.log.warn(`${this.settings.functionName}: offset commit failed; trying again`, {
          error: error instanceof Error ? error.message : String(error),
          offsets,
        });
        this.#commitWanted = true;
        if (!this.#stopping) {
          this.#commitLater(Math.min(this.settings.maxBackoffMs, this.settings.initialBackoffMs * 2 ** Math.min(this.#commitFailures, 16)));
        }
      }
    } finally {
      this.#commitRunning = false;
      if (this.#commitWanted && this.#commitTimer === undefined && !this.#stopping) this.#requestCommit();
    }
  }

  /** A commit in `delay` ms; a delay longer than one timer holds takes several in a row. */
  #commitLater(delay: number): void {
    const due = this.#timers.now() + delay;
    const arm = (): void => {
      this.#commitTimer = this.#timers.setTimeout(
        () => {
          if (this.#timers.now() < due) return arm();
          this.#commitTimer = undefined;
          this.#requestCommit();
        },
        Math.min(MAX_TIMER_MS, Math.max(0, due - this.#timers.now())),
      );
    };
    arm();
  }

  // --- helpers ------------------------------------------------------------------------

  #resumeFetch(tp: TopicPartition, key: string): void {
    this.#pausedKeys.delete(key);
    this.#deps.resume(tp);
  }

  #requestId(): string {
    return this.#deps.requestId ? this.#deps.requestId() : randomUUID();
  }

  #armTimer(at: number): void {
    if (this.#timer && this.#timer.at <= at) return;
    this.#clearTimer();
    if (!Number.isFinite(at)) return;
    // A wait longer than one timer holds wakes the pump early; it arms the timer again.
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, at - this.#timers.now()));
    const handle = this.#timers.setTimeout(() => {
      this.#timer = undefined;
      this.#pump();
    }, delay);
    this.#timer = { handle, at };
  }

  #clearTimer(): void {
    if (this.#timer) this.#timers.clearTimeout(this.#timer.handle);
    this.#timer = undefined;
  }

  /** How many partitions' settled ranges it remembers (at most MAX_SETTLED_PARTITIONS). */
  get settledPartitions(): number {
    return this.#settled.size;
  }

  /** Resolves when nothing is in flight (for tests and benchmarks). */
  async idle(): Promise<void> {
    while (this.#work.size > 0) await Promise.all([...this.#work]);
  }
}
