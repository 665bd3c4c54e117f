/**
 * The kafkajs side of a local event source mapping: one consumer in the function's
 * consumer group reads the topic and feeds an EventSourceMapping; commits go back
 * through the same consumer. Nothing is committed automatically.
 */
import type { Consumer, Kafka, KafkaMessage } from 'kafkajs';
import type { ConsumedRecord } from '../records';
import { EventSourceMapping } from './mapping';
import type { EventSourceLog, InvokeResult, MappingSettings } from './mapping';
import type { KafkaEvent } from '../msk-event';

export type StartingPosition = 'TRIM_HORIZON' | 'LATEST' | 'AT_TIMESTAMP';

export interface KafkaEventSourceParams {
  kafka: Kafka;
  settings: MappingSettings;
  invoke(event: KafkaEvent): Promise<InvokeResult>;
  topic: string;
  groupId: string;
  startingPosition: StartingPosition;
  /** Seconds since the epoch, for AT_TIMESTAMP. */
  startingPositionTimestamp?: number | undefined;
  log: EventSourceLog;
  /** Longest a fetch waits for data at the broker; bounds how long a stop waits too. */
  maxWaitTimeInMs?: number;
}

export interface RunningEventSource {
  readonly groupId: string;
  readonly mapping: EventSourceMapping;
  /** Stops the mapping (the invocation in flight finishes and is committed), then leaves the group. */
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
  for (const [name, value] of Object.entries(message.headers ?? {})) {
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
async function applyStartingTimestamp(params: KafkaEventSourceParams): Promise<void> {
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

/**
 * Joins the group and starts feeding the mapping. Resolves once the consumer has joined
 * its group, so records produced after that are seen even with LATEST.
 */
export async function startKafkaEventSource(params: KafkaEventSourceParams): Promise<RunningEventSource> {
  const { kafka, topic, groupId, startingPosition, log } = params;
  if (startingPosition === 'AT_TIMESTAMP') await applyStartingTimestamp(params);
  const consumer: Consumer = kafka.consumer({
    groupId,
    allowAutoTopicCreation: false,
    maxWaitTimeInMs: params.maxWaitTimeInMs ?? 250,
    sessionTimeout: 30_000,
    heartbeatInterval: 3_000,
  });
  const mapping = new EventSourceMapping(params.settings, {
    invoke: (event) => params.invoke(event),
    commit: (offsets) => consumer.commitOffsets(offsets),
    log,
  });
  const joined = new Promise<void>((resolve) => {
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      const assignment = payload.memberAssignment[topic] ?? [];
      log.debug(`${mapping.settings.functionName}: joined ${groupId}`, { topic, partitions: assignment });
      mapping.assigned(assignment.map((partition) => ({ topic, partition })));
      resolve();
    });
  });
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    log.error(`${mapping.settings.functionName}: consumer ${groupId} crashed`, {
      error: payload.error.message,
      restart: payload.restart,
    });
  });

  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: startingPosition !== 'LATEST' });
  mapping.start();
  await consumer.run({
    autoCommit: false,
    partitionsConsumedConcurrently: 32,
    eachBatchAutoResolve: true,
    eachBatch: async (payload) => {
      const { batch } = payload;
      if (!payload.isRunning() || payload.isStale()) return;
      const records = batch.messages.map((m) => toConsumedRecord(batch.topic, batch.partition, m));
      // While the mapping makes us wait for room, keep the group membership alive.
      const beat = setInterval(() => {
        payload.heartbeat().catch(() => undefined);
      }, 3_000);
      try {
        await mapping.push(records);
      } finally {
        clearInterval(beat);
      }
    },
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      joined,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`consumer ${groupId} did not join its group within 30 s`)), 30_000);
      }),
    ]);
  } catch (error) {
    await mapping.stop();
    await consumer.disconnect();
    throw error;
  } finally {
    clearTimeout(timer);
  }

  return {
    groupId,
    mapping,
    async stop() {
      await mapping.stop();
      await consumer.disconnect();
    },
  };
}

