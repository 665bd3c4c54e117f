/**
 * One Kafka event source mapping, as Lambda runs it, free of kafkajs: records come in
 * through `push` (from the consumer in ./kafka-consumer.ts, or fakes in tests), are
 * filtered, gathered into batches of at most `batchSize` records within
 * `batchingWindowMs`, sent to the function as the exact AWS event, and their offsets are
 * committed only after the function succeeded.
 *
 * What it does the way Lambda does:
 * - at most one invocation at a time per partition, so records of a partition reach the
 *   function in offset order and never twice at once; batches of different partitions
 *   run concurrently, as Lambda's pollers do;
 * - a batch holds records of several partitions (`records` keyed `topic-partition`), at
 *   most `batchSize` records and about 6 MB of event;
 * - a record that matches no filter pattern is not sent; its offset is committed with
 *   the records around it;
 * - a failed invocation (error, timeout, unreachable function) delivers the same records
 *   again after a backoff that doubles up to `maxBackoffMs`, without end by default
 *   (AWS's default for Kafka is unlimited retries); `maximumRetryAttempts` bounds it, and
 *   a batch past that many retries is discarded with an error log (what Lambda does
 *   without an on-failure destination);
 * - with ReportBatchItemFailures, a `batchItemFailures` response commits each reported
 *   partition up to its lowest reported offset and delivers from there; partitions not
 *   reported are complete; an invalid response fails the whole batch.
 */
import type { ConsumedRecord } from '../records';
import type { CompiledFilter } from '../filter-patterns';
import type { KafkaEvent, KafkaEventSource } from '../msk-event';
import { buildKafkaEvent, interpretBatchResponse, partitionKey } from '../msk-event';
import type { BatchOutcome } from '../msk-event';

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
  /** -1 (AWS's default): retry until the function succeeds. */
  maximumRetryAttempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** Records held in memory before `push` waits for room. */
  maxBufferedRecords: number;
  /** Lambda's synchronous invocation payload limit is 6 MB; stay under it. */
  maxEventBytes: number;
}

export const MAPPING_DEFAULTS = {
  batchSize: 100,
  batchingWindowMs: 500,
  reportBatchItemFailures: false,
  maximumRetryAttempts: -1,
  initialBackoffMs: 100,
  maxBackoffMs: 5_000,
  maxEventBytes: 5_900_000,
} as const;

interface Pending {
  record: ConsumedRecord;
  arrivedAt: number;
  /** Bytes this record adds to the serialised event (base64 and JSON overhead). */
  size: number;
}

interface PartitionState {
  topic: string;
  partition: number;
  /** Matching records not yet processed, in offset order. */
  queue: Pending[];
  /** The offset after the last record seen: records below it are known (dedupe). */
  nextOffset: bigint;
  /** The last offset committed by this mapping. */
  committed: bigint | undefined;
  /** In a batch being invoked (or waiting to be retried). */
  busy: boolean;
  /** Failed deliveries of the records now at the head of the queue. */
  attempts: number;
}

function eventBytes(record: ConsumedRecord): number {
  const b64 = (n: number) => Math.ceil(n / 3) * 4;
  const headers = record.headers.reduce((sum, h) => sum + h.name.length + h.value.length * 4 + 8, 0);
  return 160 + record.topic.length + b64(record.key?.length ?? 0) + b64(record.value?.length ?? 0) + headers;
}

export interface MappingDeps {
  invoke(event: KafkaEvent): Promise<InvokeResult>;
  commit(offsets: PartitionOffset[]): Promise<void>;
  log: EventSourceLog;
  now?: () => number;
}

export class EventSourceMapping {
  readonly settings: MappingSettings;
  readonly #deps: MappingDeps;
  readonly #now: () => number;
  readonly #partitions = new Map<string, PartitionState>();
  #buffered = 0;
  #stopping = false;
  #loop: Promise<void> | undefined;
  #wakers = new Set<() => void>();
  /** Counts signals, so a signal sent while the loop was busy elsewhere is not lost. */
  #signals = 0;
  #roomWaiters: Array<() => void> = [];
  #tasks = new Set<Promise<void>>();
  #commitDirty = false;
  #commits: Promise<void> = Promise.resolve();
  /** Counters for logs and benchmarks. */
  readonly stats = { invocations: 0, delivered: 0, filtered: 0, failures: 0, committed: 0 };

  constructor(settings: MappingSettings, deps: MappingDeps) {
    this.settings = settings;
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
  }

  get buffered(): number {
    return this.#buffered;
  }

  /**
   * Takes records of one partition in offset order. Resolves once they are buffered and
   * there is room for more (backpressure for the consumer), or at once when stopping.
   */
  async push(records: readonly ConsumedRecord[]): Promise<void> {
    const now = this.#now();
    for (const record of records) {
      const key = partitionKey(record.topic, record.partition);
      const offset = BigInt(record.offset);
      let state = this.#partitions.get(key);
      if (!state) {
        state = { topic: record.topic, partition: record.partition, queue: [], nextOffset: offset, committed: undefined, busy: false, attempts: 0 };
        this.#partitions.set(key, state);
      }
      if (offset < state.nextOffset) continue; // seen already (the consumer went back to a committed offset)
      state.nextOffset = offset + 1n;
      if (this.settings.filter.matches(record.value)) {
        state.queue.push({ record, arrivedAt: now, size: eventBytes(record) });
        this.#buffered += 1;
      } else {
        this.stats.filtered += 1;
        this.#commitDirty = true;
      }
    }
    this.#signal();
    while (!this.#stopping && this.#buffered >= this.settings.maxBufferedRecords) {
      await new Promise<void>((resolve) => this.#roomWaiters.push(resolve));
    }
  }

  /** After a rebalance: forget partitions this consumer no longer owns. */
  assigned(partitions: ReadonlyArray<{ topic: string; partition: number }>): void {
    const keep = new Set(partitions.map((p) => partitionKey(p.topic, p.partition)));
    for (const [key, state] of this.#partitions) {
      if (!keep.has(key)) {
        this.#buffered -= state.queue.length;
        this.#partitions.delete(key);
      }
    }
    this.#releaseRoom();
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  /** Finishes the invocation in flight, commits what succeeded, and stops. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#signal();
    this.#releaseRoom(true);
    await this.#loop;
    await this.#commit();
  }

  #signal(): void {
    this.#signals += 1;
    for (const wake of [...this.#wakers]) wake();
  }

  #releaseRoom(all = false): void {
    if (!all && this.#buffered >= this.settings.maxBufferedRecords) return;
    const waiters = this.#roomWaiters;
    this.#roomWaiters = [];
    for (const w of waiters) w();
  }

  /** Sleeps up to `ms`; wakes early on stop, and on new records or a finished batch when `wakeOnRecords`. */
  #sleep(ms: number, wakeOnRecords: boolean, signalsSeen?: number): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.#stopping || (wakeOnRecords && signalsSeen !== undefined && signalsSeen !== this.#signals)) {
        resolve();
        return;
      }
      const finish = () => {
        clearTimeout(timer);
        this.#wakers.delete(onWake);
        resolve();
      };
      const onWake = () => {
        if (wakeOnRecords || this.#stopping) finish();
      };
      const timer = setTimeout(finish, Math.max(0, ms));
      this.#wakers.add(onWake);
    });
  }

  /** Partitions whose queued records may go into a new batch (not in a batch already). */
  #free(): PartitionState[] {
    return [...this.#partitions.values()].filter((s) => !s.busy && s.queue.length > 0);
  }

  /** When the next batch is due: full, or the window since its oldest record has passed. */
  #dueIn(free: PartitionState[]): number | undefined {
    if (free.length === 0) return undefined;
    let count = 0;
    let oldest = Infinity;
    for (const state of free) {
      count += state.queue.length;
      oldest = Math.min(oldest, state.queue[0]!.arrivedAt);
    }
    if (count >= this.settings.batchSize) return 0;
    return Math.max(0, oldest + this.settings.batchingWindowMs - this.#now());
  }

  /** The next batch: queue heads of free partitions, oldest first, up to batchSize and maxEventBytes. */
  #takeBatch(free: PartitionState[]): { batch: ConsumedRecord[]; states: PartitionState[] } {
    const sorted = [...free].sort((a, b) => a.queue[0]!.arrivedAt - b.queue[0]!.arrivedAt);
    const batch: ConsumedRecord[] = [];
    const states: PartitionState[] = [];
    let bytes = 400;
    for (const state of sorted) {
      if (batch.length >= this.settings.batchSize) break;
      states.push(state);
      for (const pending of state.queue) {
        if (batch.length >= this.settings.batchSize) break;
        if (batch.length > 0 && bytes + pending.size > this.settings.maxEventBytes) return { batch, states };
        batch.push(pending.record);
        bytes += pending.size;
      }
    }
    return { batch, states };
  }

  async #run(): Promise<void> {
    while (!this.#stopping) {
      const signalsSeen = this.#signals;
      const free = this.#free();
      const due = this.#dueIn(free);
      if (due === undefined || due > 0) {
        if (this.#commitDirty) await this.#commit();
        await this.#sleep(due ?? 60_000, true, signalsSeen);
        continue;
      }
      const { batch, states } = this.#takeBatch(free);
      for (const state of states) state.busy = true;
      const task: Promise<void> = this.#deliver(batch, states).finally(() => {
        for (const state of states) state.busy = false;
        this.#tasks.delete(task);
        this.#signal();
      });
      this.#tasks.add(task);
    }
    await Promise.all([...this.#tasks]);
  }

  /** Invokes the function with one batch, settles and commits it, or backs off after a failure. */
  async #deliver(batch: ConsumedRecord[], states: PartitionState[]): Promise<void> {
    const outcome = await this.#invoke(batch);
    if (outcome.kind === 'success') {
      this.#settle(batch, new Map());
      for (const state of states) state.attempts = 0;
      await this.#commit();
      return;
    }
    this.stats.failures += 1;
    const attempts = Math.max(...states.map((s) => s.attempts)) + 1;
    for (const state of states) state.attempts = attempts;
    const retryFrom = outcome.kind === 'partial' ? outcome.retryFrom : undefined;
    const reason = outcome.kind === 'failure' ? outcome.reason : 'partial batch failure';
    const limit = this.settings.maximumRetryAttempts;
    if (limit >= 0 && attempts > limit) {
      this.#deps.log.error(`${this.settings.functionName}: batch discarded after ${limit} retries`, {
        reason,
        records: describeBatch(batch),
      });
      this.#settle(batch, new Map());
      for (const state of states) state.attempts = 0;
      await this.#commit();
      return;
    }
    if (retryFrom) {
      this.#settle(batch, retryFrom);
      await this.#commit();
    }
    const delay = Math.min(this.settings.maxBackoffMs, this.settings.initialBackoffMs * 2 ** (attempts - 1));
    this.#deps.log.warn(`${this.settings.functionName}: batch failed, delivering it again in ${delay} ms`, {
      attempt: attempts,
      reason,
      retryFrom: retryFrom ? Object.fromEntries(retryFrom) : undefined,
      records: describeBatch(batch),
    });
    await this.#sleep(delay, false);
  }

  async #invoke(batch: ConsumedRecord[]): Promise<BatchOutcome> {
    const event = buildKafkaEvent(this.settings.source, batch);
    this.stats.invocations += 1;
    let result: InvokeResult;
    try {
      result = await this.#deps.invoke(event);
    } catch (error) {
      result = { ok: false, error: error instanceof Error ? error.message : String(error) };
    }
    if (!result.ok) return { kind: 'failure', reason: result.error };
    if (!this.settings.reportBatchItemFailures) return { kind: 'success' };
    const index = new Map<string, Set<number>>();
    for (const r of batch) {
      const key = partitionKey(r.topic, r.partition);
      let set = index.get(key);
      if (!set) index.set(key, (set = new Set()));
      set.add(Number(r.offset));
    }
    return interpretBatchResponse(result.payload, index);
  }

  /** Removes the processed records of a batch: all, or per partition those below its retry offset. */
  #settle(batch: ConsumedRecord[], retryFrom: ReadonlyMap<string, number>): void {
    const inBatch = new Map<string, number>();
    for (const r of batch) {
      const key = partitionKey(r.topic, r.partition);
      inBatch.set(key, (inBatch.get(key) ?? 0) + 1);
    }
    for (const [key, count] of inBatch) {
      const state = this.#partitions.get(key);
      if (!state) continue; // revoked meanwhile
      const from = retryFrom.get(key);
      let done = 0;
      while (done < count && state.queue[done] && (from === undefined || Number(state.queue[done]!.record.offset) < from)) {
        done += 1;
      }
      state.queue.splice(0, done);
      this.#buffered -= done;
      this.stats.delivered += done;
      this.#commitDirty = true;
    }
    this.#releaseRoom();
  }

  /** Commits, per partition, the first offset not yet processed; one commit at a time, in order. */
  #commit(): Promise<void> {
    this.#commits = this.#commits.then(() => this.#commitNow());
    return this.#commits;
  }

  async #commitNow(): Promise<void> {
    this.#commitDirty = false;
    const offsets: PartitionOffset[] = [];
    const states: Array<[PartitionState, bigint]> = [];
    for (const state of this.#partitions.values()) {
      const next = state.queue[0] ? BigInt(state.queue[0].record.offset) : state.nextOffset;
      if (state.committed === next) continue;
      offsets.push({ topic: state.topic, partition: state.partition, offset: next.toString() });
      states.push([state, next]);
    }
    if (offsets.length === 0) return;
    try {
      await this.#deps.commit(offsets);
      for (const [state, next] of states) state.committed = next;
      this.stats.committed += 1;
    } catch (error) {
      // The records stay delivered; a later commit (or the group, after a rebalance) catches up.
      this.#commitDirty = true;
      this.#deps.log.warn(`${this.settings.functionName}: offset commit failed`, {
        error: error instanceof Error ? error.message : String(error),
        offsets,
      });
    }
  }
}

function describeBatch(batch: readonly ConsumedRecord[]): Record<string, string> {
  const ranges: Record<string, string> = {};
  for (const r of batch) {
    const key = partitionKey(r.topic, r.partition);
    const existing = ranges[key];
    ranges[key] = existing ? `${existing.split('..')[0]}..${r.offset}` : r.offset;
  }
  return ranges;
}
