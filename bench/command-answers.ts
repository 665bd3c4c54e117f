/**
 * What a batch of 100 time.now commands costs the commands function, two checkouts of the
 * service side by side in one run (rounds alternate them, so both see the same machine):
 *
 * - in process, against the local broker: commands per second for a batch on 1 and on 3
 *   partitions (`processRecords`, every answer acknowledged with acks=all), beside the
 *   floor: a bare kafkajs `sendBatch` of the same 100 answers on an idempotent producer,
 *   and each checkout with answers acknowledged at once (what it costs besides the broker);
 * - the function's duration for that batch (the whole Lambda handler,
 *   `createConsumerHandler('onCommand')`, from the MSK event to the partial batch response)
 *   with a broker that answers 5 ms late: every connection goes through a TCP proxy that
 *   holds each broker-to-client chunk 5 ms, as a produce crossing availability zones does
 *   on MSK; beside the same floor through the proxy.
 *
 * "before" is another checkout (its src/ and handlers/), e.g. a worktree of main sharing
 * this checkout's node_modules:
 *
 *   git worktree add --detach ../before main && ln -s "$PWD/node_modules" ../before/node_modules
 *   npx tsx bench/command-answers.ts --before ../before [--rounds 30] [--delay-ms 5]
 *
 * Needs the local broker (bash infra/local/stack.sh start); makes its own topics and deletes them.
 */
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Context } from 'aws-lambda';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import type { Message, Producer } from 'kafkajs';
import { buildKafkaEvent } from '../infra/offline-msk/src/event';
import type * as HandlersModule from '../handlers/factories/consumer';
import type * as CommandsModule from '../src/commands';
import type { Config } from '../src/config';
import type * as ConfigModule from '../src/config';
import type * as KafkaModule from '../src/kafka';
import type * as LoggerModule from '../src/logger';
import type * as MetricsModule from '../src/metrics/container-metrics';
import type { ConsumedRecord } from '../src/kafka/records';
import { BENCH_SERVICE } from './service';
import { fmt, summarize } from './stats';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i] ?? '', process.argv[i + 1] ?? '');
const BEFORE = path.resolve(args.get('--before') ?? '');
const ROUNDS = Number(args.get('--rounds') ?? 30);
const DELAY_MS = Number(args.get('--delay-ms') ?? 5);
const BATCH = 100;
const BROKER = { host: '127.0.0.1', port: 9092 };

/** The parts of a checkout the bench drives, loaded from its own files. */
interface Checkout {
  name: string;
  config: typeof ConfigModule;
  commands: typeof CommandsModule;
  kafka: typeof KafkaModule;
  metrics: typeof MetricsModule;
  logger: typeof LoggerModule;
  handlers: typeof HandlersModule;
}

async function load(name: string, root: string): Promise<Checkout> {
  const from = async <T>(file: string) => (await import(path.join(root, file))) as T;
  return {
    name,
    config: await from('src/config.ts'),
    commands: await from('src/commands/index.ts'),
    kafka: await from('src/kafka/index.ts'),
    metrics: await from('src/metrics/container-metrics.ts'),
    logger: await from('src/logger.ts'),
    handlers: await from('handlers/factories/consumer.ts'),
  };
}

/**
 * A TCP proxy in front of the broker: client-to-broker bytes pass at once, every
 * broker-to-client chunk is held `delayMs` (in order), so each answer comes that much later.
 */
function delayingProxy(delayMs: number): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const broker = net.connect(BROKER);
    for (const s of [client, broker]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(broker);
    broker.on('data', (chunk: Buffer) => setTimeout(() => client.write(chunk), delayMs));
    broker.on('close', () => setTimeout(() => client.destroy(), delayMs));
    client.on('close', () => broker.destroy());
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      resolve({
        port,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

/** A kafkajs client whose every connection (the bootstrap and each broker) goes to `port`. */
function kafkaVia(port: number, clientId: string): Kafka {
  return new Kafka({
    clientId,
    brokers: [`127.0.0.1:${port}`],
    logLevel: logLevel.NOTHING,
    socketFactory: ({ onConnect }) => net.connect({ host: '127.0.0.1', port }, onConnect),
  });
}

let round = 0;
/** 100 time.now commands in the plain shape (docs/compatibility.md), spread over `partitions` partitions. */
function commandBatch(topic: string, partitions: number, offsets: number[]): ConsumedRecord[] {
  round += 1;
  return Array.from({ length: BATCH }, (_, i) => {
    const partition = i % partitions;
    const offset = offsets[partition] ?? 0;
    offsets[partition] = offset + 1;
    const value = { type: 'time.now', correlation_id: `bench-${round}-${i}`, payload: { timezone: 'Europe/Paris' } };
    return {
      topic,
      partition,
      offset: String(offset),
      timestamp: Date.now(),
      timestampType: 'CREATE_TIME',
      key: Buffer.from(`client-${i % 10}`),
      value: Buffer.from(JSON.stringify(value)),
      headers: [],
    };
  });
}

/** The answers a batch makes, for the floor: the same topic, keys and size. */
function answersOf(batch: readonly ConsumedRecord[]): Message[] {
  return batch.map((r) => ({
    key: r.key,
    value: JSON.stringify({
      id: randomUUID(),
      event_type: 'time.now.processed',
      timestamp: new Date().toISOString(),
      source: 'bench',
      correlation_id: 'c',
      data: { command_id: randomUUID(), command_type: 'time.now', timezone: 'Europe/Paris', time: new Date().toISOString() },
      version: '1.0',
    }),
    headers: { event_type: 'time.now.processed', correlation_id: 'c', 'content-type': 'application/json', command_id: randomUUID() },
  }));
}

async function bareProducer(kafka: Kafka): Promise<Producer> {
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
  });
  await producer.connect();
  return producer;
}

type Runner = (batch: ConsumedRecord[]) => Promise<void>;

/** A checkout's commands function in process: processRecords on its own container producer. */
function inProcess(c: Checkout, config: Config, kafka: () => Kafka): { run: Runner; close: () => Promise<void> } {
  const producer = c.kafka.createContainerProducer({ kafka, sendTimeoutMs: 5000, connectTimeoutMs: 5000 });
  const logger = c.logger.createLogger(config);
  const consumer = c.commands.createCommandConsumer({
    name: 'onCommand',
    config,
    publisher: producer,
    logger,
    metrics: c.metrics.createMetrics(),
  });
  return {
    run: async (batch) => {
      const result = await consumer.processRecords(batch);
      if (result.failed.length > 0) throw new Error(`${c.name}: ${result.failed.length} command(s) not answered`);
    },
    close: () => producer.disconnect(),
  };
}

/** A checkout's commands function with answers acknowledged at once: what it costs besides the broker. */
function ownWork(c: Checkout, config: Config): Runner {
  const publisher = {
    send: (records: readonly unknown[]) => Promise.resolve(records.map((_, i) => ({ topic: 't', partition: 0, offset: String(i) }))),
  };
  const consumer = c.commands.createCommandConsumer({
    name: 'onCommand',
    config,
    publisher,
    logger: c.logger.createLogger(config),
    metrics: c.metrics.createMetrics(),
  });
  return async (batch) => {
    const result = await consumer.processRecords(batch);
    if (result.failed.length > 0) throw new Error(`${c.name}: ${result.failed.length} command(s) not answered`);
  };
}

/** A checkout's whole commands function: the Lambda handler, from the MSK event to its answer. */
function asFunction(c: Checkout, config: Config, kafka: () => Kafka): { run: Runner; close: () => Promise<void> } {
  const producer = c.kafka.createContainerProducer({ kafka, sendTimeoutMs: 5000, connectTimeoutMs: 5000 });
  const deps = {
    config,
    logger: c.logger.createLogger(config),
    metrics: c.metrics.createMetrics(),
    pusher: { pushIfDue: () => Promise.resolve('skipped' as const) },
    producer: () => producer,
  };
  const handler = c.handlers.createConsumerHandler('onCommand', deps);
  const source = {
    kind: 'msk' as const,
    eventSourceArn: 'arn:aws:kafka:us-east-1:123456789012:cluster/bench/1',
    bootstrapServers: config.kafka.brokers,
  };
  return {
    run: async (batch) => {
      const deadline = Date.now() + 10_000;
      const context = {
        awsRequestId: randomUUID(),
        functionName: 'onCommand',
        functionVersion: '$LATEST',
        memoryLimitInMB: '256',
        getRemainingTimeInMillis: () => deadline - Date.now(),
      } as unknown as Context;
      const answer = await handler(buildKafkaEvent(source, batch) as never, context); // the MSK event AWS sends
      if (answer.batchItemFailures.length > 0) throw new Error(`${c.name}: ${answer.batchItemFailures.length} command(s) not answered`);
    },
    close: () => producer.disconnect(),
  };
}

/** Rounds of one batch per variant, the variants' order turning each round; ms per batch. */
async function rounds(variants: Array<{ name: string; run: Runner }>, topic: string, partitions: number): Promise<Map<string, number[]>> {
  const samples = new Map(variants.map((v) => [v.name, [] as number[]]));
  const offsets: number[] = [];
  for (let r = 0; r <= ROUNDS; r += 1) {
    for (let k = 0; k < variants.length; k += 1) {
      const v = variants[(r + k) % variants.length]!;
      const batch = commandBatch(topic, partitions, offsets);
      const started = performance.now();
      await v.run(batch);
      if (r > 0) samples.get(v.name)!.push(performance.now() - started); // round 0 warms up
    }
  }
  return samples;
}

function report(title: string, samples: Map<string, number[]>): void {
  console.log(`\n${title}`);
  console.log('| variant | p50 per batch | mean | p99 | commands/s |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  for (const [name, ms] of samples) {
    const s = summarize(ms);
    console.log(`| ${name} | ${fmt(s.p50)} | ${fmt(s.mean)} | ${fmt(s.p99)} | ${Math.round((BATCH * 1000) / s.mean)} |`);
  }
}

async function main(): Promise<void> {
  if (!args.get('--before')) throw new Error('name the checkout to compare with: --before <dir> (see the header of this file)');
  const before = await load('before', BEFORE);
  const after = await load('after', path.resolve(__dirname, '..'));
  const suffix = randomUUID().slice(0, 8);
  const topics = {
    commands: `bench-answers-commands-${suffix}`,
    events: `bench-answers-events-${suffix}`,
    dlq: `bench-answers-dlq-${suffix}`,
  };
  const env = {
    ...BENCH_SERVICE,
    KAFKA_BROKERS: `${BROKER.host}:${BROKER.port}`,
    KAFKA_TOPIC_COMMANDS: topics.commands,
    KAFKA_TOPIC_EVENTS: topics.events,
    KAFKA_TOPIC_DLQ: topics.dlq,
    LOG_LEVEL: 'ERROR',
  };
  const direct = new Kafka({ clientId: 'bench-answers', brokers: [env.KAFKA_BROKERS], logLevel: logLevel.NOTHING });
  const admin = direct.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: Object.values(topics).map((topic) => ({ topic, numPartitions: 3 })) });
  const proxy = await delayingProxy(DELAY_MS);
  const closers: Array<() => Promise<unknown>> = [];
  console.log(`batches of ${BATCH} time.now commands; before: ${BEFORE}; ${ROUNDS} rounds after a warm-up; broker ${env.KAFKA_BROKERS}`);
  try {
    const scenarios = [
      { how: 'in process, local broker', kafka: () => direct, build: inProcess, withOwnWork: true },
      {
        how: `whole function, broker answering ${DELAY_MS} ms late (proxy)`,
        kafka: () => kafkaVia(proxy.port, 'bench-answers-proxy'),
        build: asFunction,
        withOwnWork: false,
      },
    ];
    for (const { how, kafka, build, withOwnWork } of scenarios) {
      for (const partitions of [1, 3]) {
        const client = kafka();
        const variants = [before, after].map((c) => {
          const made = build(c, c.config.loadConfig(env), () => client);
          closers.push(made.close);
          return { name: c.name, run: made.run };
        });
        if (withOwnWork)
          for (const c of [before, after])
            variants.push({ name: `${c.name}, answers acknowledged at once (its own work)`, run: ownWork(c, c.config.loadConfig(env)) });
        const floor = await bareProducer(client);
        closers.push(() => floor.disconnect());
        variants.push({
          name: 'floor: one kafkajs sendBatch of the 100 answers',
          run: async (batch) =>
            void (await floor.sendBatch({ acks: -1, topicMessages: [{ topic: topics.events, messages: answersOf(batch) }] })),
        });
        report(`${how}, ${partitions} partition(s)`, await rounds(variants, topics.commands, partitions));
      }
    }
  } finally {
    for (const close of closers) await close().catch(() => undefined);
    await proxy.close();
    await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => undefined);
    await admin.disconnect();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
