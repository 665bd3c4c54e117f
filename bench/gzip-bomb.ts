/**
 * What one gzip batch costs the dead-letter tool (`npm run dlq`, a kafkajs consumer):
 * its peak RSS reading a topic that holds one gzip batch of 1 MiB of zeros, then one of
 * N MiB (about N KB on the wire: a gzip bomb). kafkajs' own codec inflates a batch
 * whatever its size; src/kafka/gzip.ts stops at MAX_DECOMPRESSED_BATCH_BYTES.
 *
 *   npx tsx bench/gzip-bomb.ts [mib=96]
 *
 * Needs the local broker (127.0.0.1:9092, or KAFKA_BROKERS) and GNU time (/usr/bin/time);
 * its topics are deleted afterwards.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { CompressionTypes } from 'kafkajs';
import { loadConfig } from '../src/config';
import { createKafka } from '../src/kafka';

const mib = Number(process.argv[2] ?? 96);
const repo = path.resolve(__dirname, '..');
const env = { ...process.env, KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? '127.0.0.1:9092' };
const config = loadConfig(env);
const kafka = createKafka({ kafka: config.kafka, brokers: config.kafka.brokers, clientId: 'bench-gzip-bomb' });

/** Peak RSS (KB), exit code and last line of `npm run dlq -- list` on the topic. */
function readWithTool(topic: string): { max_rss_mb: number; exit: number | null; last_line: string } {
  const run = spawnSync(
    '/usr/bin/time',
    ['-f', 'max_rss_kb=%M', process.execPath, '--import', 'tsx', 'infra/dlq.ts', 'list', '--topic', topic, '--timeout-ms', '60000'],
    {
      cwd: repo,
      env,
      encoding: 'utf8',
      timeout: 120_000,
    },
  );
  const rss = Number(/max_rss_kb=(\d+)/.exec(run.stderr)?.[1] ?? NaN);
  const lines = `${run.stdout}\n${run.stderr}`
    .split('\n')
    .filter((l) => l && !l.startsWith('max_rss_kb') && !l.startsWith('Command exited'));
  return { max_rss_mb: Math.round(rss / 1024), exit: run.status, last_line: (lines.at(-1) ?? '').slice(0, 160) };
}

async function main(): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  const producer = kafka.producer();
  await producer.connect();
  const topics: string[] = [];
  try {
    const zeros = Buffer.alloc(1024 * 1024);
    for (const records of [1, mib]) {
      const topic = `bench-gzip-bomb-${records}-${randomUUID().slice(0, 8)}`;
      topics.push(topic);
      await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1, replicationFactor: 1 }] });
      await producer.send({
        topic,
        compression: CompressionTypes.GZIP,
        messages: Array.from({ length: records }, () => ({ value: zeros })),
      });
      const [end] = await admin.fetchTopicOffsets(topic);
      console.log(JSON.stringify({ batch_inflated_mib: records, records: Number(end?.high ?? 0), ...readWithTool(topic) }));
    }
  } finally {
    await producer.disconnect();
    await admin.deleteTopics({ topics, timeout: 10_000 }).catch(() => undefined);
    await admin.disconnect();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
