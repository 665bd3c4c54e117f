/**
 * Throughput of the local MSK event source (infra/offline-msk) into a no-op function,
 * beside the broker's own consumer ceiling measured in the same run with Kafka's
 * ConsumerPerformance tool, on the same topic and records.
 *
 *   npx tsx infra/offline-msk/bench/throughput.ts [records=200000] [partitions=3] [valueBytes=100]
 *
 * Rows:
 * - broker ceiling: org.apache.kafka.tools.ConsumerPerformance (Java consumer, no processing);
 * - event source alone: the event source mapping consuming with kafkajs, building the
 *   exact AWS event and "invoking" a no-op that clones it (no Lambda runtime);
 * - through serverless offline: `serverless offline start` with bench/service/serverless.yml,
 *   the plugin invoking the no-op function in the serverless process through
 *   serverless-offline's Lambda class (what `npm start` does), for batchSize 100 (AWS's
 *   default) and 10000 (the maximum).
 * Each row uses its own consumer group from the start of the topic; the clock runs from
 * the consumer joining to the group's committed offsets reaching the end of the topic.
 *
 * Profiling: BENCH_ROWS=offline-100 (a comma list of ceiling, alone-100, alone-10000,
 * offline-100, offline-10000) runs only those rows; BENCH_CPU_PROF_DIR=<dir> starts
 * serverless offline with --cpu-prof into that directory.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import type { Admin } from 'kafkajs';
import { compileFilterPatterns } from '../src/filter';
import { MAPPING_DEFAULTS } from '../src/mapping';
import { startKafkaEventSource } from '../src/kafka-source';

const records = Number(process.argv[2] ?? 200_000);
const partitions = Number(process.argv[3] ?? 3);
const valueBytes = Number(process.argv[4] ?? 100);
const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const kafka = new Kafka({ brokers, clientId: 'offline-msk-bench', logLevel: logLevel.ERROR });
const libs = path.join(process.env.LOCAL_STACK_CACHE ?? path.join(os.homedir(), '.cache/simple-time-service'), 'kafka-3.9.2/libs');
const stamp = Date.now().toString(36);
const topic = `bench-offline-msk-${stamp}`;

async function produce(admin: Admin): Promise<void> {
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }] });
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const value = JSON.stringify({ event_type: 'bench', pad: 'x'.repeat(Math.max(0, valueBytes - 30)) });
  const chunk = 5_000;
  for (let sent = 0; sent < records; sent += chunk) {
    const n = Math.min(chunk, records - sent);
    await producer.send({
      topic,
      acks: 1,
      messages: Array.from({ length: n }, (_, i) => ({ key: `k${(sent + i) % 64}`, value })),
    });
  }
  await producer.disconnect();
}

async function waitForCommitted(admin: Admin, groupId: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const ends = await admin.fetchTopicOffsets(topic);
  const target = new Map(ends.map((p) => [p.partition, p.high]));
  for (;;) {
    const [result] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const done = (result?.partitions ?? []).every((p) => p.offset === target.get(p.partition));
    if (done && (result?.partitions.length ?? 0) === target.size) return;
    if (Date.now() > deadline) throw new Error(`group ${groupId} did not reach the end of ${topic} in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function brokerCeiling(): { nMsgSec: number; fetchNMsgSec: number; line: string } {
  const result = spawnSync(
    'java',
    [
      '-cp',
      `${libs}/*`,
      'org.apache.kafka.tools.ConsumerPerformance',
      '--bootstrap-server',
      brokers.join(','),
      '--topic',
      topic,
      '--messages',
      String(records),
      '--group',
      `bench-perf-${stamp}`,
      '--timeout',
      '30000',
    ],
    { encoding: 'utf8', timeout: 180_000 },
  );
  const lines = result.stdout.split('\n').filter((l) => l.trim().length > 0 && !l.startsWith('log4j'));
  const header = lines.findIndex((l) => l.startsWith('start.time'));
  const line = lines[header + 1];
  if (header < 0 || !line) throw new Error(`ConsumerPerformance printed no result:\n${result.stdout}\n${result.stderr}`);
  const names = lines[header]!.split(',').map((s) => s.trim());
  const values = line.split(',').map((s) => s.trim());
  const get = (name: string) => Number(values[names.indexOf(name)]);
  return { nMsgSec: get('nMsg.sec'), fetchNMsgSec: get('fetch.nMsg.sec'), line: `${lines[header]}\n${line}` };
}

async function eventSourceAlone(admin: Admin, batchSize: number): Promise<number> {
  const groupId = `bench-esm-${batchSize}-${stamp}`;
  let bytes = 0;
  const source = await startKafkaEventSource({
    kafka,
    topic,
    groupId,
    startingPosition: 'TRIM_HORIZON',
    log: { debug: () => undefined, info: () => undefined, warn: console.error, error: console.error },
    // The cost of handing the event over: a structured clone, as the in-process invocation makes.
    invoke: (event) => {
      bytes += Object.values(structuredClone(event).records).reduce((n, list) => n + list.length, 0);
      return Promise.resolve({ ok: true, payload: null });
    },
    settings: {
      functionName: 'noop',
      batchSize,
      batchingWindowMs: 0,
      source: { kind: 'msk', eventSourceArn: 'arn:aws:kafka:us-east-1:123456789012:cluster/local/bench-1', bootstrapServers: brokers },
      filter: compileFilterPatterns([]),
      reportBatchItemFailures: false,
      maximumRetryAttempts: -1,
      maximumRecordAgeSeconds: -1,
      bisectBatchOnFunctionError: false,
      hasDestination: false,
      initialBackoffMs: MAPPING_DEFAULTS.initialBackoffMs,
      maxBackoffMs: MAPPING_DEFAULTS.maxBackoffMs,
      maxRecordsPerPartition: Math.max(MAPPING_DEFAULTS.maxRecordsPerPartition, batchSize * 2),
      maxEventBytes: MAPPING_DEFAULTS.maxEventBytes,
      commitIntervalMs: MAPPING_DEFAULTS.commitIntervalMs,
    },
  });
  const started = Date.now(); // joined: as for the other rows, the group join is not counted
  await waitForCommitted(admin, groupId, 300_000);
  const seconds = (Date.now() - started) / 1000;
  await source.stop();
  console.error(`  event source alone, batchSize ${batchSize}: ${bytes} records cloned into events`);
  return records / seconds;
}

async function throughOffline(admin: Admin, batch: 'default' | 'max'): Promise<number> {
  const groupId = `bench-offline-${batch}-${stamp}`;
  const serviceDir = path.resolve(__dirname, 'service');
  const bin = path.join(path.dirname(createRequire(__filename).resolve('serverless/package.json')), 'bin/serverless.js');
  let logs = '';
  const profile = process.env.BENCH_CPU_PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF_DIR}`] : [];
  const child = spawn(process.execPath, [...profile, bin, 'offline', 'start'], {
    cwd: serviceDir,
    env: { ...process.env, BENCH_TOPIC: topic, BENCH_GROUP: groupId, BENCH_BATCH: batch, KAFKA_BROKERS: brokers.join(',') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  child.stdout.on('data', (d: Buffer) => (logs += d.toString()));
  child.stderr.on('data', (d: Buffer) => (logs += d.toString()));
  try {
    const deadline = Date.now() + 90_000;
    while (!logs.includes('event source mapping(s) running')) {
      if (Date.now() > deadline) throw new Error(`serverless offline did not start:\n${logs}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const started = Date.now();
    await waitForCommitted(admin, groupId, 600_000);
    return records / ((Date.now() - started) / 1000);
  } finally {
    child.kill('SIGINT');
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 30_000))]);
    if (code === 'timeout') child.kill('SIGKILL');
  }
}

async function main(): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    console.error(`producing ${records} records of ~${valueBytes} B to ${topic} (${partitions} partitions)`);
    await produce(admin);
    const only = process.env.BENCH_ROWS?.split(',');
    const want = (row: string) => !only || only.includes(row);
    const ceiling = want('ceiling') ? brokerCeiling() : { nMsgSec: NaN, fetchNMsgSec: NaN, line: '(not run)' };
    console.error(`broker ceiling (ConsumerPerformance):\n${ceiling.line}`);
    const rows: Array<[string, number]> = [];
    if (want('ceiling')) {
      rows.push(['broker ceiling: ConsumerPerformance nMsg.sec', ceiling.nMsgSec]);
      rows.push(['broker ceiling: ConsumerPerformance fetch.nMsg.sec (without group join)', ceiling.fetchNMsgSec]);
    }
    for (const batchSize of [100, 10_000]) {
      if (!want(`alone-${batchSize}`)) continue;
      rows.push([
        `event source alone (kafkajs + AWS event, no-op in process), batchSize ${batchSize}`,
        await eventSourceAlone(admin, batchSize),
      ]);
    }
    if (want('offline-100'))
      rows.push(['through serverless offline into a no-op function, batchSize 100', await throughOffline(admin, 'default')]);
    if (want('offline-10000'))
      rows.push(['through serverless offline into a no-op function, batchSize 10000', await throughOffline(admin, 'max')]);
    console.log(`\n${records} records of ~${valueBytes} B, ${partitions} partitions, ${os.cpus().length} CPUs, Node ${process.version}\n`);
    console.log('| path | records/s | share of the ceiling (fetch.nMsg.sec) |');
    console.log('| --- | ---: | ---: |');
    for (const [name, rate] of rows) {
      console.log(`| ${name} | ${Math.round(rate).toLocaleString('en-US')} | ${((rate / ceiling.fetchNMsgSec) * 100).toFixed(0)} % |`);
    }
  } finally {
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
