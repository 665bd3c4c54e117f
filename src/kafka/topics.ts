import type { Admin } from 'kafkajs';
import type { Topics } from '../config';

export interface EnsureTopicsResult {
  created: string[];
  existing: string[];
  replicationFactor: number;
}

/**
 * Creates the topics that do not exist yet; a no-op for those that do. The replication
 * factor is capped at the number of brokers (a one-node local broker cannot hold 2
 * replicas), and the cap is reported so the caller can say so.
 */
export async function ensureTopics(params: {
  admin: Admin;
  topics: readonly string[];
  partitions: number;
  replicationFactor: number;
}): Promise<EnsureTopicsResult> {
  const { admin, topics, partitions } = params;
  const cluster = await admin.describeCluster();
  const replicationFactor = Math.min(params.replicationFactor, cluster.brokers.length);
  const present = new Set(await admin.listTopics());
  const missing = [...new Set(topics)].filter((t) => !present.has(t));
  if (missing.length > 0) {
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((topic) => ({ topic, numPartitions: partitions, replicationFactor })),
    });
  }
  return {
    created: missing,
    existing: topics.filter((t) => present.has(t)),
    replicationFactor,
  };
}

export function serviceTopics(topics: Topics): string[] {
  return [topics.requests, topics.events, topics.commands, topics.dlq];
}
