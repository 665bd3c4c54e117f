/**
 * The kafkajs side with a fake consumer: assignments, a fetch that never waits, commits
 * counted only when kafkajs performed them, and crashes.
 */
import { describe, expect, it } from 'vitest';
import type { MappingSettings, PartitionOffset } from '../src/mapping';
import { startKafkaEventSource } from '../src/kafka-source';
import type { RunningEventSource } from '../src/kafka-source';
import type { ConsumedRecord } from '../src/records';
import { BASE_SETTINGS, range } from './support';

const settings: MappingSettings = { ...BASE_SETTINGS, initialBackoffMs: 10, maxBackoffMs: 20, maxRecordsPerPartition: 5 };

type Listener = (e: { payload: unknown }) => void;

/** Just enough of a kafkajs consumer: events, run with eachBatch, pause/resume, and commits that need a running runner. */
class FakeConsumer {
  readonly events = {
    GROUP_JOIN: 'consumer.group_join',
    CRASH: 'consumer.crash',
    COMMIT_OFFSETS: 'consumer.commit_offsets',
    REBALANCING: 'consumer.rebalancing',
  };
  running = true;
  readonly broker: Record<string, string>;
  readonly paused = new Set<number>();
  disconnected = false;
  #listeners = new Map<string, Listener[]>();
  #eachBatch: ((payload: unknown) => Promise<void>) | undefined;
  constructor(broker: Record<string, string>, readonly memberId: string) {
    this.broker = broker;
  }
  on(name: string, listener: Listener) {
    this.#listeners.set(name, [...(this.#listeners.get(name) ?? []), listener]);
    return () => this.#listeners.set(name, (this.#listeners.get(name) ?? []).filter((l) => l !== listener));
  }
  emit(name: string, payload: unknown) {
    for (const l of this.#listeners.get(name) ?? []) l({ payload });
  }
  join(partitions: number[], memberId = this.memberId) {
    this.emit(this.events.GROUP_JOIN, { memberId, memberAssignment: { t: partitions } });
  }
  connect = () => Promise.resolve();
  disconnect = () => {
    this.disconnected = true;
    return Promise.resolve();
  };
  subscribe = () => Promise.resolve();
  pause = (tps: Array<{ partitions: number[] }>) => tps.forEach((tp) => tp.partitions.forEach((p) => this.paused.add(p)));
  resume = (tps: Array<{ partitions: number[] }>) => tps.forEach((tp) => tp.partitions.forEach((p) => this.paused.delete(p)));
  run = (config: { eachBatch: (payload: unknown) => Promise<void> }) => {
    this.#eachBatch = config.eachBatch;
    setTimeout(() => this.join([0, 1]), 1);
    return Promise.resolve();
  };
  /** kafkajs' commitOffsets: without a running runner it returns without committing. */
  commitOffsets = (offsets: PartitionOffset[]) => {
    if (!this.running) return Promise.resolve();
    for (const o of offsets) this.broker[`${o.topic}-${o.partition}`] = o.offset;
    this.emit(this.events.COMMIT_OFFSETS, { topics: [{ topic: 't', partitions: offsets.map((o) => ({ partition: o.partition, offset: o.offset })) }] });
    return Promise.resolve();
  };
  deliver(records: ConsumedRecord[]): Promise<void> {
    return this.#eachBatch!({
      batch: {
        topic: 't',
        partition: records[0]!.partition,
        messages: records.map((r) => ({ offset: r.offset, timestamp: String(r.timestamp), key: r.key, value: r.value, headers: {}, attributes: 0 })),
      },
      isRunning: () => true,
      isStale: () => false,
      heartbeat: () => Promise.resolve(),
    });
  }
}

async function start(params: { invoke?: () => Promise<{ ok: true; payload: null }>; maxRestarts?: number; onFatal?: (e: Error) => void } = {}) {
  const consumers: FakeConsumer[] = [];
  const broker: Record<string, string> = {};
  const lines: string[] = [];
  const control = { joins: true };
  const log = { debug: () => undefined, info: () => undefined, warn: (m: string) => lines.push(`warn ${m}`), error: (m: string) => lines.push(`error ${m}`) };
  const kafka = {
    consumer: () => {
      const consumer = new FakeConsumer(broker, `member-${consumers.length}`);
      if (!control.joins) consumer.run = () => Promise.resolve();
      consumers.push(consumer);
      return consumer;
    },
    admin: () => {
      throw new Error('not used');
    },
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
    const { consumers, broker, source } = await start({ invoke: () => new Promise((resolve) => (release = () => resolve({ ok: true, payload: null }))) });
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

    consumers[0]!.emit('consumer.crash', { error: new Error("The coordinator is loading and hence can't process requests"), restart: true });

    expect(source.mapping.inspect()).toEqual([]);
    expect(lines).toEqual([]);
    consumers[0]!.join([0]);
    expect(source.mapping.inspect().map((p) => p.key)).toEqual(['t-0']);
    await source.stop();
  });
});
