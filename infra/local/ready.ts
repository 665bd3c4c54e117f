/**
 * The service's topics (infra/topics.ts), then readiness of the local broker as a client
 * sees it; run by `infra/local/stack.sh start`. A broker that accepts connections may still answer "the
 * coordinator is loading" to a consumer's first FindCoordinator/JoinGroup (the offsets
 * topic is created on first use, then each of its partitions is loaded) and to an
 * idempotent producer's InitProducerId. This waits, bounded by
 * LOCAL_STACK_READY_TIMEOUT, until
 * - the group coordinator answers DescribeGroups for the service's consumer groups and
 *   for one group on every partition of the offsets topic, and
 * - an idempotent producer gets its producer id,
 * so that `npm start` and the tests never race a loading coordinator.
 */
import { CONSUMER_FUNCTIONS, consumerGroupId } from '../../src/consumers/functions';
import { loadConfig } from '../../src/config';
import { createKafka } from '../../src/kafka';
import { main as createTopics } from '../topics';

const OFFSETS_TOPIC = '__consumer_offsets';

/** Java's String.hashCode, which Kafka uses to place a group on an offsets partition. */
function javaHashCode(text: string): number {
  let hash = 0;
  for (let i = 0; i < text.length; i++) hash = (Math.imul(31, hash) + text.charCodeAt(i)) | 0;
  return hash;
}

/** Kafka's Utils.abs(hash) % partitions: the offsets partition (coordinator) of a group. */
export function offsetsPartition(groupId: string, partitions: number): number {
  const hash = javaHashCode(groupId);
  return (hash === -2147483648 ? 0 : Math.abs(hash)) % partitions;
}

/** One group name per offsets partition, so that asking about them reaches every one. */
export function groupsCoveringPartitions(partitions: number, prefix = 'simple-time-service-ready-probe'): string[] {
  const byPartition = new Map<number, string>();
  for (let i = 0; byPartition.size < partitions && i < partitions * 1000; i++) {
    const name = `${prefix}-${i}`;
    const partition = offsetsPartition(name, partitions);
    if (!byPartition.has(partition)) byPartition.set(partition, name);
  }
  return [...byPartition.values()];
}

async function until<T>(what: string, deadline: number, attempt: () => Promise<T>): Promise<T> {
  let last: unknown;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      last = error;
    }
    if (Date.now() >= deadline) {
      throw new Error(`${what}: not ready in time (last answer: ${last instanceof Error ? last.message : String(last)})`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function main(): Promise<void> {
  try {
    await createTopics();
  } catch (error) {
    throw new Error(`the service's topics could not be created: ${error instanceof Error ? error.message : String(error)}`);
  }
  const timeoutSeconds = Number(process.env.LOCAL_STACK_READY_TIMEOUT ?? '120');
  const deadline = Date.now() + (Number.isFinite(timeoutSeconds) && timeoutSeconds > 0 ? timeoutSeconds : 120) * 1000;
  const config = loadConfig(process.env);
  // No logger: the retries while the coordinator loads are expected, not news.
  const kafka = createKafka({ kafka: config.kafka, brokers: config.kafka.brokers, clientId: 'simple-time-service-ready' });
  const admin = kafka.admin();
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  const t0 = performance.now();
  try {
    await until('the broker', deadline, () => admin.connect());
    // The service's own groups first: the first FindCoordinator creates the offsets topic.
    const serviceGroups = CONSUMER_FUNCTIONS.map((fn) => consumerGroupId(config.kafka, fn));
    await until('the group coordinator', deadline, () => admin.describeGroups(serviceGroups));
    const [offsets] = (await until('the offsets topic', deadline, () => admin.fetchTopicMetadata({ topics: [OFFSETS_TOPIC] }))).topics;
    const partitions = offsets?.partitions.length ?? 0;
    if (partitions > 0) {
      await until('every partition of the offsets topic', deadline, () => admin.describeGroups(groupsCoveringPartitions(partitions)));
    }
    await until('producer ids', deadline, () => producer.connect());
    console.log(
      `[stack] group coordinator ready (${partitions} offsets partitions) and producer ids handed out in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
  } finally {
    await producer.disconnect().catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error('[stack] error:', error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
