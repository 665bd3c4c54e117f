/**
 * The consumer functions' own cost, in process (no event source): decoding the MSK event,
 * per-record classification, envelope validation, handler, metrics, partial batch response.
 * - events: batches of 100 http_request records through createEventConsumer (no publishing);
 * - commands: batches of 10 time.now commands through createCommandConsumer, each answer
 *   acknowledged (acks=all) by the real local broker.
 * Run: npx tsx bench/consumers.ts   (needs the local broker: bash infra/local/stack.sh start)
 */
import { loadConfig } from '../src/config';
import { createCommandConsumer } from '../src/commands';
import { consumerFunction, createEventConsumer } from '../src/consumers';
import { createEvent } from '../src/events';
import { createContainerProducer, createKafka } from '../src/kafka';
import { buildKafkaEvent } from '../infra/offline-msk/src/event';
import { decodeKafkaEvent, kafkaBatchResponse } from '../src/kafka/msk-event';
import type { ConsumedRecord } from '../src/kafka/records';
import { createMetrics } from '../src/metrics/container-metrics';
import { fmt, summarize } from './stats';
import { BENCH_SERVICE } from './service';

const suffix = Date.now().toString(36);
const config = loadConfig({
  ...BENCH_SERVICE,
  KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? '127.0.0.1:9092',
  KAFKA_TOPIC_EVENTS: `bench-cons-events-${suffix}`,
  KAFKA_TOPIC_COMMANDS: `bench-cons-commands-${suffix}`,
  KAFKA_TOPIC_DLQ: `bench-cons-dlq-${suffix}`,
  LOG_LEVEL: 'ERROR',
});
const logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: console.error };
const source = {
  kind: 'msk' as const,
  eventSourceArn: 'arn:aws:kafka:us-east-1:123456789012:cluster/b/c',
  bootstrapServers: config.kafka.brokers,
};

let offset = 0;
function rec(topic: string, value: unknown, key = 'k'): ConsumedRecord {
  offset += 1;
  return {
    topic,
    partition: offset % 3,
    offset: String(offset),
    timestamp: Date.now(),
    timestampType: 'CREATE_TIME',
    key: Buffer.from(key),
    value: Buffer.from(JSON.stringify(value)),
    headers: [],
  };
}

async function main(): Promise<void> {
  const kafka = createKafka({ kafka: config.kafka, brokers: config.kafka.brokers, clientId: 'bench-consumers' });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: [config.kafka.topics.events, config.kafka.topics.commands, config.kafka.topics.dlq].map((topic) => ({
      topic,
      numPartitions: 3,
    })),
  });
  const producer = createContainerProducer({ kafka: () => kafka, sendTimeoutMs: 5000, connectTimeoutMs: 1000 });
  try {
    // Events: 200 batches of 100 http_request records.
    const events = createEventConsumer({
      fn: consumerFunction('onHttpRequest'),
      config,
      publisher: producer,
      logger,
      metrics: createMetrics(),
    });
    const batches = Array.from({ length: 200 }, () =>
      Array.from({ length: 100 }, (_, i) =>
        rec(
          config.kafka.topics.requests,
          createEvent({
            eventType: 'http_request',
            source: 'bench',
            data: { user_ip: `10.0.0.${i % 50}`, method: 'GET', endpoint: '/', hostname: 'h', os: 'Linux', request_id: 'r' },
          }),
        ),
      ),
    );
    const eventSamples: number[] = [];
    for (const batch of batches) {
      const event = buildKafkaEvent(source, batch);
      const started = performance.now();
      const { records } = decodeKafkaEvent(JSON.parse(JSON.stringify(event)));
      const result = await events.processRecords(records);
      kafkaBatchResponse(result.failed);
      eventSamples.push(performance.now() - started);
    }
    const ev = summarize(eventSamples.slice(20));
    console.log(
      `events   batch of 100 http_request: p50 ${fmt(ev.p50)} p99 ${fmt(ev.p99)} -> ${Math.round((100 * 1000) / ev.mean)} records/s`,
    );

    // Commands: 100 batches of 10 time.now, answers acknowledged by the broker.
    const commands = createCommandConsumer({ name: 'onCommand', config, publisher: producer, logger, metrics: createMetrics() });
    const commandSamples: number[] = [];
    for (let b = 0; b < 100; b += 1) {
      const batch = Array.from({ length: 10 }, (_, i) =>
        rec(
          config.kafka.topics.commands,
          { type: 'time.now', correlation_id: `bench-${b}-${i}`, payload: { timezone: 'Europe/Paris' } },
          `client-${i}`,
        ),
      );
      const started = performance.now();
      const result = await commands.processRecords(batch);
      if (result.failed.length > 0) throw new Error('a command failed');
      commandSamples.push(performance.now() - started);
    }
    const cmd = summarize(commandSamples.slice(10));
    console.log(
      `commands batch of 10 time.now (answers acked): p50 ${fmt(cmd.p50)} p99 ${fmt(cmd.p99)} -> ${Math.round((10 * 1000) / cmd.mean)} commands/s`,
    );
  } finally {
    await producer.disconnect();
    await admin
      .deleteTopics({ topics: [config.kafka.topics.events, config.kafka.topics.commands, config.kafka.topics.dlq] })
      .catch(() => undefined);
    await admin.disconnect();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
