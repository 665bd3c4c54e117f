/**
 * The kafkajs side with a fake consumer: assignments, a fetch that never waits, commits
 * counted only when kafkajs performed them, and crashes.
 */
import { describe, expect, it } from 'vitest';
import type { InvokeResult, MappingSettings, PartitionOffset } from '../src/mapping';
import { startKafkaEventSource } from '../src/kafka-source';
import type { RunningEventSource } from '../src/kafka-source';
import type { GroupPositions } from '../src/positions';
import type { ConsumedRecord } from '../src/records';
import { BASE_SETTINGS, range } from './support';

const settings: MappingSettings = { ...BASE_SETTINGS, initialBackoffMs: 10, maxBackoffMs: 20, maxRecordsPerPartition: 5 };

type Listener = (e: { payload: unknown }) => void;

interface BatchOptions {
  /** eachBatch sees the batch as stale (kafkajs: a seek came after the fetch). */
  stale?: boolean;
  /** eachBatch sees the runner as not running. */
  running?: boolean;
  /** The offset the fetch began at (default: the consumer's position). */
  from?: number;
}

/**
 * Just enough of a kafkajs consumer: events, run with eachBatch, pause/resume and seek
 * (which throw, as kafkajs' do, while it has no consumer group), commits that need a
 * running runner, and kafkajs' fetch position: a fetch hands eachBatch the records from
 * the position, which moves only by resolveOffset, by eachBatchAutoResolve (kafkajs
 * resolves every batch's last offset, pushed or not) and by a seek; a join starts again
 * from the committed offset.
 */
class FakeConsumer {
  readonly events = {
    GROUP_JOIN: 'consumer.group_join',
    CRASH: 'consumer.crash',
    COMMIT_OFFSETS: 'consumer.commit_offsets',
    REBALANCING: 'consumer.rebalancing',
    END_BATCH_PROCESS: 'consumer.end_batch_process',
  };
  running = true;
  readonly broker: Record<string, string>;
  readonly topicLog: Record<number, ConsumedRecord[]>;
  readonly paused = new Set<number>();
  readonly position = new Map<number, number>();
  readonly seeks = new Map<number, number>();
  disconnected = false;
  #listeners = new Map<string, Listener[]>();
  #config: { eachBatch: (payload: unknown) => Promise<void>; eachBatchAutoResolve?: boolean } | undefined;
  constructor(
    broker: Record<string, string>,
    topicLog: Record<number, ConsumedRecord[]>,
    readonly memberId: string,
  ) {
    this.broker = broker;
    this.topicLog = topicLog;
  }
  on(name: string, listener: Listener) {
    this.#listeners.set(name, [...(this.#listeners.get(name) ?? []), listener]);
    return () =>
      this.#listeners.set(
        name,
        (this.#listeners.get(name) ?? []).filter((l) => l !== listener),
      );
  }
  emit(name: string, payload: unknown) {
    for (const l of this.#listeners.get(name) ?? []) l({ payload });
  }
  join(partitions: number[], memberId = this.memberId) {
    this.position.clear();
    this.emit(this.events.GROUP_JOIN, { memberId, memberAssignment: { t: partitions } });
  }
  connect = () => Promise.resolve();
  disconnect = () => {
    this.disconnected = true;
    return Promise.resolve();
  };
  subscribe = () => Promise.resolve();
  #group() {
    if (!this.running) throw new Error('Consumer group was not initialized, consumer#run must be called first');
  }
  pause = (tps: Array<{ partitions: number[] }>) => {
    this.#group();
    tps.forEach((tp) => tp.partitions.forEach((p) => this.paused.add(p)));
  };
  resume = (tps: Array<{ partitions: number[] }>) => {
    this.#group();
    tps.forEach((tp) => tp.partitions.forEach((p) => this.paused.delete(p)));
  };
  seek = ({ partition, offset }: { partition: number; offset: string }) => {
    this.#group();
    this.seeks.set(partition, Number(offset));
  };
  run = (config: { eachBatch: (payload: unknown) => Promise<void>; eachBatchAutoResolve?: boolean }) => {
    this.#config = config;
    setTimeout(() => this.join([0, 1]), 1);
    return Promise.resolve();
  };
  /** kafkajs' commitOffsets: without a running runner it returns without committing. */
  commitOffsets = (offsets: PartitionOffset[]) => {
    if (!this.running) return Promise.resolve();
    for (const o of offsets) this.broker[`${o.topic}-${o.partition}`] = o.offset;
    this.emit(this.events.COMMIT_OFFSETS, {
      topics: [{ topic: 't', partitions: offsets.map((o) => ({ partition: o.partition, offset: o.offset })) }],
    });
    return Promise.resolve();
  };
  /** Where kafkajs fetches a partition next: a pending seek, else its position, else the committed offset. */
  next(partition: number): number {
    const seek = this.seeks.get(partition);
    if (seek !== undefined) {
      this.seeks.delete(partition);
      this.position.set(partition, seek);
    }
    return this.position.get(partition) ?? Number(this.broker[`t-${partition}`] ?? 0);
  }
  /** One fetch of a partition, up to `max` records from the topic log, handed to eachBatch, then resolved as kafkajs' runner does. */
  async fetch(partition: number, max: number, options: BatchOptions = {}): Promise<void> {
    if (this.paused.has(partition)) return;
    const from = options.from ?? this.next(partition);
    const held = Number(this.topicLog[partition]?.[0]?.offset ?? 0);
    if (from < held) {
      // Offset out of range (retention deleted what is below): kafkajs goes to the first offset held.
      this.position.set(partition, held);
      return;
    }
    const records = (this.topicLog[partition] ?? []).filter((r) => Number(r.offset) >= from).slice(0, max);
    if (records.length > 0) await this.#hand(records, from, options);
  }
  /** A batch of these records, fetched from the first one's offset, handed to a running eachBatch. */
  deliver(records: ConsumedRecord[]): Promise<void> {
    return this.#hand(records, Number(records[0]!.offset), { running: true });
  }
  async #hand(records: ConsumedRecord[], from: number, options: BatchOptions = {}): Promise<void> {
    const partition = records[0]!.partition;
    const last = records.at(-1)!.offset;
    let resolved: number | undefined;
    await this.#config!.eachBatch({
      batch: {
        topic: 't',
        partition,
        fetchedOffset: String(from),
        lastOffset: () => last,
        messages: records.map((r) => ({
          offset: r.offset,
          timestamp: String(r.timestamp),
          key: r.key,
          value: r.value,
          headers: {},
          attributes: 0,
        })),
      },
      resolveOffset: (offset: string) => (resolved = Number(offset)),
      isRunning: () => options.running ?? this.running,
      isStale: () => options.stale ?? false,
      heartbeat: () => Promise.resolve(),
    });
    if (resolved !== undefined) this.position.set(partition, resolved + 1);
    if (this.#config!.eachBatchAutoResolve !== false) this.position.set(partition, Number(last) + 1);
  }
}

async function start(
  params: {
    invoke?: (event: unknown) => Promise<InvokeResult>;
    maxRestarts?: number;
    onFatal?: (e: Error) => void;
    topicLog?: Record<number, ConsumedRecord[]>;
    logStart?: Record<number, number>;
    positions?: (broker: Record<string, string>) => GroupPositions;
    /** Filled with the consumers as they are made (before the start resolves). */
    consumers?: FakeConsumer[];
  } = {},
) {
  const consumers: FakeConsumer[] = params.consumers ?? [];
  const broker: Record<string, string> = {};
  const topicLog = params.topicLog ?? {};
  const lines: string[] = [];
  const control = { joins: true };
  const log = {
    debug: () => undefined,
    info: () => undefined,
    warn: (m: string) => lines.push(`warn ${m}`),
    error: (m: string) => lines.push(`error ${m}`),
  };
  const kafka = {
    consumer: () => {
      const consumer = new FakeConsumer(broker, topicLog, `member-${consumers.length}`);
      if (!control.joins) consumer.run = () => Promise.resolve();
      consumers.push(consumer);
      return consumer;
    },
    admin: () => {
      throw new Error('not used');
    },
  };
  // Where the group stands, as the broker says: its committed offsets (0 where none), and what retention left.
  const positions = params.positions?.(broker) ?? {
    committed: (ps: readonly number[]) => Promise.resolve(new Map(ps.map((p) => [p, broker[`t-${p}`] ?? '0']))),
    logStart: (ps: readonly number[]) => Promise.resolve(new Map(ps.map((p) => [p, String(params.logStart?.[p] ?? 0)]))),
  };
  const source: RunningEventSource = await startKafkaEventSource({
    kafka: kafka as never,
    topic: 't',
    groupId: 'g',
    startingPosition: 'TRIM_HORIZON',
    log,
    settings,
    invoke: params.invoke ?? (() => Promise.resolve({ ok: true, payload: null })),
    restartBackoffMs: 5,
    positions,
    ...(params.maxRestarts !== undefined ? { maxRestarts: params.maxRestarts } : {}),
    ...(params.onFatal ? { onFatal: params.onFatal } : {}),
  });
  return { consumers, broker, lines, source, control };
}

const settle = (ms = 30) => new Promise((r) => setTimeout(r, ms));

describe('startKafkaEventSource', () => {
  it('hands the mapping the assignment and commits what the function took', async () => {
    const { consumers, broker, source } = await start();

    await consumers[0]!.deliver(range(0, 0, 2));
    await settle();

    expect(broker['t-0']).toBe('3');
    expect(source.mapping.inspect().map((p) => p.key)).toEqual(['t-0', 't-1']);
    await source.stop();
  });

  it('never waits in eachBatch, even while the function holds a batch: the partition pauses instead', async () => {
    const { consumers, source } = await start({ invoke: () => new Promise(() => undefined) });

    const delivered = await Promise.race([consumers[0]!.deliver(range(0, 0, 9)).then(() => 'returned'), settle(200).then(() => 'waiting')]);

    expect(delivered).toBe('returned');
    expect([...consumers[0]!.paused]).toEqual([0]);
    void source.stop();
  });

  it('does not count a commit kafkajs did not perform (runner stopped) as done: it commits again', async () => {
    const { consumers, broker, source } = await start();
    const consumer = consumers[0]!;
    consumer.running = false;

    await consumer.deliver(range(0, 0, 2));
    await settle();
    expect(broker['t-0']).toBeUndefined();
    consumer.running = true;
    await settle(150);

    expect(broker['t-0']).toBe('3');
    await source.stop();
  });

  it('starts afresh when the member id changes: a batch of the old member commits nothing', async () => {
    let release: () => void = () => undefined;
    const { consumers, broker, source } = await start({
      invoke: () => new Promise((resolve) => (release = () => resolve({ ok: true, payload: null }))),
    });
    await consumers[0]!.deliver(range(0, 0, 1));
    await settle();

    consumers[0]!.join([0, 1], 'another-member-id');
    release();
    await settle();

    expect(broker['t-0']).toBeUndefined();
    await source.stop();
  });

  it('restarts a consumer that crashed without kafkajs restarting it', async () => {
    const { consumers, lines, source } = await start();

    consumers[0]!.emit('consumer.crash', { error: new Error('fatal'), restart: false });
    await settle(50);

    expect(consumers).toHaveLength(2);
    expect(consumers[0]!.disconnected).toBe(true);
    expect(source.mapping.inspect().map((p) => p.key)).toEqual(['t-0', 't-1']);
    expect(lines).toEqual([expect.stringContaining('crashed and kafkajs does not restart it; starting a new one')]);
    await source.stop();
  });

  it('gives up loudly after crashes in a row without a join in between', async () => {
    const fatal: Error[] = [];
    const { consumers, lines, control } = await start({ maxRestarts: 2, onFatal: (e) => fatal.push(e) });
    control.joins = false;
    for (let i = 0; i < 3; i++) {
      consumers.at(-1)!.emit('consumer.crash', { error: new Error(`fatal ${i}`), restart: false });
      await settle(100);
    }

    expect(fatal.map((e) => e.message)).toEqual(['the consumer of g crashed 3 times in a row without joining its group: fatal 2']);
    expect(lines.at(-1)).toMatch(/^error fn: event source mapping stopped: the consumer of g crashed 3 times/);
  });

  it('revokes everything on a crash kafkajs restarts itself, and logs a retriable one quietly', async () => {
    const { consumers, lines, source } = await start();

    consumers[0]!.emit('consumer.crash', {
      error: new Error("The coordinator is loading and hence can't process requests"),
      restart: true,
    });

    expect(source.mapping.inspect()).toEqual([]);
    expect(lines).toEqual([]);
    consumers[0]!.join([0]);
    expect(source.mapping.inspect().map((p) => p.key)).toEqual(['t-0']);
    await source.stop();
  });

  it('fetches again a batch eachBatch returned without pushing (stale, or the runner not running): kafkajs moves past nothing the mapping did not take', async () => {
    // Prepare
    const invoked: string[] = [];
    const { consumers, broker, source } = await start({ topicLog: { 0: range(0, 0, 9) }, invoke: recording(invoked) });
    const c = consumers[0]!;

    // Act
    await c.fetch(0, 3, { stale: true });
    await c.fetch(0, 3, { running: false });
    for (let i = 0; i < 3; i++) await c.fetch(0, 10);
    await settle();

    // Assess
    expect(invoked).toEqual(range(0, 0, 9).map((r) => r.offset));
    expect(broker['t-0']).toBe('10');
    await source.stop();
  });

  it("refuses a fetch from past what the mapping expects (kafkajs' position moved), seeks back, and loses nothing", async () => {
    const invoked: string[] = [];
    const { consumers, broker, lines, source } = await start({ topicLog: { 0: range(0, 0, 9) }, invoke: recording(invoked) });
    const c = consumers[0]!;
    await c.fetch(0, 3);
    await settle();

    c.position.set(0, 6);
    await c.fetch(0, 10);
    await settle();
    for (let i = 0; i < 3; i++) await c.fetch(0, 10);
    await settle();

    expect(invoked).toEqual(range(0, 0, 9).map((r) => r.offset));
    expect(broker['t-0']).toBe('10');
    expect(lines).toContain(
      'warn fn: t-0: a fetch from offset 6 was not taken: offsets from 3 were never handed over; fetching again from 3',
    );
    await source.stop();
  });

  it('does not take, after a new member joined, a batch fetched before: it starts where the group stands', async () => {
    // Prepare: 0-4 reach the function, which fails until the consumer comes back as a new member
    const invoked: string[] = [];
    let failing = true;
    const invoke = (event: unknown) => {
      if (!failing) return recording(invoked)(event);
      return Promise.resolve({ ok: false, error: 'boom' } as const);
    };
    const { consumers, broker, source } = await start({ topicLog: { 0: range(0, 0, 9) }, invoke });
    const c = consumers[0]!;
    await c.fetch(0, 5);
    await settle();
    c.join([0, 1], 'another-member-id');
    failing = false;

    // Act: the old member's batch from 5 arrives, then fetches from where the new member starts
    await c.fetch(0, 5, { from: 5 });
    await settle(200);
    for (let i = 0; i < 3; i++) await c.fetch(0, 10);
    await settle(200);

    // Assess: 0-4 delivered before anything after them is committed
    expect(invoked).toEqual(range(0, 0, 9).map((r) => r.offset));
    expect(broker['t-0']).toBe('10');
    await source.stop();
  });

  it('moves past records retention deleted before they were read (kafkajs jumped to the first one held), saying so', async () => {
    const invoked: string[] = [];
    const { consumers, broker, lines, source } = await start({
      topicLog: { 0: range(0, 5, 9) },
      logStart: { 0: 5 },
      invoke: recording(invoked),
    });
    const c = consumers[0]!;

    for (let i = 0; i < 4; i++) {
      await c.fetch(0, 10);
      await settle();
    }

    expect(invoked).toEqual(range(0, 5, 9).map((r) => r.offset));
    expect(broker['t-0']).toBe('10');
    expect(lines).toContain(
      'warn fn: t-0: offsets 0..4 were deleted by the broker (its retention) before they were read; nothing can deliver them, so they are committed past',
    );
    await source.stop();
  });

  it("revokes everything on a crash while a partition's buffer is full, though kafkajs refuses pause and resume then", async () => {
    const { consumers, source } = await start({ invoke: () => new Promise(() => undefined) });
    const c = consumers[0]!;
    await c.deliver(range(0, 0, 9));
    expect([...c.paused]).toEqual([0]);

    c.running = false;
    c.emit('consumer.crash', { error: new Error("The coordinator is loading and hence can't process requests"), restart: true });

    expect(source.mapping.inspect()).toEqual([]);
    void source.stop();
  });

  it('holds a new partition until where the group stands is read, and uses only a read made after the latest join', async () => {
    // Prepare: every read of the committed offsets waits until the test answers it
    const reads: Array<{ answer: (offset: string) => void; fail: (e: Error) => void }> = [];
    const positions = (): GroupPositions => ({
      committed: (partitions) =>
        new Promise((resolve, reject) =>
          reads.push({ answer: (offset) => resolve(new Map(partitions.map((p) => [p, offset]))), fail: reject }),
        ),
      logStart: (ps) => Promise.resolve(new Map(ps.map((p) => [p, '0']))),
    });
    const invoked: string[] = [];
    const consumers: FakeConsumer[] = [];
    let ready = false;
    const started = start({ topicLog: { 0: range(0, 0, 9) }, invoke: recording(invoked), positions, consumers }).then(
      (s) => ((ready = true), s),
    );
    await settle();

    // Act: the first read fails and is tried again; the consumer joins again while that read is under way
    reads[0]!.fail(new Error('The coordinator is loading'));
    await settle(100);
    const waitedForTheRead = !ready && [...consumers[0]!.paused];
    consumers[0]!.join([0]);
    await settle();
    reads[1]!.answer('3'); // read before the latest join: not used
    reads[2]!.answer('0');
    const { broker, source } = await started;
    for (let i = 0; i < 3; i++) await consumers[0]!.fetch(0, 10);
    await settle();

    // Assess
    expect(waitedForTheRead).toEqual([0, 1]);
    expect(reads).toHaveLength(3);
    expect(invoked).toEqual(range(0, 0, 9).map((r) => r.offset));
    expect(broker['t-0']).toBe('10');
    await source.stop();
  });
});

/** An invoke that notes the offsets of every record it is given, and succeeds. */
function recording(offsets: string[]) {
  return (event: unknown): Promise<{ ok: true; payload: null }> => {
    for (const records of Object.values((event as { records: Record<string, Array<{ offset: number }>> }).records))
      for (const r of records) offsets.push(String(r.offset));
    return Promise.resolve({ ok: true, payload: null });
  };
}
