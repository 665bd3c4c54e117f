/**
 * `npm run topics`: creates the service's topics (requests, events, commands, dead
 * letters) on the configured cluster, and grows those with fewer partitions than
 * KAFKA_TOPIC_PARTITIONS (never shrinks one: it says so); idempotent, so a second run is a
 * no-op.
 * Partitions and replication come from KAFKA_TOPIC_PARTITIONS (3) and
 * KAFKA_TOPIC_REPLICATION_FACTOR (2, capped at the number of brokers).
 */
import { getConfig } from '../src/config';
import { errorMessage } from '../src/errors';
import { ensureServiceTopics } from '../src/kafka';

export async function main(): Promise<void> {
  const config = getConfig();
  const result = await ensureServiceTopics({ config, clientId: 'simple-time-service-topics' });
  if (result.replicationFactor < config.kafka.topicReplicationFactor) {
    console.log(
      `[topics] replication factor ${config.kafka.topicReplicationFactor} capped at ${result.replicationFactor}: the cluster has ${result.replicationFactor} broker(s)`,
    );
  }
  console.log(
    `[topics] created: ${result.created.join(', ') || 'none'}; already there: ${result.existing.join(', ') || 'none'}`,
  );
  if (result.grown.length > 0) console.log(`[topics] grown: ${result.grown.map((t) => `${t.topic} ${t.from} -> ${t.to}`).join(', ')}`);
  if (result.larger.length > 0) {
    console.log(
      `[topics] asked for ${result.partitions} partitions; Kafka cannot remove partitions, so these keep theirs: ${result.larger.map((t) => `${t.topic} (${t.partitions})`).join(', ')}`,
    );
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error('[topics] failed:', errorMessage(error));
    process.exit(1);
  });
}
