/**
 * `npm run topics`: creates the service's topics (requests, events, commands, dead
 * letters) on the configured cluster, and grows those with fewer partitions than
 * KAFKA_TOPIC_PARTITIONS (never shrinks one: it says so); idempotent, so a second run is a
 * no-op.
 * Partitions and replication come from KAFKA_TOPIC_PARTITIONS (3) and
 * KAFKA_TOPIC_REPLICATION_FACTOR (2, capped at the number of brokers).
 * Exit codes: infra/cli.ts.
 */
import { getConfig } from '../src/config';
import { errorMessage } from '../src/errors';
import { ensureServiceTopics } from '../src/kafka';
import { parseCommandLineArgs, runCli } from './cli';

const USAGE = `usage: npm run topics

Creates the service's four topics (KAFKA_TOPIC_REQUESTS, KAFKA_TOPIC_EVENTS,
KAFKA_TOPIC_COMMANDS, KAFKA_TOPIC_DLQ) on the configured cluster (KAFKA_BROKERS, or
MSK_CLUSTER_ARN and KAFKA_AUTH) with KAFKA_TOPIC_PARTITIONS partitions and
KAFKA_TOPIC_REPLICATION_FACTOR replicas (capped at the number of brokers). Topics that
exist are left as they are. It takes no options but --help.`;

export async function main(argv: string[] = []): Promise<void> {
  parseCommandLineArgs('topics', argv, { help: { type: 'boolean' } });
  const config = getConfig();
  let result;
  try {
    result = await ensureServiceTopics({ config, clientId: 'simple-time-service-topics' });
  } catch (error) {
    throw new Error(`failed: ${errorMessage(error)}`, { cause: error });
  }
  if (result.replicationFactor < config.kafka.topicReplicationFactor) {
    console.log(
      `[topics] replication factor ${config.kafka.topicReplicationFactor} capped at ${result.replicationFactor}: the cluster has ${result.replicationFactor} broker(s)`,
    );
  }
  console.log(`[topics] created: ${result.created.join(', ') || 'none'}; already there: ${result.existing.join(', ') || 'none'}`);
  if (result.grown.length > 0) console.log(`[topics] grown: ${result.grown.map((t) => `${t.topic} ${t.from} -> ${t.to}`).join(', ')}`);
  if (result.larger.length > 0) {
    console.log(
      `[topics] asked for ${result.partitions} partitions; Kafka cannot remove partitions, so these keep theirs: ${result.larger.map((t) => `${t.topic} (${t.partitions})`).join(', ')}`,
    );
  }
}

if (require.main === module) runCli('topics', USAGE, main);
