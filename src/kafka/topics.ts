import type { Admin } from 'kafkajs';
import type { Config, Topics } from '../config';
import type { Logger } from '../logger';
import { resolveKafka } from './client';

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

/** Creates the service's missing topics on the configured cluster over one admin connection. */
export async function ensureServiceTopics(params: { config: Config; clientId: string; logger?: Logger }): Promise<EnsureTopicsResult> {
  const { config, clientId, logger } = params;
  const admin = (await resolveKafka({ kafka: config.kafka, clientId, ...(logger ? { logger } : {}) })).admin();
  await admin.connect();
  try {
    return await ensureTopics({
      admin,
      topics: serviceTopics(config.kafka.topics),
      partitions: config.kafka.topicPartitions,
      replicationFactor: config.kafka.topicReplicationFactor,
    });
  } finally {
    await admin.disconnect();
  }
}
