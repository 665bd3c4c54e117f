/** Test helpers for the real local broker: unique names, a throwaway topic, a reader. */
import type { Admin, Consumer, IHeaders, Kafka } from 'kafkajs';
import { loadConfig } from '../../src/config';
import { isRetriable } from '../../src/errors';
import { createKafka, ensureTopics } from '../../src/kafka';
import { uniqueName } from './names';
import { waitFor } from './wait-for';

export const testConfig = loadConfig({ ...process.env, KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? '127.0.0.1:9092' });

export { uniqueName } from './names';

export function testKafka(clientId = 'sts-test'): Kafka {
  return createKafka({ kafka: testConfig.kafka, brokers: testConfig.kafka.brokers, clientId });
}

/**
 * Creates `topic` (nothing if it exists) as the service does (ensureTopics): a broker that has
 * just created a topic may not know it yet when kafkajs reads the metadata right after, a
 * refusal ensureTopics reports as retriable; then it is asked again, for at most 30 s.
 */
export async function createTopic(admin: Admin, topic: string, partitions = 3): Promise<void> {
  const ensure = () => ensureTopics({ admin, topics: [topic], partitions, replicationFactor: 1 });
  await waitFor(
    () =>
      ensure().then(
        () => true,
        (error: unknown) => {
          if (!isRetriable(error)) throw error;
          return undefined;
        },
      ),
    { timeoutMs: 30_000, intervalMs: 200, what: `topic ${topic} to be created` },
  );
}

export interface ReadRecord {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
  timestamp: string;
}

function headersToStrings(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value === undefined) continue;
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined) out[name] = first.toString();
  }
  return out;
}

/**
 * A reader with its own consumer group that collects everything on `topics` from the
 * beginning; `waitForRecords` polls until a predicate matches or times out.
 */
export async function startReader(
  kafka: Kafka,
  topics: string[],
): Promise<{
  records: ReadRecord[];
  waitForRecords: (match: (r: ReadRecord) => boolean, count?: number, timeoutMs?: number) => Promise<ReadRecord[]>;
  stop: () => Promise<void>;
}> {
  const consumer: Consumer = kafka.consumer({ groupId: uniqueName('reader'), maxWaitTimeInMs: 100 });
  const records: ReadRecord[] = [];
  await consumer.connect();
  await consumer.subscribe({ topics, fromBeginning: true });
  const joined = new Promise<void>((resolve) => {
    consumer.on(consumer.events.GROUP_JOIN, () => resolve());
  });
  await consumer.run({
    eachMessage: ({ topic, partition, message }) => {
      records.push({
        topic,
        partition,
        offset: message.offset,
        key: message.key ? message.key.toString() : null,
        value: message.value,
        headers: headersToStrings(message.headers),
        timestamp: message.timestamp,
      });
      return Promise.resolve();
    },
  });
  await Promise.race([
    joined,
    new Promise((_, reject) => setTimeout(() => reject(new Error('reader did not join its group in 15 s')), 15_000)),
  ]);
  return {
    records,
    waitForRecords: (match, count = 1, timeoutMs = 10_000) =>
      waitFor(
        () => {
          const found = records.filter(match);
          return found.length >= count ? found : undefined;
        },
        { timeoutMs, what: `${count} matching record(s) on ${topics.join(', ')}` },
      ),
    stop: () => consumer.disconnect(),
  };
}

/** The four service topics with unique names (requests, events, commands, dead letters). */
export function uniqueServiceTopics(prefix: string): { requests: string; events: string; commands: string; dlq: string } {
  return {
    requests: uniqueName(`${prefix}-requests`),
    events: uniqueName(`${prefix}-events`),
    commands: uniqueName(`${prefix}-commands`),
    dlq: uniqueName(`${prefix}-dlq`),
  };
}

/** The environment variables that point the service at those topics. */
export function topicEnv(topics: { requests: string; events: string; commands: string; dlq: string }): Record<string, string> {
  return {
    KAFKA_TOPIC_REQUESTS: topics.requests,
    KAFKA_TOPIC_EVENTS: topics.events,
    KAFKA_TOPIC_COMMANDS: topics.commands,
    KAFKA_TOPIC_DLQ: topics.dlq,
  };
}
