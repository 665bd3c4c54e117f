/**
 * The kafkajs side of an event source mapping: one consumer in the function's consumer
 * group reads the topic and feeds an EventSourceMapping, which never makes it wait:
 *
 * - every GROUP_JOIN hands the mapping the new assignment (a new member id, or a crash,
 *   first revokes everything); a partition new to the mapping is held (not fetched) until
 *   the group's committed offset on it has been read from the broker (./positions.ts):
 *   the mapping takes a partition's records only in an unbroken run from there;
 * - eachBatch pushes the fetched records with the offset the fetch began at and returns
 *   at once, so heartbeats and rebalances are never held up by a slow or failing function.
 *   kafkajs' position moves past a batch only when the mapping took it (no
 *   eachBatchAutoResolve): a batch returned without being pushed (the consumer replaced,
 *   not running, the batch stale) or refused is fetched again. When the mapping refuses a
 *   fetch that began past the offset it expects, the consumer is sought back there (after
 *   checking that the broker still holds those records: what retention deleted is
 *   skipped, as Lambda can read it no more);
 * - the mapping pauses and resumes the fetches of one partition when its buffer fills;
 * - a commit counts as done only when kafkajs reports it performed (its COMMIT_OFFSETS
 *   event for exactly these offsets): kafkajs' commitOffsets returns without committing
 *   when its runner is not running, and that must not pass for a commit;
 * - a crash kafkajs restarts itself (a retriable error) revokes everything until the
 *   consumer has joined again; a crash it does not restart is restarted here, with
 *   backoff, up to `maxRestarts` times in a row; then the source stops and `onFatal`
 *   says so.
 * Nothing is committed automatically.
 */
import type { Batch, Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import type { ConsumedRecord, TopicPartition } from './records';
import { EventSourceMapping } from './mapping';
import type { EventSourceLog, MappingDeps, MappingSettings, PartitionOffset } from './mapping';
import { isRetriableStartError } from './log';
import { groupPositions } from './positions';
import type { GroupPositions } from './positions';

export type StartingPosition = 'TRIM_HORIZON' | 'LATEST' | 'AT_TIMESTAMP';

export interface KafkaSourceParams {
  kafka: Pick<Kafka, 'consumer' | 'admin'>;
  settings: MappingSettings;
  invoke: MappingDeps['invoke'];
  sendToDestination?: MappingDeps['sendToDestination'];
  topic: string;
  groupId: string;
  startingPosition: StartingPosition;
  /** Seconds since the epoch, for AT_TIMESTAMP. */
  startingPositionTimestamp?: number | undefined;
  log: EventSourceLog;
  /** Longest a fetch waits for data at the broker; bounds how long a stop waits too. */
  maxWaitTimeInMs?: number;
  /** How long the first group join may take. */
  joinTimeoutMs?: number;
  /** Consumer restarts in a row (without a join in between) before giving up. */
  maxRestarts?: number;
  restartBackoffMs?: number;
  /** Called once when the source gave up (a consumer that could not be restarted). */
  onFatal?: (error: Error) => void;
  /** Where the group stands (a fake in tests); read from the broker by default. */
  positions?: GroupPositions;
  /** How long one read of the group's positions may take; failed reads are tried again with backoff. */
  positionTimeoutMs?: number;
}

export interface RunningEventSource {
  readonly groupId: string;
  readonly mapping: EventSourceMapping;
  /** Stops the mapping (the invocations in flight finish and are committed), then leaves the group. */
  stop(): Promise<void>;
}

const TIMESTAMP_TYPES: Record<number, ConsumedRecord['timestampType']> = {
  0: 'CREATE_TIME',
  1: 'LOG_APPEND_TIME',
};

/** The broker's timestamp type sits in the record batch attributes, which kafkajs keeps as batchContext. */
function timestampTypeOf(message: KafkaMessage): ConsumedRecord['timestampType'] {
  const context = (message as { batchContext?: { timestampType?: number } }).batchContext;
  if (context?.timestampType !== undefined) return TIMESTAMP_TYPES[context.timestampType] ?? 'NO_TIMESTAMP_TYPE';
  // Message-set (v0/v1) entries: bit 3 of the attributes is the timestamp type.
  return (message.attributes & 0x08) === 0 ? 'CREATE_TIME' : 'LOG_APPEND_TIME';
}

export function toConsumedRecord(topic: string, partition: number, message: KafkaMessage): ConsumedRecord {
  const headers: ConsumedRecord['headers'] = [];
  for (const name in message.headers) {
    const value = message.headers[name];
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) {
      if (v === undefined) continue;
      headers.push({ name, value: Buffer.isBuffer(v) ? v : Buffer.from(v) });
    }
  }
  return {
    topic,
    partition,
    offset: message.offset,
    timestamp: Number(message.timestamp),
    timestampType: timestampTypeOf(message),
    key: message.key ?? null,
    value: message.value ?? null,
    headers,
  };
}

/** AT_TIMESTAMP: a group with no committed offsets starts at the first record at or after the time. */
async function applyStartingTimestamp(params: KafkaSourceParams): Promise<void> {
  const { kafka, topic, groupId, startingPositionTimestamp } = params;
  if (startingPositionTimestamp === undefined) {
    throw new Error(`startingPositionTimestamp is required with AT_TIMESTAMP (group ${groupId})`);
  }
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    if (committed?.partitions.some((p) => p.offset !== '-1')) return;
    const partitions = await admin.fetchTopicOffsetsByTimestamp(topic, startingPositionTimestamp * 1000);
    await admin.setOffsets({ groupId, topic, partitions });
  } finally {
    await admin.disconnect();
  }
}

/** Whether a kafkajs COMMIT_OFFSETS payload holds exactly these offsets. */
function sameOffsets(payload: unknown, offsets: readonly PartitionOffset[]): boolean {
  const topics = (payload as { topics?: Array<{ topic: string; partitions: Array<{ partition: number; offset: unknown }> }> }).topics ?? [];
  const committed = new Map<string, string>();
  for (const t of topics) for (const p of t.partitions) committed.set(`${t.topic}-${p.partition}`, String(p.offset));
  return offsets.every((o) => committed.get(`${o.topic}-${o.partition}`) === o.offset);
}

/** The offset a kafkajs batch's fetch began at (kafkajs keeps it on the batch; its types leave it out). */
function fetchedOffset(batch: Batch): string {
  return (batch as Batch & { fetchedOffset: string }).fetchedOffset;
}

function after(offset: string): string {
  return (BigInt(offset) + 1n).toString();
}

/** Why a partition's fetches are paused: the mapping's buffer is full, its start is being read, a refused fetch is being looked into. */
type Hold = 'buffer' | 'start' | 'refused';

/**
 * Joins the group and starts feeding the mapping. Resolves once the consumer has joined
 * its group and knows where the group stands, so records produced after that are seen
 * even with LATEST.
 */
export async function startKafkaEventSource(params: KafkaSourceParams): Promise<RunningEventSource> {
  if (params.startingPosition === 'AT_TIMESTAMP') await applyStartingTimestamp(params);
  const source = new KafkaEventSource(params);
  await source.start();
  return { groupId: params.groupId, mapping: source.mapping, stop: () => source.stop() };
}

class KafkaEventSource {
  readonly mapping: EventSourceMapping;
  readonly #params: KafkaSourceParams;
  readonly #name: string;
  readonly #log: EventSourceLog;
  readonly #positions: GroupPositions;
  #consumer: Consumer | undefined;
  #memberId: string | undefined;
  /** Between a rebalance (or crash) and the next join: commits would belong to an old generation. */
  #joined = false;
  /** GROUP_JOIN events so far: a read of the group's positions applies only if no join came after it. */
  #joins = 0;
  #stopping = false;
  #restarts = 0;
  /** Waits under way (backoffs), each with what ends it: stop() ends them all. */
  readonly #waits = new Map<NodeJS.Timeout, () => void>();
  #firstJoin: { resolve: () => void; reject: (e: Error) => void } | undefined;
  #crashedWith: string | undefined;
  /** Per partition, why its fetches are paused (paused while there is a reason). */
  readonly #holds = new Map<number, Set<Hold>>();

  constructor(params: KafkaSourceParams) {
    this.#params = params;
    this.#name = params.settings.functionName;
    this.#log = params.log;
    this.#positions =
      params.positions ??
      groupPositions({
        kafka: params.kafka,
        topic: params.topic,
        groupId: params.groupId,
        startingPosition: params.startingPosition,
        startingPositionTimestamp: params.startingPositionTimestamp,
        timeoutMs: params.positionTimeoutMs ?? 30_000,
      });
    this.mapping = new EventSourceMapping(params.settings, {
      invoke: (event) => params.invoke(event),
      ...(params.sendToDestination ? { sendToDestination: params.sendToDestination } : {}),
      commit: (offsets) => this.#commit(offsets),
      pause: (tp: TopicPartition) => this.#hold(tp.partition, 'buffer'),
      resume: (tp: TopicPartition) => this.#release(tp.partition, 'buffer'),
      log: params.log,
    });
  }

  /** Opens the consumer and waits (bounded) until it has joined and knows where the group stands. */
  async start(): Promise<void> {
    const joinedOnce = new Promise<void>((resolve, reject) => (this.#firstJoin = { resolve, reject }));
    const joinTimeoutMs = this.#params.joinTimeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      await this.#open();
      await Promise.race([
        joinedOnce,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`consumer ${this.#params.groupId} did not join its group within ${joinTimeoutMs / 1000} s`)),
            joinTimeoutMs,
          );
        }),
      ]);
    } catch (error) {
      await this.stop();
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops the mapping (the invocations in flight finish and are committed), then leaves the group. */
  async stop(): Promise<void> {
    this.#stopping = true;
    for (const [timer, end] of this.#waits) {
      clearTimeout(timer);
      end();
    }
    this.#waits.clear();
    await this.mapping.stop();
    await this.#consumer?.disconnect();
  }

  async #commit(offsets: PartitionOffset[]): Promise<void> {
    const current = this.#consumer;
    if (!current || !this.#joined) throw new Error('not committed: the consumer is not a member of its group right now');
    let performed = false;
    const remove = current.on(current.events.COMMIT_OFFSETS, ({ payload }) => {
      if (sameOffsets(payload, offsets)) performed = true;
    });
    try {
      await current.commitOffsets(offsets);
    } finally {
      remove();
    }
    if (!performed) throw new Error('not committed: the kafkajs consumer is not running');
  }

  // --- the consumer -------------------------------------------------------------------

  async #open(): Promise<Consumer> {
    const { kafka, groupId, topic, startingPosition } = this.#params;
    const c = kafka.consumer({
      groupId,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: this.#params.maxWaitTimeInMs ?? 50,
      sessionTimeout: 30_000,
      heartbeatInterval: 3_000,
    });
    this.#consumer = c;
    this.#wire(c);
    await c.connect();
    await c.subscribe({ topics: [topic], fromBeginning: startingPosition !== 'LATEST' });
    await c.run({
      autoCommit: false,
      partitionsConsumedConcurrently: 32,
      // kafkajs would resolve every batch's last offset, pushed or not: its position must move only past what the mapping took.
      eachBatchAutoResolve: false,
      eachBatch: async (payload: EachBatchPayload) => {
        this.#onBatch(c, payload);
        await Promise.resolve();
      },
    });
    return c;
  }

  #wire(c: Consumer): void {
    c.on(c.events.GROUP_JOIN, ({ payload }) => this.#onJoin(c, payload));
    c.on(c.events.REBALANCING, () => {
      if (c === this.#consumer) this.#joined = false;
    });
    c.on(c.events.END_BATCH_PROCESS, ({ payload }) => {
      // A batch with nothing to deliver (transaction markers, aborted or compacted records): kafkajs moved past it itself.
      if (c !== this.#consumer || payload.batchSize > 0) return;
      const tp = { topic: payload.topic, partition: payload.partition };
      const from = (payload.firstOffset as string | null) ?? payload.lastOffset;
      if (!this.mapping.handOverNothing(tp, from, after(payload.lastOffset))) this.#refused(c, tp, from);
    });
    c.on(c.events.CRASH, ({ payload }) => this.#onCrash(c, payload));
  }

  #onJoin(c: Consumer, payload: { memberId: string; memberAssignment: Record<string, number[]> }): void {
    if (c !== this.#consumer) return;
    const { topic, groupId } = this.#params;
    this.#joins += 1;
    if (this.#memberId !== undefined && payload.memberId !== this.#memberId) this.mapping.assign([]); // a new member: nothing carries over
    this.#memberId = payload.memberId;
    this.#joined = true;
    this.#restarts = 0;
    this.#crashedWith = undefined;
    const assignment = payload.memberAssignment[topic] ?? [];
    this.#log.debug(`${this.#name}: joined ${groupId}`, { topic, partitions: assignment });
    for (const p of [...this.#holds.keys()]) if (!assignment.includes(p)) this.#releaseAll(p);
    const waiting = this.mapping.assign(assignment.map((partition) => ({ topic, partition })));
    if (waiting.length === 0) return this.#joinedOnce();
    for (const tp of waiting) this.#hold(tp.partition, 'start');
    void this.#locate(c, waiting, this.#joins);
  }

  #joinedOnce(): void {
    this.#firstJoin?.resolve();
    this.#firstJoin = undefined;
  }

  /** Reads where the group stands on partitions the mapping got afresh, tells the mapping, and lets them fetch from there. */
  async #locate(c: Consumer, partitions: TopicPartition[], join: number): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const offsets = await this.#positions.committed(partitions.map((tp) => tp.partition));
        if (c !== this.#consumer || join !== this.#joins || this.#stopping) return;
        for (const tp of partitions) {
          const offset = offsets.get(tp.partition)!;
          this.mapping.startAt(tp, offset);
          this.#seek(c, tp, offset);
          this.#release(tp.partition, 'start');
        }
        return this.#joinedOnce();
      } catch (error) {
        if (c !== this.#consumer || join !== this.#joins || this.#stopping) return;
        const delay = this.#backoff(attempt);
        // Once as a warning; the retries that follow (a broker still down) at debug level.
        const extra = { error: error instanceof Error ? error.message : String(error), attempt };
        const message = `${this.#name}: could not read where ${this.#params.groupId} stands; trying again in ${delay} ms`;
        if (attempt === 1) this.#log.warn(message, extra);
        else this.#log.debug(message, extra);
        await this.#sleep(delay);
        if (this.#stopping) return;
      }
    }
  }

  #onBatch(c: Consumer, payload: EachBatchPayload): void {
    // Not resolved: kafkajs fetches these records again.
    if (c !== this.#consumer || !payload.isRunning() || payload.isStale()) return;
    const { batch } = payload;
    const tp = { topic: batch.topic, partition: batch.partition };
    const from = fetchedOffset(batch);
    const last = batch.lastOffset();
    const records = batch.messages.map((m) => toConsumedRecord(batch.topic, batch.partition, m));
    if (this.mapping.push(records, { from, to: after(last) })) payload.resolveOffset(last);
    else this.#refused(c, tp, from);
  }

  /**
   * The mapping refused a fetch that began at `from`: its start is being read (the
   * partition is held, nothing to do), or the consumer's position is past the offset it
   * expects. Then the partition is held, the broker asked whether it still holds the
   * records between (what retention deleted is skipped), and the consumer sought back.
   */
  #refused(c: Consumer, tp: TopicPartition, from: string): void {
    const expected = this.mapping.expectedOffset(tp);
    if (expected === undefined || this.#holds.get(tp.partition)?.has('refused')) return;
    this.#log.warn(
      `${this.#name}: ${tp.topic}-${tp.partition}: a fetch from offset ${from} was not taken: offsets from ${expected} were never handed over; fetching again from ${expected}`,
    );
    this.#hold(tp.partition, 'refused');
    void this.#seekBack(c, tp, from).finally(() => this.#release(tp.partition, 'refused'));
  }

  async #seekBack(c: Consumer, tp: TopicPartition, from: string): Promise<void> {
    const expected = this.mapping.expectedOffset(tp);
    if (expected !== undefined && BigInt(from) > BigInt(expected)) {
      try {
        const logStart = (await this.#positions.logStart([tp.partition])).get(tp.partition);
        if (logStart !== undefined) this.mapping.skipDeleted(tp, logStart);
      } catch (error) {
        this.#log.warn(`${this.#name}: could not read the first offset ${tp.topic}-${tp.partition} still holds`, {
          error: error instanceof Error ? error.message : String(error),
        });
      }
    }
    const now = this.mapping.expectedOffset(tp);
    if (c === this.#consumer && now !== undefined) this.#seek(c, tp, now);
  }

  // --- holds (paused fetches) -----------------------------------------------------------

  #hold(partition: number, why: Hold): void {
    const holds = this.#holds.get(partition) ?? new Set<Hold>();
    this.#holds.set(partition, holds);
    if (holds.has(why)) return;
    holds.add(why);
    if (holds.size === 1) this.#call((c) => c.pause([{ topic: this.#params.topic, partitions: [partition] }]));
  }

  #release(partition: number, why: Hold): void {
    const holds = this.#holds.get(partition);
    if (!holds?.delete(why)) return;
    if (holds.size > 0) return;
    this.#holds.delete(partition);
    this.#call((c) => c.resume([{ topic: this.#params.topic, partitions: [partition] }]));
  }

  #releaseAll(partition: number): void {
    for (const why of [...(this.#holds.get(partition) ?? [])]) this.#release(partition, why);
  }

  #seek(c: Consumer, tp: TopicPartition, offset: string): void {
    if (c === this.#consumer) this.#call((current) => current.seek({ topic: tp.topic, partition: tp.partition, offset }));
  }

  /** A call on the consumer, which throws while kafkajs has no consumer group (stopped, or crashed and not restarted yet). */
  #call(act: (c: Consumer) => void): void {
    const c = this.#consumer;
    if (!c) return;
    try {
      act(c);
    } catch (error) {
      this.#log.debug(`${this.#name}: consumer call skipped`, { error: error instanceof Error ? error.message : String(error) });
    }
  }

  // --- crashes and restarts -----------------------------------------------------------

  #onCrash(c: Consumer, payload: { error: Error; restart: boolean }): void {
    if (c !== this.#consumer || this.#stopping) return;
    this.#joined = false;
    this.mapping.assign([]);
    // kafkajs' next consumer group (or the next consumer) starts with nothing paused.
    this.#holds.clear();
    const message = payload.error.message;
    if (payload.restart) {
      // kafkajs restarts the consumer itself; its own log line says why (once, as a warning when retriable).
      if (!isRetriableStartError(message) && this.#crashedWith !== message) {
        this.#log.warn(`${this.#name}: consumer of ${this.#params.groupId} crashed; kafkajs restarts it`, { error: message });
      }
      this.#crashedWith = message;
      return;
    }
    void this.#restart(payload.error);
  }

  async #restart(error: Error): Promise<void> {
    const old = this.#consumer;
    this.#consumer = undefined;
    await old?.disconnect().catch(() => undefined);
    if (this.#stopping) return;
    this.#restarts += 1;
    const { groupId } = this.#params;
    if (this.#restarts > (this.#params.maxRestarts ?? 5))
      return this.#giveUp(
        new Error(`the consumer of ${groupId} crashed ${this.#restarts} times in a row without joining its group: ${error.message}`),
      );
    const delay = (this.#params.restartBackoffMs ?? 1_000) * 2 ** (this.#restarts - 1);
    this.#log.warn(`${this.#name}: consumer of ${groupId} crashed and kafkajs does not restart it; starting a new one in ${delay} ms`, {
      error: error.message,
      attempt: this.#restarts,
    });
    await this.#sleep(delay);
    if (this.#stopping) return;
    try {
      await this.#open();
    } catch (e) {
      await this.#restart(e instanceof Error ? e : new Error(String(e)));
    }
  }

  async #giveUp(fatal: Error): Promise<void> {
    this.#log.error(`${this.#name}: event source mapping stopped: ${fatal.message}`);
    this.#firstJoin?.reject(fatal);
    this.#firstJoin = undefined;
    this.#stopping = true;
    await this.mapping.stop();
    this.#params.onFatal?.(fatal);
  }

  // --- helpers --------------------------------------------------------------------------

  #backoff(attempt: number): number {
    const { initialBackoffMs, maxBackoffMs } = this.#params.settings;
    return Math.min(maxBackoffMs, initialBackoffMs * 2 ** Math.min(attempt - 1, 16));
  }

  /** A wait that stop() ends at once (the waiter then sees that it is stopping). */
  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#waits.delete(timer);
        resolve();
      }, ms);
      this.#waits.set(timer, resolve);
    });
  }
}
