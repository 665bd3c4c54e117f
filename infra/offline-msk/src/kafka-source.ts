/**
 * The kafkajs side of an event source mapping: one consumer in the function's consumer
 * group reads the topic and feeds an EventSourceMapping, which never makes it wait:
 *
 * - every GROUP_JOIN hands the mapping the new assignment (a new member id, or a crash,
 *   first revokes everything); eachBatch pushes the fetched records and returns at once,
 *   so heartbeats and rebalances are never held up by a slow or failing function;
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
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import type { ConsumedRecord, TopicPartition } from './records';
import { EventSourceMapping } from './mapping';
import type { EventSourceLog, MappingDeps, MappingSettings, PartitionOffset } from './mapping';
import { isRetriableStartError } from './log';

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

/**
 * Joins the group and starts feeding the mapping. Resolves once the consumer has joined
 * its group, so records produced after that are seen even with LATEST.
 */
export async function startKafkaEventSource(params: KafkaSourceParams): Promise<RunningEventSource> {
  const { kafka, topic, groupId, startingPosition, log } = params;
  const name = params.settings.functionName;
  const maxRestarts = params.maxRestarts ?? 5;
  const restartBackoffMs = params.restartBackoffMs ?? 1_000;
  if (startingPosition === 'AT_TIMESTAMP') await applyStartingTimestamp(params);

  let consumer: Consumer | undefined;
  let memberId: string | undefined;
  /** Between a rebalance (or crash) and the next join: commits would belong to an old generation. */
  let joined = false;
  let stopping = false;
  let restarts = 0;
  let restartTimer: NodeJS.Timeout | undefined;
  let firstJoin: { resolve: () => void; reject: (e: Error) => void } | undefined;
  let crashedWith: string | undefined;

  const mapping = new EventSourceMapping(params.settings, {
    invoke: (event) => params.invoke(event),
    ...(params.sendToDestination ? { sendToDestination: params.sendToDestination } : {}),
    commit: (offsets) => commit(offsets),
    pause: (tp: TopicPartition) => consumer?.pause([{ topic: tp.topic, partitions: [tp.partition] }]),
    resume: (tp: TopicPartition) => consumer?.resume([{ topic: tp.topic, partitions: [tp.partition] }]),
    log,
  });

  async function commit(offsets: PartitionOffset[]): Promise<void> {
    const current = consumer;
    if (!current || !joined) throw new Error('not committed: the consumer is not a member of its group right now');
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

  function wire(c: Consumer): void {
    c.on(c.events.GROUP_JOIN, ({ payload }) => {
      if (c !== consumer) return;
      if (memberId !== undefined && payload.memberId !== memberId) mapping.assign([]); // a new member: nothing carries over
      memberId = payload.memberId;
      joined = true;
      restarts = 0;
      crashedWith = undefined;
      const assignment = payload.memberAssignment[topic] ?? [];
      log.debug(`${name}: joined ${groupId}`, { topic, partitions: assignment });
      mapping.assign(assignment.map((partition) => ({ topic, partition })));
      firstJoin?.resolve();
      firstJoin = undefined;
    });
    c.on(c.events.REBALANCING, () => {
      if (c === consumer) joined = false;
    });
    c.on(c.events.CRASH, ({ payload }) => {
      if (c !== consumer || stopping) return;
      joined = false;
      mapping.assign([]);
      const message = payload.error.message;
      if (payload.restart) {
        // kafkajs restarts the consumer itself; its own log line says why (once, as a warning when retriable).
        if (!isRetriableStartError(message) && crashedWith !== message) {
          log.warn(`${name}: consumer of ${groupId} crashed; kafkajs restarts it`, { error: message });
        }
        crashedWith = message;
        return;
      }
      void restart(payload.error);
    });
  }

  async function open(): Promise<Consumer> {
    const c = kafka.consumer({
      groupId,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: params.maxWaitTimeInMs ?? 50,
      sessionTimeout: 30_000,
      heartbeatInterval: 3_000,
    });
    consumer = c;
    wire(c);
    await c.connect();
    await c.subscribe({ topics: [topic], fromBeginning: startingPosition !== 'LATEST' });
    await c.run({
      autoCommit: false,
      partitionsConsumedConcurrently: 32,
      eachBatchAutoResolve: true,
      eachBatch: async (payload: EachBatchPayload) => {
        const { batch } = payload;
        if (c !== consumer || !payload.isRunning() || payload.isStale()) return;
        mapping.push(batch.messages.map((m) => toConsumedRecord(batch.topic, batch.partition, m)));
        await Promise.resolve();
      },
    });
    return c;
  }

  async function restart(error: Error): Promise<void> {
    const old = consumer;
    consumer = undefined;
    await old?.disconnect().catch(() => undefined);
    if (stopping) return;
    restarts += 1;
    if (restarts > maxRestarts) {
      const fatal = new Error(`the consumer of ${groupId} crashed ${restarts} times in a row without joining its group: ${error.message}`);
      log.error(`${name}: event source mapping stopped: ${fatal.message}`);
      firstJoin?.reject(fatal);
      firstJoin = undefined;
      stopping = true;
      await mapping.stop();
      params.onFatal?.(fatal);
      return;
    }
    const delay = restartBackoffMs * 2 ** (restarts - 1);
    log.warn(`${name}: consumer of ${groupId} crashed and kafkajs does not restart it; starting a new one in ${delay} ms`, {
      error: error.message,
      attempt: restarts,
    });
    await new Promise<void>((resolve) => (restartTimer = setTimeout(resolve, delay)));
    if (stopping) return;
    try {
      await open();
    } catch (e) {
      await restart(e instanceof Error ? e : new Error(String(e)));
    }
  }

  const stop = async (): Promise<void> => {
    stopping = true;
    clearTimeout(restartTimer);
    await mapping.stop();
    await consumer?.disconnect();
  };

  const joinedOnce = new Promise<void>((resolve, reject) => (firstJoin = { resolve, reject }));
  let timer: NodeJS.Timeout | undefined;
  try {
    await open();
    const joinTimeoutMs = params.joinTimeoutMs ?? 30_000;
    await Promise.race([
      joinedOnce,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`consumer ${groupId} did not join its group within ${joinTimeoutMs / 1000} s`)), joinTimeoutMs);
      }),
    ]);
  } catch (error) {
    await stop();
    throw error;
  } finally {
    clearTimeout(timer);
  }
  return { groupId, mapping, stop };
}
