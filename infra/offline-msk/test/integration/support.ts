/**
 * What the package's integration tests share: a kafkajs client of the broker under test
 * (KAFKA_BROKERS, plaintext; the repository's local stack by default), a topic of a test's
 * own, and the event decoded back into records. The names and waits are the repository's
 * test helpers (dependency-free), so the run's clean-up deletes what these tests make.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import type { Admin } from 'kafkajs';
import type { KafkaEvent } from '../../src/event';
import type { ConsumedRecord } from '../../src/records';
import { partitionKey } from '../../src/records';

export { uniqueName } from '../../../../test/helpers/names';
export { waitFor } from '../../../../test/helpers/wait-for';

/** The broker the tests run against: KAFKA_BROKERS, or the local stack's plaintext listener. */
export const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',').filter((b) => b.length > 0);

export function testKafka(clientId: string): Kafka {
  return new Kafka({ clientId, brokers, logLevel: logLevel.NOTHING });
}

export async function createTopic(admin: Admin, topic: string, partitions = 3): Promise<void> {
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }] });
}

/**
 * Where an installed package lives (hoisted to the workspace root or not), by Node's own
 * search path: a package's `exports` may hide its package.json from require.resolve.
 */
export function packageRoot(name: string): string {
  const found = (createRequire(__filename).resolve.paths(name) ?? [])
    .map((dir) => path.join(dir, name))
    .find((dir) => existsSync(path.join(dir, 'package.json')));
  if (found === undefined) throw new Error(`${name} is not installed (npm ci at the repository's root)`);
  return found;
}

/**
 * The records of an event the plugin built, in event order, as a Lambda function reads
 * them: `<topic>-<partition>` keys must name their records' partition, key and value are
 * base64, header bytes may be signed (Java's).
 */
export function decodeKafkaEvent(event: unknown): { records: ConsumedRecord[] } {
  const e = event as KafkaEvent;
  if (e === null || typeof e !== 'object' || typeof e.records !== 'object' || e.records === null) {
    throw new Error(`not a Kafka event: ${JSON.stringify(event)?.slice(0, 200)}`);
  }
  const records: ConsumedRecord[] = [];
  for (const [key, list] of Object.entries(e.records)) {
    for (const r of list) {
      if (partitionKey(r.topic, r.partition) !== key) throw new Error(`records.${key}: holds a record of ${r.topic}-${r.partition}`);
      records.push({
        topic: r.topic,
        partition: r.partition,
        offset: String(r.offset),
        timestamp: r.timestamp,
        timestampType: r.timestampType === 'CREATE_TIME' || r.timestampType === 'LOG_APPEND_TIME' ? r.timestampType : 'NO_TIMESTAMP_TYPE',
        key: r.key == null ? null : Buffer.from(r.key, 'base64'),
        value: r.value == null ? null : Buffer.from(r.value, 'base64'),
        headers: r.headers.flatMap((h) =>
          Object.entries(h).map(([name, bytes]) => ({ name, value: Buffer.from(bytes.map((b) => (b < 0 ? b + 256 : b))) })),
        ),
      });
    }
  }
  return { records };
}
