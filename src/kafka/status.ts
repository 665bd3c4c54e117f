/**
 * What GET /kafka/status reports about the cluster: whether the brokers answer, and the
 * service's topics with their partition counts. Every admin call is bounded.
 */
import type { Kafka } from 'kafkajs';

export interface ClusterStatus {
  reachable: boolean;
  brokers: string[];
  topics: Array<{ name: string; partitions: number | null }>;
  error?: string;
}

function bounded<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    }),
  ]).finally(() => clearTimeout(timer));
}

export async function describeCluster(params: {
  kafka: Kafka;
  topics: string[];
  timeoutMs: number;
}): Promise<ClusterStatus> {
  const { kafka, topics, timeoutMs } = params;
  const admin = kafka.admin({ retry: { retries: 0 } });
  try {
    await bounded(admin.connect(), timeoutMs);
    const cluster = await bounded(admin.describeCluster(), timeoutMs);
    const existing = new Set(await bounded(admin.listTopics(), timeoutMs));
    const present = topics.filter((t) => existing.has(t));
    const metadata = present.length > 0 ? await bounded(admin.fetchTopicMetadata({ topics: present }), timeoutMs) : { topics: [] };
    const partitions = new Map(metadata.topics.map((t) => [t.name, t.partitions.length]));
    return {
      reachable: true,
      brokers: cluster.brokers.map((b) => `${b.host}:${b.port}`),
      topics: topics.map((name) => ({ name, partitions: partitions.get(name) ?? null })),
    };
  } catch (error) {
    return {
      reachable: false,
      brokers: [],
      topics: topics.map((name) => ({ name, partitions: null })),
      error: error instanceof Error ? error.message : String(error),
    };
  } finally {
    void bounded(admin.disconnect(), timeoutMs).catch(() => undefined);
  }
}
