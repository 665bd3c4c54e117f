/**
 * `npm run topics`: creates the service's topics (requests, events, commands, dead
 * letters) on the configured cluster; idempotent, so a second run is a no-op.
 * Partitions and replication come from KAFKA_TOPIC_PARTITIONS (3) and
 * KAFKA_TOPIC_REPLICATION_FACTOR (2, capped at the number of brokers).
 */
import { getConfig } from '../src/config';
import { createKafka, ensureTopics, resolveBrokers, serviceTopics } from '../src/kafka';

export async function main(): Promise<void> {
  const config = getConfig();
  const brokers = await resolveBrokers(config.kafka);
  const admin = createKafka({ kafka: config.kafka, brokers, clientId: 'simple-time-service-topics' }).admin();
  await admin.connect();
  try {
    const result = await ensureTopics({
      admin,
      topics: serviceTopics(config.kafka.topics),
      partitions: config.kafka.topicPartitions,
      replicationFactor: config.kafka.topicReplicationFactor,
    });
    if (result.replicationFactor < config.kafka.topicReplicationFactor) {
      console.log(
        `[topics] replication factor ${config.kafka.topicReplicationFactor} capped at ${result.replicationFactor}: the cluster has ${result.replicationFactor} broker(s)`,
      );
    }
    console.log(
      `[topics] created: ${result.created.join(', ') || 'none'}; already there: ${result.existing.join(', ') || 'none'}`,
    );
  } finally {
    await admin.disconnect();
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error('[topics] failed:', error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
