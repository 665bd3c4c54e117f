/**
 * What test/integration/package.test.ts needs beside the packaged template: a Kafka client
 * that records every cluster call the service's code makes and turns it into the IAM
 * actions MSK's IAM access control requires for it, following AWS's correspondence between
 * Kafka requests and `kafka-cluster:*` actions
 * (docs.aws.amazon.com/msk/latest/developerguide/kafka-actions.html): Metadata and
 * ListOffsets need DescribeTopic on each topic, OffsetFetch DescribeGroup on the group (and
 * DescribeTopic), CreateTopics CreateTopic, CreatePartitions AlterTopic; every call needs
 * Connect on the cluster.
 */
import type { Kafka } from 'kafkajs';

/** One IAM action on one resource: `kafka-cluster:DescribeGroup` on `group:<name>`. */
export interface KafkaPermission {
  action: string;
  /** `cluster`, `topic:<name>` or `group:<name>`. */
  resource: string;
}

/**
 * A kafkajs client whose admin answers as a cluster holding `topics` (each with
 * `partitions` partitions) and records what each call needs.
 */
export function recordingKafka(topics: Record<string, number>): { kafka: Kafka; needed: KafkaPermission[] } {
  const needed: KafkaPermission[] = [];
  const need = (action: string, resource: string) => needed.push({ action: `kafka-cluster:${action}`, resource });
  const topicsNeed = (action: string, names: readonly string[]) => names.forEach((t) => need(action, `topic:${t}`));
  const admin = {
    connect: () => {
      need('Connect', 'cluster');
      return Promise.resolve();
    },
    disconnect: () => Promise.resolve(),
    describeCluster: () => Promise.resolve({ brokers: [{ nodeId: 1, host: 'b-1.example', port: 9098 }], controller: 1, clusterId: 'c' }),
    // Metadata for every topic: MSK lists only the topics the caller may describe, so it cannot be refused.
    listTopics: () => Promise.resolve(Object.keys(topics)),
    fetchTopicMetadata: ({ topics: names }: { topics: string[] }) => {
      topicsNeed('DescribeTopic', names);
      return Promise.resolve({ topics: names.map((name) => ({ name, partitions: partitionsOf(name).map((partitionId) => ({ partitionId, leader: 1, replicas: [1], isr: [1] })) })) });
    },
    fetchTopicOffsets: (topic: string) => {
      topicsNeed('DescribeTopic', [topic]);
      return Promise.resolve(partitionsOf(topic).map((partition) => ({ partition, offset: '10', high: '10', low: '0' })));
    },
    fetchOffsets: ({ groupId, topics: names }: { groupId: string; topics: string[] }) => {
      need('DescribeGroup', `group:${groupId}`);
      topicsNeed('DescribeTopic', names);
      return Promise.resolve(names.map((topic) => ({ topic, partitions: partitionsOf(topic).map((partition) => ({ partition, offset: '4' })) })));
    },
    createTopics: ({ topics: wanted }: { topics: Array<{ topic: string; numPartitions: number }> }) => {
      topicsNeed('CreateTopic', wanted.map((t) => t.topic));
      for (const t of wanted) topics[t.topic] = t.numPartitions;
      return Promise.resolve(true);
    },
    createPartitions: ({ topicPartitions }: { topicPartitions: Array<{ topic: string; count: number }> }) => {
      topicsNeed('AlterTopic', topicPartitions.map((t) => t.topic));
      for (const t of topicPartitions) topics[t.topic] = t.count;
      return Promise.resolve(true);
    },
  };
  function partitionsOf(topic: string): number[] {
    return [...Array<number>(topics[topic] ?? 0).keys()];
  }
  // Only the admin client is used by the code under test; the cast says so.
  const kafka = { admin: () => admin } as unknown as Kafka;
  return { kafka, needed };
}
