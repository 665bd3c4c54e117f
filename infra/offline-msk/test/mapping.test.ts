/**
 * The event source mapping with a fake function, fake commits and a fake clock: batching,
 * window, filtering, retries counted per record, partial batch responses, bisecting,
 * record age, the on-failure destination, per-partition buffers, rebalances, commits.
 * The review's reproductions are here as regression tests (they failed on the mapping
 * this one replaced).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { compileFilterPatterns } from '../src/filter';
import { MAX_SETTLED_PARTITIONS } from '../src/mapping';
import { Bench, ERROR, OK, partialAt, range, record } from './support';
import type { Call } from './support';

const tp = (partition: number) => ({ topic: 't', partition });
/** Assigns partitions whose group stands at offset 0 (a new group on a new topic). */
const assign = (b: Bench, ...partitions: number[]) => b.mapping.assign(partitions.map((p) => ({ ...tp(p), offset: '0' })));
/** Assigns partitions whose group stands at the given offsets. */
const assignAt = (b: Bench, starts: Record<number, number>) =>
  b.mapping.assign(Object.entries(starts).map(([p, offset]) => ({ ...tp(Number(p)), offset: String(offset) })));
const batches = (b: Bench) => b.calls.map((c) => c.offsets);

describe('EventSourceMapping: batches', () => {
  it('sends at most batchSize records per invocation and commits after each success', async () => {
    // Prepare
    const b = new Bench({ batchSize: 10 });
    assign(b, 0);

    // Act
    b.mapping.push(range(0, 0, 24));
    await b.run();

    // Assess
    expect(b.calls.map((c) => c.records.length)).toEqual([10, 10, 5]);
    expect(b.calls.flatMap((c) => c.offsets)).toEqual(range(0, 0, 24).map((r) => `0:${r.offset}`));
    expect(b.calls[0]!.event.eventSource).toBe('aws:kafka');
    expect(b.committed.get('t-0')).toBe(25n);
  });

  it('gathers records arriving within the window into one invocation, partitions in order of arrival', async () => {
    const b = new Bench({ batchSize: 100, batchingWindowMs: 300 });
    assign(b, 0, 1);

    b.mapping.push([record(0, 0)]);
    await b.run(100);
    b.mapping.push([record(1, 0)]);
    b.mapping.push([record(0, 1)]);
    await b.run(150);
    expect(b.calls).toHaveLength(0);
    await b.run(60);

    expect(batches(b)).toEqual([['0:0', '0:1', '1:0']]);
    expect(Object.keys(b.calls[0]!.event.records)).toEqual(['t-0', 't-1']);
  });

  it('never sends records that match no filter pattern, and commits past them', async () => {
    const b = new Bench({ filter: compileFilterPatterns([{ value: { event_type: ['keep'] } }]) });
    assignAt(b, { 0: 0, 2: 40 });

    b.mapping.push([
      record(0, 0, { value: { event_type: 'drop' } }),
      record(0, 1, { value: { event_type: 'keep' } }),
      record(0, 2, { value: 'x' }),
      record(0, 3, { value: { event_type: 'drop' } }),
    ]);
    b.mapping.push([record(2, 40, { value: { event_type: 'drop' } })]);
    await b.run();

    expect(batches(b)).toEqual([['0:1']]);
    expect(b.committed.get('t-0')).toBe(4n);
    expect(b.committed.get('t-2')).toBe(41n);
    expect(b.mapping.stats.filtered).toBe(4);
  });

  it('invokes batches of different partitions concurrently, never two of one partition', async () => {
    const b = new Bench({ batchSize: 2 });
    b.answer = undefined;
    assign(b, 0, 1);

    b.mapping.push(range(0, 0, 3));
    b.mapping.push(range(1, 0, 3));
    await b.run();
    expect(batches(b)).toEqual([
      ['0:0', '0:1'],
      ['1:0', '1:1'],
    ]);
    b.calls[0]!.answer(OK);
    await b.run();

    expect(batches(b).slice(2)).toEqual([['0:2', '0:3']]);
  });

  it('puts records of several partitions fetched together into one batch', async () => {
    const b = new Bench({ batchSize: 10 });
    assign(b, 0, 1);

    b.mapping.push(range(0, 0, 1));
    b.mapping.push(range(1, 0, 1));
    await b.run();

    expect(batches(b)).toEqual([['0:0', '0:1', '1:0', '1:1']]);
  });

  it('keeps a batch under the event size cap', async () => {
    const b = new Bench({ batchSize: 100, maxEventBytes: 1_000 });
    assign(b, 0);

    b.mapping.push(range(0, 0, 9));
    await b.run();

    expect(b.calls.length).toBeGreaterThan(1);
    expect(b.calls.flatMap((c) => c.offsets)).toHaveLength(10);
  });

  it('skips records it has seen when the consumer fetches again from the committed offset', async () => {
    const b = new Bench({ batchSize: 3 });
    assign(b, 0);

    b.mapping.push(range(0, 0, 5));
    b.mapping.push(range(0, 0, 2));
    await b.run();

    expect(b.calls.flatMap((c) => c.offsets)).toEqual(range(0, 0, 5).map((r) => `0:${r.offset}`));
  });
});

describe('EventSourceMapping: failures and retries', () => {
  it('delivers a failed batch again after a backoff, and commits nothing before the function succeeds', async () => {
    const b = new Bench();
    const answers = [ERROR, ERROR];
    b.answer = (c) => answers[c.n] ?? OK;
    assignAt(b, { 0: 5 });

    b.mapping.push(range(0, 5, 7));
    await b.run();
    expect(b.calls).toHaveLength(1);
    expect(b.committed.get('t-0')).toBeUndefined();
    await b.run(1_000);

    expect(batches(b)).toEqual([
      ['0:5', '0:6', '0:7'],
      ['0:5', '0:6', '0:7'],
      ['0:5', '0:6', '0:7'],
    ]);
    expect(b.committed.get('t-0')).toBe(8n);
  });

  it('with ReportBatchItemFailures, commits below the failed record and delivers again from it', async () => {
    const b = new Bench({ reportBatchItemFailures: true, batchSize: 100 });
    b.answer = (c) => (c.n === 0 ? partialAt([[0, 3]]) : OK);
    assign(b, 0, 1);

    b.mapping.push(range(0, 0, 4));
    b.mapping.push(range(1, 0, 1));
    await b.run();
    expect(b.commits[0]!.value).toEqual([
      { topic: 't', partition: 0, offset: '3' },
      { topic: 't', partition: 1, offset: '2' },
    ]);
    await b.run(200);

    expect(batches(b)).toEqual([
      ['0:0', '0:1', '0:2', '0:3', '0:4', '1:0', '1:1'],
      ['0:3', '0:4'],
    ]);
    expect(b.committed.get('t-0')).toBe(5n);
  });

  it('resumes at the lowest reported offset when the response lists every record from the first failure on', async () => {
    const b = new Bench({ reportBatchItemFailures: true });
    b.answer = (c) =>
      c.n === 0
        ? partialAt([
            [0, 2],
            [0, 3],
            [0, 4],
          ])
        : OK;
    assign(b, 0);

    b.mapping.push(range(0, 0, 4));
    await b.run(200);

    expect(batches(b)).toEqual([
      ['0:0', '0:1', '0:2', '0:3', '0:4'],
      ['0:2', '0:3', '0:4'],
    ]);
  });

  it.each([
    ['an identifier naming no record of the batch', { ok: true, payload: { batchItemFailures: [{ itemIdentifier: 't-0:1' }] } }],
    ['a response that is not an object', { ok: true, payload: 'done' }],
  ] as const)('treats %s as a failure of the whole batch', async (_what, response) => {
    const b = new Bench({ reportBatchItemFailures: true });
    b.answer = (c) => (c.n === 0 ? response : OK);
    assign(b, 0);

    b.mapping.push(range(0, 0, 1));
    await b.run(200);

    expect(batches(b)).toEqual([
      ['0:0', '0:1'],
      ['0:0', '0:1'],
    ]);
  });

  it('ignores batchItemFailures when ReportBatchItemFailures is off, as Lambda does', async () => {
    const b = new Bench();
    b.answer = () => partialAt([[0, 0]]);
    assign(b, 0);

    b.mapping.push(range(0, 0, 1));
    await b.run(200);

    expect(b.calls).toHaveLength(1);
    expect(b.committed.get('t-0')).toBe(2n);
  });

  it('without a destination, discards the records after maximumRetryAttempts retries, says so, and moves on', async () => {
    const b = new Bench({ maximumRetryAttempts: 1 });
    b.answer = (c) => (c.offsets.includes('0:0') ? ERROR : OK);
    assign(b, 0);

    b.mapping.push([record(0, 0)]);
    await b.run(500);
    b.mapping.push([record(0, 1)]);
    await b.run();

    expect(batches(b)).toEqual([['0:0'], ['0:0'], ['0:1']]);
    expect(b.committed.get('t-0')).toBe(2n);
    expect(b.lines.filter((l) => l.level === 'error').map((l) => l.message)).toEqual([
      expect.stringContaining(
        'discarded 1 record(s) of t-0 (offsets 0..0, RetriesExhausted): there is no on-failure destination, and Lambda discards them the same way',
      ),
    ]);
  });

  it('writes the records to the destination when their retries are used up, with what AWS writes, then commits past them', async () => {
    const b = new Bench({ maximumRetryAttempts: 2, hasDestination: true });
    b.answer = () => ERROR;
    assign(b, 0);

    b.mapping.push(range(0, 0, 2));
    await b.run(1_000);

    expect(b.calls).toHaveLength(3);
    expect(b.writes).toHaveLength(1);
    expect(b.writes[0]!.value).toMatchObject({
      condition: 'RetriesExhausted',
      approximateInvokeCount: 3,
      response: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    });
    expect(b.writes[0]!.value.records.map((r) => r.offset)).toEqual(['0', '1', '2']);
    expect(b.committed.get('t-0')).toBe(3n);
  });

  it('after a partial response, sends only the reported records to the destination; the others were taken', async () => {
    const b = new Bench({ maximumRetryAttempts: 0, hasDestination: true, reportBatchItemFailures: true });
    b.answer = () =>
      partialAt([
        [0, 1],
        [0, 3],
      ]);
    assign(b, 0);

    b.mapping.push(range(0, 0, 4));
    await b.run();

    expect(b.writes[0]!.value.records.map((r) => r.offset)).toEqual(['1', '3']);
    expect(b.writes[0]!.value.response).toEqual({ statusCode: 200, executedVersion: '$LATEST' });
    expect(b.committed.get('t-0')).toBe(5n);
  });

  it('retries without end by default, but at most 10 times with an on-failure destination (as AWS applies)', async () => {
    const unlimited = new Bench({ maximumBatchingWindow: 0 } as never);
    unlimited.answer = () => ERROR;
    const capped = new Bench({ hasDestination: true });
    capped.answer = () => ERROR;
    for (const b of [unlimited, capped]) assign(b, 0);

    for (const b of [unlimited, capped]) b.mapping.push([record(0, 0)]);
    for (const b of [unlimited, capped]) await b.run(20_000);

    expect(unlimited.calls.length).toBeGreaterThan(11);
    expect(unlimited.writes).toHaveLength(0);
    expect(capped.calls).toHaveLength(11);
    expect(capped.writes[0]!.value.approximateInvokeCount).toBe(11);
  });

  it('with bisectBatchOnFunctionError, splits a failing batch until the bad record stands alone; splits are not retries', async () => {
    const b = new Bench({ bisectBatchOnFunctionError: true, maximumRetryAttempts: 0, hasDestination: true });
    b.answer = (c) => (c.offsets.includes('0:5') ? ERROR : OK);
    assign(b, 0);

    b.mapping.push(range(0, 0, 7));
    await b.run(2_000);

    expect(batches(b)).toEqual([
      ['0:0', '0:1', '0:2', '0:3', '0:4', '0:5', '0:6', '0:7'],
      ['0:0', '0:1', '0:2', '0:3'],
      ['0:4', '0:5', '0:6', '0:7'],
      ['0:4', '0:5'],
      ['0:4'],
      ['0:5'],
      ['0:6', '0:7'],
    ]);
    expect([...b.written()]).toEqual(['0:5']);
    expect(b.committed.get('t-0')).toBe(8n);
  });

  it('never sends a record older than maximumRecordAgeSeconds: it goes to the destination as RecordAgeExceeded', async () => {
    const b = new Bench({ maximumRecordAgeSeconds: 60, hasDestination: true });
    const now = b.clock.now();
    assign(b, 0);

    b.mapping.push([record(0, 0, { timestamp: now - 120_000 }), record(0, 1, { timestamp: now - 1_000 })]);
    await b.run();

    expect(batches(b)).toEqual([['0:1']]);
    expect(b.writes[0]!.value).toMatchObject({ condition: 'RecordAgeExceeded', approximateInvokeCount: 0, response: null });
    expect(b.committed.get('t-0')).toBe(2n);
  });

  it('without a destination, discards a record too old and delivers the next one at once (found by the model)', async () => {
    const b = new Bench({ maximumRecordAgeSeconds: 60 });
    const now = b.clock.now();
    assign(b, 1);

    b.mapping.push([record(1, 0, { timestamp: now - 600_000 }), record(1, 1, { timestamp: now })]);
    await b.run();

    expect(batches(b)).toEqual([['1:1']]);
    expect(b.discarded.map((f) => f.condition)).toEqual(['RecordAgeExceeded']);
  });

  it('a record that ages out while being retried leaves for the destination with its last response', async () => {
    const b = new Bench({ maximumRecordAgeSeconds: 60, hasDestination: true, maxBackoffMs: 30_000, initialBackoffMs: 30_000 });
    b.answer = () => ERROR;
    const now = b.clock.now();
    assign(b, 0);

    b.mapping.push([record(0, 0, { timestamp: now - 40_000 })]);
    await b.run(35_000);

    expect(b.calls).toHaveLength(1);
    expect(b.writes[0]!.value).toMatchObject({
      condition: 'RecordAgeExceeded',
      approximateInvokeCount: 1,
      response: { functionError: 'Unhandled' },
    });
  });

  it('commits nothing past records whose destination write failed, and writes them again', async () => {
    const b = new Bench({ maximumRetryAttempts: 0, hasDestination: true, maxBackoffMs: 500 });
    b.answer = () => ERROR;
    b.autoWrite = false;
    assign(b, 0);

    b.mapping.push([record(0, 0)]);
    await b.run();
    b.writes[0]!.fail();
    await b.run();
    expect(b.committed.get('t-0')).toBeUndefined();
    await b.run(600);
    b.writes[1]!.ok();
    await b.run();

    expect(b.writes).toHaveLength(2);
    expect(b.committed.get('t-0')).toBe(1n);
    expect(b.calls).toHaveLength(1);
  });
});

describe('EventSourceMapping: waits longer than a Node timer holds (2^31-1 ms)', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    vi.useRealTimers();
  });

  it('a destination write that failed waits out a backoff of 3,000,000,000 ms without spinning, then is written again', async () => {
    // Prepare: Node's timers, faked (a delay past 2^31-1 ms fires after 1 ms, as in Node)
    vi.useFakeTimers();
    const armed = vi.spyOn(globalThis, 'setTimeout');
    const b = new Bench(
      { maximumRetryAttempts: 0, hasDestination: true, initialBackoffMs: 100, maxBackoffMs: 3_000_000_000 },
      { nodeTimers: true },
    );
    b.answer = () => ERROR;
    b.autoWrite = false;
    assign(b, 0);
    b.mapping.push([record(0, 0)]);
    await vi.advanceTimersByTimeAsync(0);
    b.writes[0]!.fail();
    await vi.advanceTimersByTimeAsync(0);
    const before = armed.mock.calls.length;

    // Act
    await vi.advanceTimersByTimeAsync(50);
    const timersArmedIn50Ms = armed.mock.calls.length - before;
    expect(timersArmedIn50Ms).toBeLessThanOrEqual(1);
    await vi.advanceTimersByTimeAsync(3_000_000_000);

    // Assess
    expect(b.writes).toHaveLength(2);
    expect(b.calls).toHaveLength(1);
  });

  it('a commit that failed is tried again after its backoff, not in a loop, when the backoff exceeds a Node timer', async () => {
    vi.useFakeTimers();
    const b = new Bench({ initialBackoffMs: 3_000_000_000, maxBackoffMs: 3_000_000_000 }, { nodeTimers: true });
    b.autoCommit = false;
    assign(b, 0);
    b.mapping.push([record(0, 0)]);
    await vi.advanceTimersByTimeAsync(0);
    b.commits[0]!.fail();

    await vi.advanceTimersByTimeAsync(1_000);
    const commitsInOneSecond = b.commits.length;
    await vi.advanceTimersByTimeAsync(3_000_000_000);

    expect(commitsInOneSecond).toBe(1);
    expect(b.commits).toHaveLength(2);
  });
});

describe('EventSourceMapping: commits', () => {
  it('does not count a failed commit as done: it commits again', async () => {
    const b = new Bench();
    b.autoCommit = false;
    assign(b, 0);

    b.mapping.push(range(0, 0, 2));
    await b.run();
    b.commits[0]!.fail();
    await b.run(200);
    b.commits[1]!.ok();
    await b.run();

    expect(b.commits.map((c) => c.value)).toEqual([
      [{ topic: 't', partition: 0, offset: '3' }],
      [{ topic: 't', partition: 0, offset: '3' }],
    ]);
    expect(b.committed.get('t-0')).toBe(3n);
  });

  it('runs one commit at a time; what settles meanwhile goes into the next', async () => {
    const b = new Bench({ batchSize: 1 });
    b.autoCommit = false;
    assign(b, 0);

    b.mapping.push(range(0, 0, 2));
    await b.run();
    expect(b.commits).toHaveLength(1);
    b.commits[0]!.ok();
    await b.run();

    expect(b.commits.map((c) => c.value[0]!.offset)).toEqual(['1', '3']);
  });

  it('paces commits: one at once, then at most one per commitIntervalMs with everything settled meanwhile', async () => {
    const b = new Bench({ batchSize: 1, commitIntervalMs: 100 });
    assign(b, 0);

    b.mapping.push(range(0, 0, 4));
    await b.run(50);
    expect(b.commits.map((c) => c.value[0]!.offset)).toEqual(['1']);
    await b.run(60);

    expect(b.commits.map((c) => c.value[0]!.offset)).toEqual(['1', '5']);
  });

  it('commits at once on stop, whatever the pace', async () => {
    const b = new Bench({ batchSize: 1, commitIntervalMs: 10_000 });
    assign(b, 0);
    b.mapping.push(range(0, 0, 4));
    await b.run();

    await b.mapping.stop();

    expect(b.committed.get('t-0')).toBe(5n);
  });

  it('stops: finishes the invocation in flight, commits it, and starts nothing new', async () => {
    const b = new Bench({ batchSize: 2 });
    b.answer = undefined;
    assign(b, 0);
    b.mapping.push(range(0, 0, 3));
    await b.run();

    const stopped = b.mapping.stop();
    b.calls[0]!.answer(OK);
    await stopped;

    expect(b.calls).toHaveLength(1);
    expect(b.committed.get('t-0')).toBe(2n);
  });
});

describe('EventSourceMapping: partitions and rebalances (the review reproductions)', () => {
  it('a rebalance while a batch is in flight loses nothing: [0..9] settles against its own generation, no concurrent [0..9]', async () => {
    // The review: invocations [0..9], [0..9] (concurrent), [20..29]; commits 10, 20, 30: offsets 10-19 lost.
    const b = new Bench({ batchSize: 10 });
    b.answer = (c) => (c.n === 0 ? undefined : OK);
    assign(b, 0);
    b.mapping.push(range(0, 0, 29));
    await b.run();

    // Another member joins: the partition is revoked, then comes back; kafkajs fetches again from the committed offset.
    assign(b);
    assign(b, 0);
    b.mapping.push(range(0, 0, 29));
    await b.run();
    expect(b.calls, 'no second batch of t-0 while the first is in flight').toHaveLength(1);
    b.calls[0]!.answer(OK);
    await b.run();

    const succeeded = b.succeeded();
    expect(b.committed.get('t-0')).toBe(30n);
    expect(
      range(0, 0, 29)
        .map((r) => `0:${r.offset}`)
        .filter((o) => !succeeded.has(o)),
      'committed, never delivered',
    ).toEqual([]);
    expect(b.commits.every((c) => c.value.every((o) => Number(o.offset) % 10 === 0))).toBe(true);
  });

  it('a batch of a revoked partition commits nothing', async () => {
    const b = new Bench();
    b.answer = undefined;
    assign(b, 0, 1);
    b.mapping.push(range(0, 0, 1));
    await b.run();

    assign(b, 1);
    b.calls[0]!.answer(OK);
    await b.run();

    expect(b.commits).toHaveLength(0);
    expect(b.mapping.inspect().map((p) => p.key)).toEqual(['t-1']);
  });

  it('a healthy partition does not inherit the retries a poison partition used', async () => {
    const b = new Bench({ maximumRetryAttempts: 2, batchingWindowMs: 200 });
    b.answer = (c) => (c.offsets.includes('0:0') ? ERROR : OK);
    assign(b, 0, 1);

    b.mapping.push([record(0, 0)]);
    await b.run(400);
    expect(b.calls).toHaveLength(2);
    b.mapping.push([record(1, 0)]);
    await b.run(2_000);

    expect(b.succeeded().has('1:0')).toBe(true);
    expect(b.calls.every((c) => !(c.offsets.includes('0:0') && c.offsets.includes('1:0')))).toBe(true);
  });

  it('partial failures at 5, 10, 12 count per record: 12-19 are delivered again, not discarded', async () => {
    const b = new Bench({ batchSize: 20, reportBatchItemFailures: true, maximumRetryAttempts: 2 });
    const answers = [partialAt([[0, 5]]), partialAt([[0, 10]]), partialAt([[0, 12]])];
    b.answer = (c) => answers[c.n] ?? OK;
    assign(b, 0);

    b.mapping.push(range(0, 0, 19));
    await b.run(2_000);

    expect(batches(b).map((o) => o[0])).toEqual(['0:0', '0:5', '0:10', '0:12']);
    const succeeded = b.succeeded();
    expect(
      range(0, 0, 19)
        .map((r) => `0:${r.offset}`)
        .filter((o) => !succeeded.has(o)),
    ).toEqual([]);
    expect(b.committed.get('t-0')).toBe(20n);
  });

  it('a partition stuck on a poison record pauses only its own fetches; another keeps going', async () => {
    const b = new Bench({ maxRecordsPerPartition: 20 });
    b.answer = (c: Call) => (c.offsets.some((o) => o.startsWith('0:')) ? ERROR : OK);
    assign(b, 0, 1);

    b.mapping.push(range(0, 0, 24));
    b.mapping.push(range(1, 0, 4));
    await b.run(500);
    b.mapping.push(range(1, 5, 9));
    await b.run(500);

    expect(b.paused).toEqual(new Set(['t-0']));
    expect(b.committed.get('t-1')).toBe(10n);
  });

  it('resumes a paused partition once half its buffer is resolved', async () => {
    const b = new Bench({ maxRecordsPerPartition: 20, batchSize: 10 });
    b.answer = undefined;
    assign(b, 0);

    b.mapping.push(range(0, 0, 24));
    await b.run();
    expect(b.paused.has('t-0')).toBe(true);
    b.calls[0]!.answer(OK);
    await b.run();
    expect(b.paused.has('t-0')).toBe(true);
    b.calls[1]!.answer(OK);
    await b.run();

    expect(b.paused.has('t-0')).toBe(false);
  });

  it('a partition that comes back after being revoked while paused is fetched again', async () => {
    const b = new Bench({ maxRecordsPerPartition: 5 });
    b.answer = undefined;
    assign(b, 0);
    b.mapping.push(range(0, 0, 9));
    await b.run();
    expect(b.paused.has('t-0')).toBe(true);

    assign(b);
    assign(b, 0);

    expect(b.paused.has('t-0')).toBe(false);
  });

  it('ignores records of a partition it does not own', async () => {
    const b = new Bench();
    assign(b, 1);

    b.mapping.push(range(0, 0, 2));
    await b.run();

    expect(b.calls).toHaveLength(0);
  });
});

describe('EventSourceMapping: it takes records only in an unbroken run from where the group stood', () => {
  it("refuses a fetch that began past the offset it expects (the consumer's position moved past records it never handed over): nothing is committed past them", async () => {
    // Prepare: 0-2 taken; then the consumer's position moves past 3-5 without handing them
    // over (kafkajs resolved a batch that eachBatch returned without pushing).
    const b = new Bench();
    assign(b, 0);
    b.mapping.push(range(0, 0, 2), { from: '0' });
    await b.run();

    // Act
    const taken = b.mapping.push(range(0, 6, 8), { from: '6' });
    await b.run(1_000);

    // Assess: nothing past 3 committed; the consumer is told to fetch from 3, and then all of it goes through
    expect(b.committed.get('t-0')).toBe(3n);
    expect(taken).toBe(false);
    expect(b.mapping.expectedOffset(tp(0))).toBe('3');
    expect(b.mapping.push(range(0, 3, 8), { from: '3' })).toBe(true);
    await b.run();
    expect(batches(b).flat()).toEqual(range(0, 0, 8).map((r) => `0:${r.offset}`));
    expect(b.committed.get('t-0')).toBe(9n);
  });

  it('a batch fetched before a rebalance and handed over after it does not set where a new state starts: records below it are not committed past', async () => {
    // Prepare: 0-4 fail; the consumer restarts (a new member) while the group still stands at 0
    const b = new Bench();
    b.answer = (c) => (c.n === 0 ? ERROR : OK);
    assign(b, 0);
    b.mapping.push(range(0, 0, 4), { from: '0' });
    await b.run();
    assign(b);
    const waiting = b.mapping.assign([tp(0)]);

    // Act: a batch the old consumer fetched from 5 arrives before the new one's start is known
    const beforeStart = b.mapping.push(range(0, 5, 7), { from: '5' });
    await b.run(1_000);

    // Assess: nothing taken nor committed; once the start (0) is known, only a fetch from 0 is taken
    expect(b.committed.get('t-0')).toBeUndefined();
    expect(batches(b)).toHaveLength(1);
    expect(beforeStart).toBe(false);
    expect(waiting).toEqual([tp(0)]);
    expect(b.mapping.assign([tp(0), tp(1)])).toEqual([tp(0), tp(1)]); // kept and still waiting, and new
    b.mapping.startAt(tp(0), '0');
    expect(b.mapping.assign([tp(0), tp(1)])).toEqual([tp(1)]);
    expect(b.mapping.push(range(0, 5, 7), { from: '5' })).toBe(false);
    expect(b.mapping.push(range(0, 0, 7), { from: '0' })).toBe(true);
    await b.run();
    expect(batches(b).slice(1).flat()).toEqual(range(0, 0, 7).map((r) => `0:${r.offset}`));
    expect(b.committed.get('t-0')).toBe(8n);
  });

  it('takes a fetch that began before what it expects (a consumer fetching again) and one that says where nothing is to deliver', async () => {
    const b = new Bench();
    assignAt(b, { 0: 10 });

    const again = [b.mapping.push(range(0, 8, 12), { from: '8' }), b.mapping.push(range(0, 10, 14), { from: '10', to: '17' })];
    const markers = b.mapping.handOverNothing(tp(0), '17', '20');
    await b.run();

    expect([...again, markers]).toEqual([true, true, true]);
    expect(batches(b).flat()).toEqual(range(0, 10, 14).map((r) => `0:${r.offset}`));
    expect(b.committed.get('t-0')).toBe(20n);
    expect(b.mapping.expectedOffset(tp(0))).toBe('20');
  });

  it('moves past records the broker deleted before they were read, and says so', async () => {
    const b = new Bench();
    assignAt(b, { 0: 10 });

    b.mapping.skipDeleted(tp(0), '25');
    b.mapping.push(range(0, 25, 26), { from: '25' });
    await b.run();

    expect(batches(b).flat()).toEqual(['0:25', '0:26']);
    expect(b.committed.get('t-0')).toBe(27n);
    expect(b.lines).toContainEqual({
      level: 'warn',
      message:
        'fn: t-0: offsets 10..24 were deleted by the broker (its retention) before they were read; nothing can deliver them, so they are committed past',
    });
  });
});

describe('EventSourceMapping: what it settled is not delivered again when a partition comes back', () => {
  it('a commit lost with its coordinator, then a consumer restart: the same partition resumes after what was settled, and commits there', async () => {
    // The rolling restart's SIGKILL: the commit of 0-9 dies with the coordinator, the consumer
    // rejoins, and kafkajs fetches again from the group's committed offset (none yet: 0).
    const b = new Bench();
    b.autoCommit = false;
    assign(b, 0);
    b.mapping.push(range(0, 0, 9));
    await b.run();
    b.commits[0]!.fail();
    await b.run();

    assign(b);
    assign(b, 0);
    b.autoCommit = true;
    b.mapping.push(range(0, 0, 14));
    await b.run(2_000);

    expect(batches(b)).toEqual([range(0, 0, 9).map((r) => `0:${r.offset}`), range(0, 10, 14).map((r) => `0:${r.offset}`)]);
    expect(b.committed.get('t-0')).toBe(15n);
    expect(
      b.lines.filter((l) => l.level === 'warn' && l.message.includes('t-0 came back at an older offset (a commit was lost); 10 record(s)')),
    ).toHaveLength(1);
  });

  it('a batch that succeeds after its partition was revoked counts: the partition, back, does not deliver it again', async () => {
    const b = new Bench();
    b.answer = (c) => (c.n === 0 ? undefined : OK);
    assign(b, 0);
    b.mapping.push(range(0, 0, 9));
    await b.run();

    assign(b);
    assign(b, 0);
    b.mapping.push(range(0, 0, 14));
    await b.run();
    b.calls[0]!.answer(OK);
    await b.run();

    expect(batches(b)).toEqual([range(0, 0, 9).map((r) => `0:${r.offset}`), range(0, 10, 14).map((r) => `0:${r.offset}`)]);
    expect(b.committed.get('t-0')).toBe(15n);
  });

  it('skips only what it settled itself: records another member left behind, or below what it settled, are delivered', async () => {
    const b = new Bench();
    assignAt(b, { 0: 10 });
    b.mapping.push(range(0, 10, 19));
    await b.run();

    // Back after another member: the group stood at 5 (below what this mapping took), then at 25.
    assign(b);
    assignAt(b, { 0: 5 });
    b.mapping.push(range(0, 5, 22));
    await b.run();
    assign(b);
    assignAt(b, { 0: 25 });
    b.mapping.push(range(0, 25, 27));
    await b.run();

    expect(batches(b).flat()).toEqual(
      [...range(0, 10, 19), ...range(0, 5, 9), ...range(0, 20, 22), ...range(0, 25, 27)].map((r) => `0:${r.offset}`),
    );
  });

  it('remembers one settled range per partition, and no more than MAX_SETTLED_PARTITIONS of them', async () => {
    const b = new Bench({ batchSize: 1 });
    const partitions = Array.from({ length: MAX_SETTLED_PARTITIONS + 5 }, (_, i) => i);
    assign(b, ...partitions);
    for (const p of partitions) b.mapping.push(range(p, 0, 1));
    await b.run();
    for (const p of partitions) b.mapping.push(range(p, 2, 2));
    await b.run();

    expect(b.calls).toHaveLength(partitions.length * 3);
    expect(b.mapping.settledPartitions).toBe(MAX_SETTLED_PARTITIONS);
  }, 60_000);
});
