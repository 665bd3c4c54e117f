/**
 * The offsets consumer-group lag is computed from, read through the kafkajs admin API:
 * each partition's low and high watermarks (ListOffsets) and a group's committed
 * offsets (OffsetFetch). The arithmetic lives in src/consumers/lag.ts, free of kafkajs.
 */
import type { Admin, Kafka } from 'kafkajs';
import { naming } from './permissions';

export interface PartitionOffsets {
  partition: number;
  /** The earliest offset still in the log. */
  low: bigint;
  /** The end offset (high watermark): the offset the next record will get. */
  high: bigint;
}

export interface OffsetReader {
  topicOffsets(topic: string): Promise<PartitionOffsets[]>;
  /** The group's committed offset per partition; undefined where it has committed nothing. */
  committedOffsets(groupId: string, topic: string): Promise<Map<number, bigint | undefined>>;
}

/** Runs `use` with a connected offset reader and closes the connection afterwards. */
export type WithOffsets = <T>(use: (reader: OffsetReader) => Promise<T>) => Promise<T>;

export function adminOffsetReader(admin: Pick<Admin, 'fetchTopicOffsets' | 'fetchOffsets'>): OffsetReader {
  return {
    async topicOffsets(topic) {
      const partitions = await naming([{ action: 'kafka-cluster:DescribeTopic', resource: `topic ${topic}` }], () =>
        admin.fetchTopicOffsets(topic),
      );
      return partitions.map((p) => ({ partition: p.partition, low: BigInt(p.low), high: BigInt(p.high) }));
    },
    async committedOffsets(groupId, topic) {
      const needs = [
        { action: 'kafka-cluster:DescribeGroup', resource: `group ${groupId}` },
        { action: 'kafka-cluster:DescribeTopic', resource: `topic ${topic}` },
      ];
      const answer = await naming(needs, () => admin.fetchOffsets({ groupId, topics: [topic] }));
      const committed = new Map<number, bigint | undefined>();
      for (const entry of answer) {
        if (entry.topic !== topic) continue;
        for (const p of entry.partitions) {
          // OffsetFetch answers -1 for a partition the group has never committed.
          const offset = BigInt(p.offset);
          committed.set(p.partition, offset < 0n ? undefined : offset);
        }
      }
      return committed;
    },
  };
}

/** Connects an admin client, hands its offset reader to `use`, and always disconnects. */
export async function withOffsetReader<T>(kafka: Kafka, use: (reader: OffsetReader) => Promise<T>): Promise<T> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await use(adminOffsetReader(admin));
  } finally {
    await admin.disconnect();
  }
}
