/**
 * The service's topics (infra/topics.ts), then readiness of the local Kafka as a client
 * sees it; run by `infra/local/stack.sh start`. A broker that accepts connections may
 * not be registered yet (a cluster's topics would get fewer replicas), and may still
 * answer "the coordinator is loading" to a consumer's first FindCoordinator/JoinGroup
 * (the offsets topic is created on first use, then each of its partitions is loaded) and
 * to an idempotent producer's InitProducerId. This waits, bounded by
 * LOCAL_STACK_READY_TIMEOUT, until
 * - every broker is registered (LOCAL_STACK_BROKER_COUNT of them),
 * - the group coordinator answers DescribeGroups for the service's consumer groups and
 *   for one group on every partition of the offsets topic,
 * - with more than one broker, every replica of the service's topics and of the offsets
 *   topic is in sync,
 * - an idempotent producer gets its producer id, and
 * - with LOCAL_STACK_SASL_BROKERS, a SCRAM-SHA-512 login over TLS is accepted there, and
 *   with LOCAL_STACK_TLS_BROKERS the client certificate (both from LOCAL_STACK_SECURITY_DIR),
 * so that `npm start` and the tests never race a loading coordinator.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CONSUMER_FUNCTIONS, consumerGroupId } from '../../src/consumers';
import { loadConfig } from '../../src/config';
import { createKafka, serviceTopics } from '../../src/kafka';

type Admin = ReturnType<ReturnType<typeof createKafka>['admin']>;
import { main as createTopics } from '../topics';
import { errorMessage, isRetriable } from '../../src/errors';

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
      throw new Error(`${what}: not ready in time (last answer: ${errorMessage(last)})`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Fails until every partition of `topics` has all its replicas in sync. */
export async function replicasInSync(admin: Pick<Admin, 'fetchTopicMetadata'>, topics: string[]): Promise<void> {
  const { topics: found } = await admin.fetchTopicMetadata({ topics });
  const behind: string[] = [];
  for (const topic of found) {
    for (const p of topic.partitions) {
      if (p.leader < 0 || p.isr.length < p.replicas.length)
        behind.push(`${topic.name}-${p.partitionId} (in sync ${p.isr.length} of ${p.replicas.length})`);
    }
  }
  if (behind.length > 0) throw new Error(`replicas not in sync: ${behind.slice(0, 5).join(', ')}${behind.length > 5 ? ', …' : ''}`);
}

/** One admin request through a connection of its own with this configuration. */
async function answersWith(env: Record<string, string | undefined>, what: string): Promise<void> {
  const config = loadConfig(env);
  const admin = createKafka({ kafka: config.kafka, brokers: config.kafka.brokers, clientId: 'simple-time-service-ready' }).admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    if (cluster.brokers.length === 0) throw new Error(`${what}: no brokers in the answer`);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/**
 * The service's topics (infra/topics.ts), asked for again while the broker refuses them in a
 * way it says may pass (a broker that has just started may not know a topic it has just
 * created: "This server does not host this topic-partition"), bounded by the deadline; any
 * other failure (a refused configuration) ends it at once.
 */
export async function createTopicsWhenReady(deadline: number, create: () => Promise<void> = createTopics, pauseMs = 200): Promise<void> {
  for (;;) {
    try {
      return await create();
    } catch (error) {
      if (!isRetriable((error as Error).cause) || Date.now() >= deadline) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
}

async function main(): Promise<void> {
  const timeoutSeconds = Number(process.env.LOCAL_STACK_READY_TIMEOUT ?? '120');
  const deadline = Date.now() + (Number.isFinite(timeoutSeconds) && timeoutSeconds > 0 ? timeoutSeconds : 120) * 1000;
  const expectedBrokers = Number(process.env.LOCAL_STACK_BROKER_COUNT ?? '1');
  const config = loadConfig(process.env);
  // No logger: the retries while the coordinator loads are expected, not news.
  const kafka = createKafka({ kafka: config.kafka, brokers: config.kafka.brokers, clientId: 'simple-time-service-ready' });
  const admin = kafka.admin();
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  const t0 = performance.now();
  try {
    await until('the broker', deadline, () => admin.connect());
    if (expectedBrokers > 1) {
      await until(`all ${expectedBrokers} brokers`, deadline, async () => {
        const { brokers } = await admin.describeCluster();
        if (brokers.length < expectedBrokers) throw new Error(`${brokers.length} of ${expectedBrokers} brokers registered`);
      });
    }
    try {
      await createTopicsWhenReady(deadline);
    } catch (error) {
      throw new Error(`the service's topics could not be created: ${errorMessage(error)}`);
    }
    // The service's own groups first: the first FindCoordinator creates the offsets topic.
    const serviceGroups = CONSUMER_FUNCTIONS.map((fn) => consumerGroupId(config.kafka, fn));
    await until('the group coordinator', deadline, () => admin.describeGroups(serviceGroups));
    const [offsets] = (await until('the offsets topic', deadline, () => admin.fetchTopicMetadata({ topics: [OFFSETS_TOPIC] }))).topics;
    const partitions = offsets?.partitions.length ?? 0;
    if (partitions > 0) {
      await until('every partition of the offsets topic', deadline, () => admin.describeGroups(groupsCoveringPartitions(partitions)));
    }
    if (expectedBrokers > 1) {
      const topics = [...serviceTopics(config.kafka.topics), OFFSETS_TOPIC];
      await until('every replica in sync', deadline, () => replicasInSync(admin, topics));
    }
    await until('producer ids', deadline, () => producer.connect());
    const saslBrokers = process.env.LOCAL_STACK_SASL_BROKERS;
    const tlsBrokers = process.env.LOCAL_STACK_TLS_BROKERS;
    const dir = process.env.LOCAL_STACK_SECURITY_DIR ?? '';
    if (saslBrokers) {
      const password = readFileSync(path.join(dir, 'scram-password'), 'utf8').trim();
      const scram = {
        ...process.env,
        KAFKA_BROKERS: saslBrokers,
        KAFKA_AUTH: 'scram',
        KAFKA_SASL_USERNAME: 'simple-time-service',
        KAFKA_SASL_PASSWORD: password,
        KAFKA_SSL_CA_FILE: path.join(dir, 'ca.pem'),
      };
      await until('a SCRAM-SHA-512 login over TLS', deadline, () => answersWith(scram, 'SASL_SSL'));
    }
    if (tlsBrokers) {
      const tls = {
        ...process.env,
        KAFKA_BROKERS: tlsBrokers,
        KAFKA_AUTH: 'tls',
        KAFKA_SSL_CA_FILE: path.join(dir, 'ca.pem'),
        KAFKA_SSL_CERT_FILE: path.join(dir, 'client.pem'),
        KAFKA_SSL_KEY_FILE: path.join(dir, 'client.key'),
      };
      await until('a client certificate over TLS', deadline, () => answersWith(tls, 'SSL'));
    }
    console.log(
      `[stack] ${expectedBrokers > 1 ? `${expectedBrokers} brokers registered, every replica in sync, ` : ''}group coordinator ready (${partitions} offsets partitions)` +
        `${saslBrokers ? ', SCRAM login over TLS accepted' : ''}${tlsBrokers ? ', client certificate accepted' : ''} and producer ids handed out in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
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
