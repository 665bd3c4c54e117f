/**
 * A model-based property test of the event source mapping (fast-check commands): a broker
 * with three partitions, a consumer that fetches from its position and goes back to the
 * committed offset on every rebalance (the new partitions' start told once the source has
 * read it), whose position may also move past a batch it never handed over (kafkajs
 * resolving a batch eachBatch returned without pushing) and which may hand over, after a
 * rebalance, a batch it fetched before it; the source seeks it back to where the mapping
 * expects when the mapping refuses a fetch. Another member that owns what the mapping does not
 * and commits as it goes, a function whose every answer is generated (success, error,
 * timeout, partial responses of every kind, malformed ones), commits and destination
 * writes that succeed or fail, and time. Settings are generated too (batch size, window,
 * retries, record age, bisecting, partial responses, destination, buffer size).
 *
 * After every step:
 * - every offset below a committed one was taken by the function, written to the
 *   destination, discarded as Lambda discards (no destination), filtered out, or taken
 *   by the other member;
 * - commits never go backwards;
 * - a record is given up (destination or discarded) for RetriesExhausted only after it
 *   failed in more invocations than it has retries: retries count per record;
 * - no partition waits on another's failure: a record fails at most once in a batch with
 *   a given poison record of another partition (the function fails on poison records);
 * - no record older than the maximum record age reaches the function;
 * - a partition's records reach the function in order: an invocation holds, per
 *   partition, consecutive matching records from one whose predecessors are all resolved,
 *   and no two invocations hold one partition at once;
 * - once enough time has passed, every partition
 *   the mapping owns that holds unresolved records is in an invocation or a destination
 *   write, and what it resolved is committed or being committed (a commit that failed is
 *   not taken for done);
 * - a partition's fetches are paused only while its own buffer is full, and no buffer
 *   grows past its limit by more than one fetch;
 * - no record settled in this process (taken by the function as Lambda reads its answer,
 *   written to the destination, or discarded) is delivered again, also when its commit was
 *   lost: the consumer restarts (a crash, the group coordinator gone) and the group hands
 *   the same partitions back at their older committed offsets.
 *
 * MODEL_RUNS sets the number of runs (default 2000; CI runs the default).
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { compileFilterPatterns } from '../src/filter';
import type { InvokeResult, MappingSettings } from '../src/mapping';
import type { ConsumedRecord } from '../src/records';
import { Bench, flush } from './support';
import type { Call } from './support';

const PARTITIONS = [0, 1, 2] as const;
type Kind = 'ok' | 'filtered' | 'old' | 'poison';
const FETCH_MAX = 4;

interface World {
  settings: MappingSettings;
  log: Kind[][];
  timestamps: number[][];
  committed: Array<bigint | undefined>;
  /** Partitions the mapping's consumer owns; the other member owns the rest. */
  owned: Set<number>;
  fetchPos: number[];
  /** Per partition, where the consumer stood before the last rebalance: a batch fetched from there may still arrive. */
  staleFrom: Array<number | undefined>;
  /** Partitions the mapping got afresh whose start (the group's committed offset) it does not know yet. */
  waiting: Set<number>;
  /** Offsets fetched by the mapping's consumer in its current generation, per partition. */
  fetched: Array<Set<number>>;
  /** Offsets the function took (success, or not reported in a partial response). */
  taken: Array<Set<number>>;
  /** Offsets this process settled: below the partition's lowest reported failure (or all, on success), written, or discarded. */
  settled: Array<Set<number>>;
  /** Failed invocations of each record (error, timeout, malformed answer, or reported in a partial one). */
  failures: Array<Map<number, number>>;
  /** Failed invocations of a record that held a poison record of another partition, by `record|poison|generations`. */
  failedWithPoison: Map<string, number>;
  /** Per partition, how often the mapping got it afresh (its state, and what it knew of failures, starts over). */
  generation: number[];
  /** The partitions' generations when each invocation began. */
  callGenerations: Map<Call, number[]>;
  written: Array<Set<number>>;
  discarded: Array<Set<number>>;
  byOther: Array<Set<number>>;
  /** Rebalances so far: a commit begun before the last one fails at the broker (stale generation). */
  rebalances: number;
  commitGeneration: Map<object, number>;
  seen: number;
  bench: Bench;
}

const record = (world: World, p: number, o: number): ConsumedRecord => ({
  topic: 't',
  partition: p,
  offset: String(o),
  timestamp: world.timestamps[p]![o]!,
  timestampType: 'CREATE_TIME',
  key: Buffer.from(`k${o}`),
  value: Buffer.from(JSON.stringify({ kind: world.log[p]![o] })),
  headers: [],
});

const matches = (world: World, p: number, o: number) => world.log[p]![o] !== 'filtered';

function resolved(world: World, p: number, o: number): boolean {
  return (
    !matches(world, p, o) || world.taken[p]!.has(o) || world.written[p]!.has(o) || world.discarded[p]!.has(o) || world.byOther[p]!.has(o)
  );
}

let current: World | undefined;

/** Fails with the story so far: every invocation with its answer, commits and writes. */
function fail(message: string): never {
  const bench = current?.bench;
  const story = bench
    ? [
        ...bench.calls.map((c) => `call ${c.n}: [${c.offsets.join(' ')}] -> ${c.result ? JSON.stringify(c.result) : 'open'}`),
        ...bench.commits.map(
          (c, i) => `commit ${i}: ${c.value.map((o) => `t-${o.partition}@${o.offset}`).join(' ')} ${c.done ? 'settled' : 'open'}`,
        ),
        ...bench.writes.map(
          (w, i) =>
            `write ${i}: ${w.value.condition} ${w.value.records.map((r) => `${r.partition}:${r.offset}`).join(' ')} ${w.done ? 'settled' : 'open'}`,
        ),
      ].join('\n  ')
    : '';
  throw new Error(`${message}\n  ${story}`);
}

const openCalls = (world: World) => world.bench.calls.filter((c) => c.result === undefined);

/** Goes through what happened since the last step, in order; checks order and one-at-a-time. */
function observe(world: World): void {
  const { bench } = world;
  for (; world.seen < bench.timeline.length; world.seen++) {
    const event = bench.timeline[world.seen]!;
    const failure = event.kind === 'discard' ? event.failure : event.kind === 'write' ? event.write.value : undefined;
    if (failure?.condition === 'RetriesExhausted') {
      const limit = world.bench.mapping.retryLimit;
      for (const r of failure.records) {
        const failed = world.failures[r.partition]!.get(Number(r.offset)) ?? 0;
        if (limit < 0 || failed < limit + 1)
          fail(`t-${r.partition}@${r.offset} given up after ${failed} failed invocation(s); it has ${limit} retries`);
      }
    }
    if (event.kind === 'discard') {
      for (const r of event.failure.records) {
        world.discarded[r.partition]!.add(Number(r.offset));
        world.settled[r.partition]!.add(Number(r.offset));
      }
      continue;
    }
    if (event.kind === 'write') {
      const p = event.write.value.records[0]!.partition;
      const inCall = openCalls(world).find((c) => c.records.some((r) => r.partition === p));
      if (inCall) fail(`a destination write for t-${p} while call ${inCall.n} holds it`);
      continue;
    }
    const call = event.call;
    world.callGenerations.set(call, [...world.generation]);
    for (const r of call.records) {
      if (world.settled[r.partition]!.has(Number(r.offset)))
        fail(`call ${call.n} delivers t-${r.partition}@${r.offset} again, which this process settled`);
    }
    for (const p of PARTITIONS) {
      const offsets = call.records.filter((r) => r.partition === p).map((r) => Number(r.offset));
      if (offsets.length === 0) continue;
      if (!world.owned.has(p)) fail(`call ${call.n} holds t-${p}, which the mapping does not own`);
      const others = bench.calls.filter((c) => c.n < call.n && c.result === undefined && c.records.some((r) => r.partition === p));
      if (others.length > 0) fail(`call ${call.n} holds t-${p} while call ${others[0]!.n} does`);
      const writing = bench.writes.find((w) => !w.done && w.value.records[0]!.partition === p);
      if (writing) fail(`call ${call.n} holds t-${p} while its destination write is open`);
      const maxAge = world.settings.maximumRecordAgeSeconds;
      for (const o of offsets) {
        if (maxAge >= 0 && call.at - world.timestamps[p]![o]! > maxAge * 1000)
          fail(`call ${call.n} delivers t-${p}@${o}, older than ${maxAge} s`);
      }
      const first = offsets[0]!;
      const last = offsets.at(-1)!;
      const expected: number[] = [];
      for (let o = first; o <= last; o++) if (matches(world, p, o)) expected.push(o);
      if (JSON.stringify(offsets) !== JSON.stringify(expected))
        fail(`call ${call.n}: t-${p} offsets ${offsets.join(',')} are not the matching records ${first}..${last} in order`);
      for (let o = 0; o < first; o++) {
        if (!resolved(world, p, o)) fail(`call ${call.n} delivers t-${p}@${first} before t-${p}@${o} was resolved`);
      }
    }
  }
}

function checkInvariants(world: World): void {
  observe(world);
  const { bench, settings } = world;
  for (const p of PARTITIONS) {
    const committed = world.committed[p];
    if (committed !== undefined) {
      for (let o = 0; o < Number(committed); o++) {
        if (!resolved(world, p, o))
          fail(`t-${p}@${o} is below the committed offset ${committed} but was never taken, written or discarded`);
      }
    }
  }
  const inspect = new Map(bench.mapping.inspect().map((s) => [s.key, s]));
  for (const key of bench.paused) {
    const state = inspect.get(key);
    if (!state) fail(`${key} is paused but not owned`);
    if (state.buffered <= Math.floor(settings.maxRecordsPerPartition / 2))
      fail(`${key} is paused with only ${state.buffered} records buffered`);
  }
  for (const state of inspect.values()) {
    if (state.buffered > settings.maxRecordsPerPartition + FETCH_MAX) fail(`${state.key} buffers ${state.buffered} records`);
  }
}

/** After enough time: every owned partition with unresolved records fetched is being worked on. */
function checkNobodyWaits(world: World): void {
  const { bench } = world;
  for (const p of world.owned) {
    const pending = [...world.fetched[p]!].some((o) => !resolved(world, p, o));
    if (!pending) continue;
    const inCall = openCalls(world).some((c) => c.records.some((r) => r.partition === p));
    const inWrite = bench.writes.some((w) => !w.done && w.value.records[0]!.partition === p);
    if (!inCall && !inWrite) fail(`t-${p} holds unresolved records but nothing delivers them (waiting on another partition?)`);
  }
  // What the mapping resolved is committed, or a commit is on its way (a failed one is not taken for done).
  const committing = bench.commits.some((c) => !c.done);
  for (const state of bench.mapping.inspect()) {
    const p = Number(state.key.slice(2));
    if (state.next === undefined || committing) continue;
    if (BigInt(state.next) > (world.committed[p] ?? 0n))
      fail(`${state.key} resolved up to ${state.next} but the group holds ${world.committed[p]} and no commit is on its way`);
  }
}

type Cmd = fc.AsyncCommand<World, Bench>;

const command = (name: string, act: (world: World) => Promise<void> | void, after?: (world: World) => void): Cmd => ({
  check: () => true,
  async run(world) {
    await act(world);
    await flush();
    await flush();
    checkInvariants(world);
    after?.(world);
  },
  toString: () => name,
});

const produce = (p: number, n: number, kind: Kind) =>
  command(`produce(t-${p}, ${n} ${kind})`, (world) => {
    for (let i = 0; i < n; i++) {
      world.log[p]!.push(kind);
      world.timestamps[p]!.push(kind === 'old' ? world.bench.clock.now() - 600_000 : world.bench.clock.now());
    }
  });

const fetch = (p: number, max: number) =>
  command(`fetch(t-${p}, ${max})`, (world) => {
    if (!world.owned.has(p) || world.bench.paused.has(`t-${p}`)) return;
    const from = world.fetchPos[p]!;
    const to = Math.min(world.log[p]!.length, from + max);
    if (to <= from) return;
    handOver(world, p, from, to);
  });

/**
 * The source hands a fetch of [from, to) to the mapping: taken, the consumer moves past it;
 * refused, the source seeks the consumer back to the offset the mapping expects (while
 * the partition's start is unknown, the consumer stays where it is).
 */
function handOver(world: World, p: number, from: number, to: number): void {
  const records: ConsumedRecord[] = [];
  for (let o = from; o < to; o++) records.push(record(world, p, o));
  if (world.bench.mapping.push(records, { from: String(from) })) {
    for (let o = from; o < to; o++) world.fetched[p]!.add(o);
    world.fetchPos[p] = to;
    return;
  }
  const expected = world.bench.mapping.expectedOffset({ topic: 't', partition: p });
  if (expected !== undefined) world.fetchPos[p] = Number(expected);
}

/** The source learns where the group stands on the partitions waiting for their start (it reads the committed offsets), and seeks there. */
const locate = () =>
  command("the group's committed offsets are read for the new partitions", (world) => {
    for (const p of world.waiting) {
      world.bench.mapping.startAt({ topic: 't', partition: p }, String(world.committed[p] ?? 0n));
      world.fetchPos[p] = Number(world.committed[p] ?? 0n);
    }
    world.waiting.clear();
  });

const rebalance = (owned: number[]) =>
  command(`rebalance([${owned.join(',')}])`, (world) => {
    world.rebalances += 1;
    const before = world.owned;
    world.owned = new Set(owned);
    for (const p of PARTITIONS) {
      // A partition kept through the rebalance keeps its state in the mapping; others start afresh.
      if (!(before.has(p) && world.owned.has(p))) {
        world.fetched[p] = new Set();
        world.generation[p]! += 1;
      }
      // kafkajs starts again from the committed offset after every rebalance.
      world.staleFrom[p] = before.has(p) ? world.fetchPos[p] : undefined;
      world.fetchPos[p] = Number(world.committed[p] ?? 0n);
    }
    assignWaiting(world, owned);
  });

/** The mapping gets its assignment; new partitions wait until `locate` says where the group stands. */
function assignWaiting(world: World, owned: readonly number[]): void {
  const waiting = world.bench.mapping.assign(owned.map((partition) => ({ topic: 't', partition })));
  world.waiting = new Set([...[...world.waiting].filter((p) => owned.includes(p)), ...waiting.map((tp) => tp.partition)]);
}

/**
 * The consumer crashes and joins again with the same partitions (the group coordinator was
 * killed): the commit on its way is lost, and kafkajs fetches again from the offsets the
 * group holds, older than what the mapping settled.
 */
const restart = () =>
  command('consumer restart, its commit lost; the same partitions back', (world) => {
    world.rebalances += 1;
    world.bench.commits.find((c) => !c.done)?.fail(new Error('This is not the correct coordinator for this group'));
    for (const p of PARTITIONS) {
      if (world.owned.has(p)) {
        world.fetched[p] = new Set();
        world.generation[p]! += 1;
      }
      world.staleFrom[p] = world.owned.has(p) ? world.fetchPos[p] : undefined;
      world.fetchPos[p] = Number(world.committed[p] ?? 0n);
    }
    world.bench.mapping.assign([]);
    world.waiting.clear();
    assignWaiting(world, [...world.owned]);
  });

/**
 * kafkajs fetched a batch of the partition and eachBatch returned without handing it to the
 * mapping (the consumer was replaced, is not running, or the batch is stale); kafkajs
 * resolved its last offset all the same (eachBatchAutoResolve), so its position moved past
 * records the mapping never got.
 */
const batchNotHandedOver = (p: number, max: number) =>
  command(`a batch of t-${p} (${max}) not handed over; the consumer's position moves past it`, (world) => {
    if (!world.owned.has(p) || world.bench.paused.has(`t-${p}`)) return;
    const from = world.fetchPos[p]!;
    world.fetchPos[p] = Math.min(world.log[p]!.length, from + max);
  });

/** A batch fetched before the last rebalance, from where the consumer stood then, is handed over after it. */
const staleBatch = (p: number, max: number) =>
  command(`a batch of t-${p} (${max}) fetched before the rebalance arrives after it`, (world) => {
    const from = world.staleFrom[p];
    world.staleFrom[p] = undefined;
    if (from === undefined || !world.owned.has(p) || world.bench.paused.has(`t-${p}`)) return;
    const to = Math.min(world.log[p]!.length, from + max);
    if (to <= from) return;
    handOver(world, p, from, to);
  });

const otherMember = (p: number, n: number) =>
  command(`other member takes ${n} of t-${p}`, (world) => {
    if (world.owned.has(p)) return;
    const from = Number(world.committed[p] ?? 0n);
    const to = Math.min(world.log[p]!.length, from + n);
    if (to <= from) return;
    for (let o = from; o < to; o++) world.byOther[p]!.add(o);
    world.committed[p] = BigInt(to);
  });

type Outcome =
  | { kind: 'success' }
  | { kind: 'error' }
  | { kind: 'timeout' }
  | { kind: 'partial'; pick: number; mode: 'lowest' | 'from-first-on' | 'scattered' }
  | { kind: 'malformed'; which: number };

/** The function fails on poison records: a success becomes an error, a partial response reports them. */
function resultFor(outcome: Outcome, call: Call, world: World): InvokeResult {
  const poison = call.records.filter((r) => world.log[r.partition]![Number(r.offset)] === 'poison');
  if (poison.length > 0 && (outcome.kind === 'success' || outcome.kind === 'partial')) {
    if (outcome.kind === 'success' || !world.settings.reportBatchItemFailures) return { ok: false, error: 'poison' };
    const failures = call.records
      .filter((r) =>
        poison.some(
          (q) => q.partition === r.partition && (outcome.mode === 'from-first-on' ? Number(r.offset) >= Number(q.offset) : q === r),
        ),
      )
      .map((r) => ({ itemIdentifier: { partition: `t-${r.partition}`, offset: Number(r.offset) } }));
    return { ok: true, payload: { batchItemFailures: failures } };
  }
  return generatedResult(outcome, call);
}

function generatedResult(outcome: Outcome, call: Call): InvokeResult {
  switch (outcome.kind) {
    case 'success':
      return { ok: true, payload: null };
    case 'error':
      return { ok: false, error: 'boom' };
    case 'timeout':
      return { ok: false, error: 'no answer within 15 s' };
    case 'malformed': {
      const bad: unknown[] = [
        'done',
        42,
        [1],
        { batchItemFailures: 'x' },
        { batchItemFailures: [{ itemIdentifier: { partition: 't-0', offset: 999999 } }] },
        { batchItemFailures: [{ itemIdentifier: 't-0-1' }] },
      ];
      return { ok: true, payload: bad[outcome.which % bad.length] };
    }
    case 'partial': {
      const byPartition = new Map<number, ConsumedRecord[]>();
      for (const r of call.records) byPartition.set(r.partition, [...(byPartition.get(r.partition) ?? []), r]);
      const failures: Array<{ itemIdentifier: { partition: string; offset: number } }> = [];
      let i = outcome.pick;
      for (const [p, records] of byPartition) {
        i += 7;
        if (i % 3 === 0) continue; // this partition succeeded
        const from = i % records.length;
        const chosen =
          outcome.mode === 'lowest'
            ? [records[from]!]
            : outcome.mode === 'from-first-on'
              ? records.slice(from)
              : records.filter((_, k) => k === from || (k > from && (k + i) % 2 === 0));
        for (const r of chosen) failures.push({ itemIdentifier: { partition: `t-${p}`, offset: Number(r.offset) } });
      }
      return { ok: true, payload: { batchItemFailures: failures } };
    }
  }
}

/** What the function took and what failed, the way Lambda reads its answer. */
function noteOutcome(world: World, call: Call, result: InvokeResult): void {
  const failedAll = () => {
    for (const r of call.records)
      world.failures[r.partition]!.set(Number(r.offset), (world.failures[r.partition]!.get(Number(r.offset)) ?? 0) + 1);
  };
  if (!result.ok) return failedAll();
  let reported: Set<string> | undefined;
  if (world.settings.reportBatchItemFailures) {
    const payload = result.payload;
    if (payload !== null && payload !== undefined && (typeof payload !== 'object' || Array.isArray(payload))) return failedAll();
    const failures = (payload as { batchItemFailures?: unknown } | null)?.batchItemFailures;
    if (failures !== undefined && failures !== null) {
      if (!Array.isArray(failures)) return failedAll();
      reported = new Set();
      for (const f of failures as Array<{ itemIdentifier?: unknown }>) {
        const id = f.itemIdentifier as { partition?: unknown; offset?: unknown } | undefined;
        if (typeof id !== 'object' || id === null) return failedAll();
        const key = `${String(id.partition)}:${String(id.offset)}`;
        if (!call.records.some((r) => `t-${r.partition}:${r.offset}` === key)) return failedAll();
        reported.add(key);
      }
    }
  }
  for (const r of call.records) {
    const o = Number(r.offset);
    if (!reported?.has(`t-${r.partition}:${r.offset}`)) world.taken[r.partition]!.add(o);
    else world.failures[r.partition]!.set(o, (world.failures[r.partition]!.get(o) ?? 0) + 1);
    // Lambda resumes a partition at its lowest reported offset: only what lies below it is done.
    const lowest = Math.min(
      ...call.records
        .filter((q) => q.partition === r.partition && reported?.has(`t-${q.partition}:${q.offset}`))
        .map((q) => Number(q.offset)),
    );
    if (o < lowest) world.settled[r.partition]!.add(o);
  }
}

const answer = (pick: number, outcome: Outcome) =>
  command(`answer(${pick}, ${JSON.stringify(outcome)})`, (world) => {
    const open = openCalls(world);
    if (open.length === 0) return;
    const call = open[pick % open.length]!;
    const result = resultFor(outcome, call, world);
    const failedBefore = world.failures.map((m) => new Map<number, number>(m));
    noteOutcome(world, call, result);
    // No partition waits on another's failure: a record fails at most once with the same poison record of another partition
    // (while the mapping can know of it: an answer that arrives after a partition was revoked changes nothing).
    const began = world.callGenerations.get(call)!;
    const poison = call.records.filter(
      (r) => world.log[r.partition]![Number(r.offset)] === 'poison' && began[r.partition] === world.generation[r.partition],
    );
    for (const r of call.records) {
      const o = Number(r.offset);
      if (
        world.log[r.partition]![o] === 'poison' ||
        (world.failures[r.partition]!.get(o) ?? 0) === (failedBefore[r.partition]!.get(o) ?? 0)
      )
        continue;
      if (began[r.partition] !== world.generation[r.partition]) continue;
      for (const q of poison) {
        if (q.partition === r.partition) continue;
        const key = `${r.partition}:${o}|${q.partition}:${q.offset}|${world.generation[r.partition]}|${world.generation[q.partition]}`;
        const times = (world.failedWithPoison.get(key) ?? 0) + 1;
        world.failedWithPoison.set(key, times);
        if (times > 1)
          fail(`t-${r.partition}@${o} failed again in a batch with the poison record t-${q.partition}@${q.offset} of another partition`);
      }
    }
    call.answer(result);
  });

const settleCommit = (ok: boolean) =>
  command(`commit ${ok ? 'succeeds' : 'fails'}`, (world) => {
    const pending = world.bench.commits.find((c) => !c.done);
    if (!pending) return;
    const startedAt = world.commitGeneration.get(pending) ?? world.rebalances;
    // The broker refuses a commit of an older generation.
    if (!ok || startedAt !== world.rebalances) {
      pending.fail();
      return;
    }
    for (const o of pending.value) {
      const p = o.partition;
      const offset = BigInt(o.offset);
      const before = world.committed[p];
      if (before !== undefined && offset < before) fail(`commit of t-${p} goes back from ${before} to ${offset}`);
      world.committed[p] = offset;
    }
    pending.ok();
  });

const settleWrite = (ok: boolean) =>
  command(`destination write ${ok ? 'succeeds' : 'fails'}`, (world) => {
    const pending = world.bench.writes.find((w) => !w.done);
    if (!pending) return;
    if (ok) {
      for (const r of pending.value.records) {
        world.written[r.partition]!.add(Number(r.offset));
        world.settled[r.partition]!.add(Number(r.offset));
      }
    }
    if (ok) pending.ok();
    else pending.fail();
  });

const advance = (ms: number) =>
  command(
    `advance(${ms} ms)`,
    (world) => {
      // Note commits as they start, for the generation check.
      for (const c of world.bench.commits) if (!world.commitGeneration.has(c)) world.commitGeneration.set(c, world.rebalances);
      world.bench.clock.advance(ms);
    },
    (world) => {
      if (ms >= world.settings.maxBackoffMs + world.settings.batchingWindowMs + 1) checkNobodyWaits(world);
    },
  );

const partition = fc.constantFrom(...PARTITIONS);
const outcome: fc.Arbitrary<Outcome> = fc.oneof(
  { weight: 5, arbitrary: fc.constant({ kind: 'success' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'error' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'timeout' as const }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('partial' as const),
      pick: fc.nat(50),
      mode: fc.constantFrom('lowest' as const, 'from-first-on' as const, 'scattered' as const),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('malformed' as const), which: fc.nat(10) }) },
);

// Weighted: the common things (records, fetches, answers) happen more often than rebalances.
const commands = [
  fc.oneof(
    { weight: 20, arbitrary: fc.tuple(partition, fc.integer({ min: 1, max: 5 })).map(([p, n]) => produce(p, n, 'ok')) },
    {
      weight: 6,
      arbitrary: fc
        .tuple(partition, fc.integer({ min: 1, max: 3 }), fc.constantFrom<Kind>('filtered', 'old', 'poison'))
        .map(([p, n, k]) => produce(p, n, k)),
    },
    { weight: 25, arbitrary: fc.tuple(partition, fc.integer({ min: 1, max: FETCH_MAX })).map(([p, n]) => fetch(p, n)) },
    { weight: 25, arbitrary: fc.tuple(fc.nat(20), outcome).map(([pick, o]) => answer(pick, o)) },
    { weight: 15, arbitrary: fc.constantFrom(true, true, true, false).map((ok) => settleCommit(ok)) },
    { weight: 5, arbitrary: fc.constantFrom(true, true, false).map((ok) => settleWrite(ok)) },
    { weight: 20, arbitrary: fc.constantFrom(0, 30, 120, 2_000).map((ms) => advance(ms)) },
    // Another member joins (the mapping keeps some partitions) or leaves (it gets them back)…
    { weight: 5, arbitrary: fc.subarray([...PARTITIONS], { minLength: 1 }).map((owned) => rebalance(owned)) },
    // …or the mapping's consumer loses everything for a while (a crash, a session timeout).
    { weight: 1, arbitrary: fc.constant(rebalance([])) },
    // …or it restarts and gets the same partitions back, its last commit lost.
    { weight: 3, arbitrary: fc.constant(restart()) },
    { weight: 5, arbitrary: fc.tuple(partition, fc.integer({ min: 1, max: 4 })).map(([p, n]) => otherMember(p, n)) },
    // The consumer's position moves past records the mapping never got, or a batch from before a rebalance arrives after it.
    { weight: 2, arbitrary: fc.tuple(partition, fc.integer({ min: 1, max: FETCH_MAX })).map(([p, n]) => batchNotHandedOver(p, n)) },
    { weight: 3, arbitrary: fc.tuple(partition, fc.integer({ min: 1, max: FETCH_MAX })).map(([p, n]) => staleBatch(p, n)) },
    { weight: 8, arbitrary: fc.constant(locate()) },
  ),
];

const settingsArb = fc.record({
  batchSize: fc.integer({ min: 1, max: 6 }),
  batchingWindowMs: fc.constantFrom(0, 50),
  reportBatchItemFailures: fc.boolean(),
  maximumRetryAttempts: fc.constantFrom(-1, 0, 1, 3),
  maximumRecordAgeSeconds: fc.constantFrom(-1, 60),
  bisectBatchOnFunctionError: fc.boolean(),
  hasDestination: fc.boolean(),
  maxRecordsPerPartition: fc.integer({ min: 2, max: 8 }),
  commitIntervalMs: fc.constantFrom(0, 100),
});

const runs = Number(process.env.MODEL_RUNS ?? 2000);

describe('EventSourceMapping against a model of the broker, the group and the function', () => {
  it(`keeps every invariant over ${runs} generated runs`, async () => {
    await fc.assert(
      fc.asyncProperty(settingsArb, fc.commands(commands, { maxCommands: 80, size: 'large' }), async (generated, cmds) => {
        const bench = new Bench({
          ...generated,
          filter: compileFilterPatterns([{ value: { kind: [{ 'anything-but': ['filtered'] }] } }]),
          initialBackoffMs: 100,
          maxBackoffMs: 800,
        });
        bench.answer = undefined;
        bench.autoCommit = false;
        bench.autoWrite = false;
        const world: World = {
          settings: bench.mapping.settings,
          log: PARTITIONS.map(() => []),
          timestamps: PARTITIONS.map(() => []),
          committed: PARTITIONS.map(() => undefined),
          owned: new Set(PARTITIONS),
          fetchPos: PARTITIONS.map(() => 0),
          staleFrom: PARTITIONS.map(() => undefined),
          waiting: new Set(),
          fetched: PARTITIONS.map(() => new Set()),
          taken: PARTITIONS.map(() => new Set()),
          settled: PARTITIONS.map(() => new Set()),
          failures: PARTITIONS.map(() => new Map<number, number>()),
          failedWithPoison: new Map(),
          generation: PARTITIONS.map(() => 0),
          callGenerations: new Map(),
          written: PARTITIONS.map(() => new Set()),
          discarded: PARTITIONS.map(() => new Set()),
          byOther: PARTITIONS.map(() => new Set()),
          rebalances: 0,
          commitGeneration: new Map(),
          seen: 0,
          bench,
        };
        // Commits are stamped with the generation they began in as soon as they appear.
        const stamp = () => {
          for (const c of bench.commits) if (!world.commitGeneration.has(c)) world.commitGeneration.set(c, world.rebalances);
        };
        const wrapped = [...cmds].map((c) => ({
          check: c.check.bind(c),
          run: async (w: World, r: Bench) => {
            stamp();
            await c.run(w, r);
            stamp();
          },
          toString: c.toString.bind(c),
        }));
        current = world;
        bench.mapping.assign(PARTITIONS.map((partition) => ({ topic: 't', partition, offset: '0' })));
        await fc.asyncModelRun(() => ({ model: world, real: bench }), wrapped);
      }),
      { numRuns: runs },
    );
  }, 600_000);
});
