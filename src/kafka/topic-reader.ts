/**
 * Reading a topic from its beginning to the end it has when the read starts, with a
 * throwaway consumer group: what an operator tool needs to look at a whole topic
 * (`npm run dlq`, infra/dlq/dead-letters.ts). No function of the service reads this way;
 * they are given their records by the event source.
 */
import { randomUUID } from 'node:crypto';
import type { Admin, Consumer, IHeaders, Kafka } from 'kafkajs';
import { withTimeout } from '../timeout';
import { TopicReadError } from './errors';
import type { ConsumedRecord } from './records';

function toConsumed(
  topic: string,
  partition: number,
  message: { offset: string; timestamp: string; key: Buffer | null; value: Buffer | null; headers?: IHeaders },
): ConsumedRecord {
  const headers: ConsumedRecord['headers'] = [];
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    for (const v of Array.isArray(value) ? value : [value]) {
      if (v !== undefined) headers.push({ name, value: Buffer.isBuffer(v) ? v : Buffer.from(v) });
    }
  }
  return {
    topic,
    partition,
    offset: message.offset,
    timestamp: Number(message.timestamp),
    timestampType: 'CREATE_TIME',
    key: message.key,
    value: message.value,
    headers,
  };
}

/** The end offset of every partition of `topic` that holds records, and how many offsets they span. */
async function topicEnds(admin: Admin, topic: string): Promise<{ ends: Map<number, bigint>; total: number }> {
  const existing = await admin.listTopics();
  if (!existing.includes(topic)) throw new TopicReadError(`the topic ${topic} does not exist`, 'missing');
  const ends = new Map<number, bigint>();
  let total = 0n;
  for (const p of await admin.fetchTopicOffsets(topic)) {
    if (BigInt(p.high) > BigInt(p.low)) ends.set(p.partition, BigInt(p.high));
    total += BigInt(p.high) - BigInt(p.low);
  }
  return { ends, total: Number(total) };
}

/** Runs `consumer` over the records before `ends`, at most `maxRecords` of them; resolves with how many it read. */
function consumeUntil(params: {
  consumer: Consumer;
  topic: string;
  ends: Map<number, bigint>;
  maxRecords: number;
  onRecord: (record: ConsumedRecord) => void;
}): { done: Promise<void>; read: () => number } {
  const { consumer, topic, ends, maxRecords, onRecord } = params;
  let count = 0;
  const done = new Promise<void>((resolve, reject) => {
    // A crash kafkajs will not restart from (a batch refused by src/kafka/gzip.ts, say) is the answer.
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (!payload.restart) reject(payload.error);
    });
    consumer
      .run({
        autoCommit: false,
        eachMessage: ({ partition, message }) => {
          const end = ends.get(partition);
          if (end === undefined || count >= maxRecords) return Promise.resolve();
          if (BigInt(message.offset) < end) {
            count += 1;
            try {
              onRecord(toConsumed(topic, partition, message));
            } catch (error) {
              // Stop reading: the caller's refusal is the answer, not a reason to fetch again.
              reject(error instanceof Error ? error : new Error(String(error)));
              return Promise.resolve();
            }
          }
          if (BigInt(message.offset) + 1n >= end) ends.delete(partition);
          if (ends.size === 0 || count >= maxRecords) resolve();
          return Promise.resolve();
        },
      })
      .catch(reject);
  });
  return { done, read: () => count };
}

/**
 * Reads the records of `topic` that exist when it starts (up to each partition's end
 * offset then), in offset order per partition, at most `maxRecords` of them, with a
 * throwaway consumer group (`groupPrefix`-<uuid>) that is deleted afterwards. Rejects with
 * TopicReadError when the topic does not exist or the read cannot finish within
 * `timeoutMs`. `unread`: the offsets left unread because of `maxRecords`.
 */
export async function readTopic(params: {
  kafka: Kafka;
  topic: string;
  timeoutMs: number;
  maxRecords?: number;
  onRecord: (record: ConsumedRecord) => void;
  groupPrefix: string;
}): Promise<{ records: number; unread: number }> {
  const { kafka, topic, timeoutMs, onRecord } = params;
  const deadline = Date.now() + timeoutMs;
  const admin: Admin = kafka.admin();
  await admin.connect();
  const groupId = `${params.groupPrefix}-${randomUUID()}`;
  let joined = false;
  try {
    const { ends, total } = await topicEnds(admin, topic);
    if (ends.size === 0) return { records: 0, unread: 0 };
    const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 200, allowAutoTopicCreation: false });
    await consumer.connect();
    joined = true;
    try {
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      const reading = consumeUntil({ consumer, topic, ends, maxRecords: params.maxRecords ?? Number.MAX_SAFE_INTEGER, onRecord });
      const tooLate = () =>
        new TopicReadError(`read ${reading.read()} record(s) of ${topic} in ${timeoutMs} ms and not to the end`, 'timeout');
      await withTimeout(reading.done, Math.max(0, deadline - Date.now()), tooLate);
      return { records: reading.read(), unread: Math.max(0, total - reading.read()) };
    } finally {
      await consumer.disconnect();
    }
  } finally {
    if (joined) await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect();
  }
}
