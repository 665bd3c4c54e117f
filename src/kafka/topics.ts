import type { Admin } from 'kafkajs';
import type { Config, Topics } from '../config';
import type { Logger } from '../logger';
import { errorMessage } from '../errors';
import { resolveKafka } from './client';
import { TopicsNotReadyError, brokerSaysItMayPass } from './errors';

export interface EnsureTopicsResult {
  created: string[];
  existing: string[];
  /** Existing topics that had fewer partitions than asked for, and now have them. */
  grown: Array<{ topic: string; from: number; to: number }>;
  /** Existing topics with more partitions than asked for: Kafka cannot remove partitions, so they keep theirs. */
  larger: Array<{ topic: string; partitions: number }>;
  partitions: number;
  replicationFactor: number;
}

/**
 * Creates the topics that do not exist yet, and gives an existing topic with fewer
 * partitions than `partitions` the missing ones (never fewer: Kafka cannot remove
 * partitions, so a larger topic is only reported). The replication factor is capped at the
 * number of brokers (a one-node local broker cannot hold 2 replicas), and the cap is
 * reported so the caller can say so. Records already written keep their partition; new
 * records with a key may land in another partition than older ones with the same key.
 */
export async function ensureTopics(params: EnsureTopicsParams): Promise<EnsureTopicsResult> {
  try {
    return await ensureTopicsOnce(params);
  } catch (error) {
    // A TopicsNotReadyError (retriable) when the broker says asking again may pass.
    throw brokerSaysItMayPass(error) ? new TopicsNotReadyError(errorMessage(error), { cause: error }) : error;
  }
}

interface EnsureTopicsParams {
  admin: Pick<Admin, 'describeCluster' | 'listTopics' | 'createTopics' | 'fetchTopicMetadata' | 'createPartitions'>;
  topics: readonly string[];
  partitions: number;
  replicationFactor: number;
}

async function ensureTopicsOnce(params: EnsureTopicsParams): Promise<EnsureTopicsResult> {
  const { admin, partitions } = params;
  const topics = [...new Set(params.topics)];
  const cluster = await admin.describeCluster();
  const replicationFactor = Math.min(params.replicationFactor, cluster.brokers.length);
  const present = new Set(await admin.listTopics());
  const missing = topics.filter((t) => !present.has(t));
  const existing = topics.filter((t) => present.has(t));
  if (missing.length > 0) {
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((topic) => ({ topic, numPartitions: partitions, replicationFactor })),
    });
  }
  const metadata = existing.length > 0 ? (await admin.fetchTopicMetadata({ topics: existing })).topics : [];
  const countOf = new Map(metadata.map((t) => [t.name, t.partitions.length]));
  // In the order the topics were given.
  const counts = existing.map((topic) => ({ topic, count: countOf.get(topic) ?? partitions }));
  const grown = counts.filter((t) => t.count < partitions).map((t) => ({ topic: t.topic, from: t.count, to: partitions }));
  if (grown.length > 0) {
    await admin.createPartitions({ topicPartitions: grown.map((t) => ({ topic: t.topic, count: t.to })) });
  }
  const larger = counts.filter((t) => t.count > partitions).map((t) => ({ topic: t.topic, partitions: t.count }));
  return { created: missing, existing, grown, larger, partitions, replicationFactor };
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
