/**
 * A test bench for EventSourceMapping: a fake clock, a function whose invocations the
 * test answers (now or later), commits and destination writes that succeed or fail on
 * demand, and the fetch pauses the mapping asks for.
 */
import { EventSourceMapping, MAPPING_DEFAULTS } from '../src/mapping';
import type { Failure, InvokeResult, MappingSettings, PartitionOffset, Timers } from '../src/mapping';
import { compileFilterPatterns } from '../src/filter';
import type { KafkaEvent } from '../src/event';
import type { ConsumedRecord } from '../src/records';

export function record(
  partition: number,
  offset: number,
  options: { timestamp?: number; value?: unknown; topic?: string } = {},
): ConsumedRecord {
  return {
    topic: options.topic ?? 't',
    partition,
    offset: String(offset),
    timestamp: options.timestamp ?? 1_700_000_000_000,
    timestampType: 'CREATE_TIME',
    key: Buffer.from(`k${offset}`),
    value: Buffer.from(JSON.stringify(options.value ?? { n: offset })),
    headers: [],
  };
}

export function range(partition: number, from: number, to: number, options: { timestamp?: number } = {}): ConsumedRecord[] {
  return Array.from({ length: to - from + 1 }, (_, i) => record(partition, from + i, options));
}

/** Timers that fire only when the test advances the clock. */
export class FakeClock implements Timers {
  #now: number;
  #seq = 0;
  #timers = new Map<number, { at: number; callback: () => void }>();
  constructor(start = 1_700_000_100_000) {
    this.#now = start;
  }
  now = (): number => this.#now;
  setTimeout = (callback: () => void, ms: number): unknown => {
    const id = ++this.#seq;
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), callback });
    return id;
  };
  clearTimeout = (handle: unknown): void => {
    this.#timers.delete(handle as number);
  };
  /** Moves time forward, firing due timers in time order (each may set new ones). */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      let next: [number, { at: number; callback: () => void }] | undefined;
      for (const entry of this.#timers) if (entry[1].at <= target && (!next || entry[1].at < next[1].at)) next = entry;
      if (!next) break;
      this.#timers.delete(next[0]);
      this.#now = Math.max(this.#now, next[1].at);
      next[1].callback();
    }
    this.#now = target;
  }
}

export interface Call {
  n: number;
  /** The clock when the invocation began. */
  at: number;
  event: KafkaEvent;
  records: ConsumedRecord[];
  /** `partition:offset` of every record, in event order. */
  offsets: string[];
  result: InvokeResult | undefined;
  answer(result: InvokeResult): void;
}

export interface Pending<T> {
  value: T;
  done: boolean;
  ok(): void;
  fail(error?: Error): void;
}

export const OK: InvokeResult = { ok: true, payload: null };
export const ERROR: InvokeResult = { ok: false, error: 'boom' };
export function partialAt(failures: Array<[number, number]>): InvokeResult {
  return { ok: true, payload: { batchItemFailures: failures.map(([p, offset]) => ({ itemIdentifier: { partition: `t-${p}`, offset } })) } };
}

/** Settings for tests: small batches, no window, short backoffs, commits as soon as they can. */
export const BASE_SETTINGS: MappingSettings = {
  functionName: 'fn',
  batchSize: 10,
  batchingWindowMs: 0,
  source: { kind: 'msk', eventSourceArn: 'arn:aws:kafka:us-east-1:123456789012:cluster/c/1', bootstrapServers: ['127.0.0.1:9092'] },
  filter: compileFilterPatterns([]),
  reportBatchItemFailures: false,
  maximumRetryAttempts: -1,
  maximumRecordAgeSeconds: -1,
  bisectBatchOnFunctionError: false,
  hasDestination: false,
  initialBackoffMs: 100,
  maxBackoffMs: 1_000,
  maxRecordsPerPartition: 1_000,
  maxEventBytes: MAPPING_DEFAULTS.maxEventBytes,
  commitIntervalMs: 0,
};

export const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class Bench {
  readonly clock = new FakeClock();
  readonly calls: Call[] = [];
  readonly commits: Array<Pending<PartitionOffset[]>> = [];
  readonly writes: Array<Pending<Failure>> = [];
  readonly paused = new Set<string>();
  readonly pauses: string[] = [];
  /** The offsets the broker holds, per `t-<partition>`. */
  readonly committed = new Map<string, bigint>();
  readonly lines: Array<{ level: string; message: string }> = [];
  readonly discarded: Failure[] = [];
  /** Invocations, destination writes and discards, in the order they happened. */
  readonly timeline: Array<
    { kind: 'call'; call: Call } | { kind: 'write'; write: Pending<Failure> } | { kind: 'discard'; failure: Failure }
  > = [];
  readonly mapping: EventSourceMapping;
  /** Answers invocations as they come (undefined: the test answers later). */
  answer: ((call: Call) => InvokeResult | undefined) | undefined = () => OK;
  autoCommit = true;
  autoWrite = true;

  /** `nodeTimers`: the mapping uses Node's own timers (a test fakes them with vi.useFakeTimers) instead of the fake clock. */
  constructor(settings: Partial<MappingSettings> = {}, options: { nodeTimers?: boolean } = {}) {
    const log = (level: string) => (message: string) => this.lines.push({ level, message });
    this.mapping = new EventSourceMapping(
      {
        ...BASE_SETTINGS,
        ...settings,
      },
      {
        ...(options.nodeTimers ? {} : { timers: this.clock }),
        requestId: () => 'request-1',
        discarded: (failure) => {
          this.discarded.push(failure);
          this.timeline.push({ kind: 'discard', failure });
        },
        log: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') },
        pause: (tp) => {
          this.paused.add(`${tp.topic}-${tp.partition}`);
          this.pauses.push(`${tp.topic}-${tp.partition}`);
        },
        resume: (tp) => {
          this.paused.delete(`${tp.topic}-${tp.partition}`);
        },
        invoke: (event) =>
          new Promise<InvokeResult>((resolve) => {
            const records = Object.values(event.records).flatMap((list) =>
              list.map((r) => ({ ...r, offset: String(r.offset) }) as unknown as ConsumedRecord),
            );
            const call: Call = {
              n: this.calls.length,
              at: this.clock.now(),
              event,
              records,
              offsets: records.map((r) => `${r.partition}:${r.offset}`),
              result: undefined,
              answer: (result) => {
                if (call.result) throw new Error(`call ${call.n} answered twice`);
                call.result = result;
                resolve(result);
              },
            };
            this.calls.push(call);
            this.timeline.push({ kind: 'call', call });
            const now = this.answer?.(call);
            if (now) call.answer(now);
          }),
        commit: (offsets) =>
          new Promise<void>((resolve, reject) => {
            const pending: Pending<PartitionOffset[]> = {
              value: offsets,
              done: false,
              ok: () => {
                pending.done = true;
                for (const o of offsets) this.committed.set(`${o.topic}-${o.partition}`, BigInt(o.offset));
                resolve();
              },
              fail: (error = new Error('commit failed')) => {
                pending.done = true;
                reject(error);
              },
            };
            this.commits.push(pending);
            if (this.autoCommit) pending.ok();
          }),
        sendToDestination: (failure) =>
          new Promise<void>((resolve, reject) => {
            const pending: Pending<Failure> = {
              value: failure,
              done: false,
              ok: () => {
                pending.done = true;
                resolve();
              },
              fail: (error = new Error('destination unavailable')) => {
                pending.done = true;
                reject(error);
              },
            };
            this.writes.push(pending);
            this.timeline.push({ kind: 'write', write: pending });
            if (this.autoWrite) pending.ok();
          }),
      },
    );
  }

  /** Offsets the function took: every record of a successful call, or below each partition's reported failure. */
  succeeded(): Set<string> {
    const out = new Set<string>();
    for (const call of this.calls) {
      if (!call.result?.ok) continue;
      const failures = (
        call.result.payload as { batchItemFailures?: Array<{ itemIdentifier: { partition: string; offset: number } }> } | null
      )?.batchItemFailures;
      for (const r of call.records) {
        const reported = failures?.filter((f) => f.itemIdentifier.partition === `t-${r.partition}`).map((f) => f.itemIdentifier.offset);
        if (!reported || reported.length === 0 || Number(r.offset) < Math.min(...reported)) out.add(`${r.partition}:${r.offset}`);
      }
    }
    return out;
  }

  /** `partition:offset` of every record written to the destination. */
  written(): Set<string> {
    return new Set(this.writes.filter((w) => w.done).flatMap((w) => w.value.records.map((r) => `${r.partition}:${r.offset}`)));
  }

  /** Pushes, flushes promises, and lets `ms` of time pass (firing timers), flushing after each. */
  async run(ms = 0): Promise<void> {
    await flush();
    for (let t = 0; t < ms; t += 10) {
      this.clock.advance(Math.min(10, ms - t));
      await flush();
    }
    await flush();
  }
}
