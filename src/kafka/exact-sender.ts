/**
 * Sending records exactly as given: to the partition named, with their key, value and
 * headers in order, a repeated header name kept, each send waiting for acks=all. What an
 * operator tool needs to put a record back where it was read (`npm run dlq -- replay`,
 * infra/dlq/replay.ts); the service's functions send through the container producer
 * (./producer/), whose records the partitioner places.
 */
import type { IHeaders, Kafka } from 'kafkajs';
import type { RecordAck } from './records';

/** A record to send as it is. Without `partition`, the partitioner chooses (by key). */
export interface ExactRecord {
  topic: string;
  partition?: number;
  key: Buffer | string | null;
  value: Buffer | string | null;
  /** In order; a name may repeat. */
  headers: Array<{ name: string; value: Buffer | string }>;
}

export interface ExactSender {
  /** Resolves with where the broker put the record, once every in-sync replica has it. */
  send(record: ExactRecord): Promise<RecordAck>;
  disconnect(): Promise<void>;
}

/** kafkajs headers from an ordered list; values of a repeated name are kept, grouped under it. */
export function producerHeaders(headers: ExactRecord['headers']): IHeaders {
  const out: Record<string, Array<Buffer | string>> = {};
  for (const { name, value } of headers) (out[name] ??= []).push(value);
  return Object.fromEntries(Object.entries(out).map(([name, values]) => [name, values.length === 1 ? values[0]! : values]));
}

/** An idempotent producer of its own, connected; each send is bounded by `timeoutMs`. */
export async function connectExactSender(kafka: Kafka, timeoutMs: number): Promise<ExactSender> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await producer.connect();
  return {
    async send(record) {
      const [meta] = await producer.send({
        topic: record.topic,
        acks: -1,
        timeout: timeoutMs,
        messages: [
          {
            ...(record.partition === undefined ? {} : { partition: record.partition }),
            key: record.key,
            value: record.value,
            headers: producerHeaders(record.headers),
          },
        ],
      });
      if (!meta) throw new Error(`${record.topic} returned no acknowledgement`);
      return { topic: meta.topicName, partition: meta.partition, offset: meta.baseOffset ?? '' };
    },
    disconnect: () => producer.disconnect(),
  };
}
