/**
 * The consumer functions against the real local broker and Pushgateway. Records are
 * written by independent clients (kcat, kafkajs), read back by a separate consumer, turned
 * into the exact MSK event Lambda sends (buildKafkaEvent), and given to the real handlers
 * (handlers/factories/consumer.ts, the middy chain of the consumer functions) in this process.
 * What the handlers publish (answers, dead letters) is read back from the broker.
 * Every run has its own topics, consumer groups and Pushgateway job.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Admin, Consumer, Kafka, Producer } from 'kafkajs';
import type { Context } from 'aws-lambda';
import { loadConfig } from '../../src/config';
import { createEvent, eventHeaders } from '../../src/events';
import { createContainerProducer, createKafka } from '../../src/kafka';
import type { ContainerProducer, OutgoingRecord, RecordAck, RecordPublisher } from '../../src/kafka';
import { DLQ_HEADERS } from '../../src/kafka/dlq';
import { toConsumedRecord } from '../../infra/offline-msk/src/kafka-source';
import { buildKafkaEvent } from '../../infra/offline-msk/src/event';
import type { KafkaBatchResponse } from '../../src/kafka/msk-event';
import type { ConsumedRecord } from '../../src/kafka/records';
import { createMetrics } from '../../src/metrics/container-metrics';
import { withoutCredentials } from '@simple-time-service/fleet-metrics';
import { deletePushedGroups } from '../helpers/pushgateway';
import { KafkaUnavailableError } from '../../src/kafka/errors';
import type { ConsumerName } from '../../src/consumers';
import { createConsumerHandler } from '../../handlers/factories/consumer';
import type { KafkaLambdaEvent } from '../../handlers/factories/consumer';
import { defaultDeps } from '../../handlers/factories/deps';
import { createTopic, topicEnv, uniqueName, uniqueServiceTopics } from '../helpers/kafka';
import { lambdaContext as context } from '../helpers/lambda';
import { waitFor } from '../helpers/wait-for';

const BROKERS = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
const PUSHGATEWAY = process.env.PUSHGATEWAY_URL ?? 'http://127.0.0.1:9091';
const topics = uniqueServiceTopics('cons');
const env = {
  KAFKA_BROKERS: BROKERS,
  PUSHGATEWAY_URL: PUSHGATEWAY,
  ...topicEnv(topics),
  KAFKA_CONSUMER_GROUP: uniqueName('cons-group'),
  SERVICE_NAME: uniqueName('sts-consumers-it'),
  LOG_LEVEL: 'ERROR',
  // Push on every invocation, so what a handler counted is on the Pushgateway when it returns.
  METRICS_PUSH_INTERVAL_MS: '0',
};
const config = loadConfig(env);
const functionConfig = (name: string) => loadConfig({ ...env, AWS_LAMBDA_FUNCTION_NAME: `it-${name}` });
const SOURCE = {
  kind: 'msk' as const,
  eventSourceArn: 'arn:aws:kafka:us-east-1:123456789012:cluster/local/it',
  bootstrapServers: [BROKERS],
};

type Handler = (event: KafkaLambdaEvent, context: Context) => Promise<KafkaBatchResponse>;

/** A handler of one function, as the container would build it, with this run's config. */
function handlerFor(name: ConsumerName, publisher: RecordPublisher): (records: ConsumedRecord[]) => Promise<KafkaBatchResponse> {
  const deps = { ...defaultDeps({ config: functionConfig(name), metrics: createMetrics() }), producer: () => publisher };
  const handler = createConsumerHandler(name, deps) as unknown as Handler; // middy's handler type carries callback overloads; this is how Lambda calls it.
  return (records) => handler(buildKafkaEvent(SOURCE, records) as unknown as KafkaLambdaEvent, context(name));
}

/** Reads every record of `topic` from the beginning with its own group, as ConsumedRecords. */
async function startCollector(kafka: Kafka, topic: string) {
  const consumer: Consumer = kafka.consumer({ groupId: uniqueName('collector'), maxWaitTimeInMs: 100 });
  const records: ConsumedRecord[] = [];
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachMessage: ({ topic: t, partition, message }) => {
      records.push(toConsumedRecord(t, partition, message));
      return Promise.resolve();
    },
  });
  return {
    records,
    waitFor: (match: (r: ConsumedRecord) => boolean, count = 1, timeoutMs = 15_000) =>
      waitFor(
        () => {
          const found = records.filter(match);
          return found.length >= count ? found : undefined;
        },
        { timeoutMs, what: `${count} matching record(s) on ${topic}` },
      ),
    stop: () => consumer.disconnect(),
  };
}

const header = (r: ConsumedRecord, name: string) => r.headers.find((h) => h.name === name)?.value.toString();
const json = (r: ConsumedRecord) => JSON.parse(r.value?.toString() ?? 'null') as Record<string, unknown>;

/** Fails the `failOn`-th send to `topic` (1-based) once, like a broker that did not acknowledge. */
/**
 * The first produce that carries records for `topic` writes only its first record (really,
 * on the broker) and then fails, as a produce does whose connection breaks after one
 * partition's batch was written: the function cannot know what was written.
 */
function partlyWrittenOnce(inner: RecordPublisher, topic: string): RecordPublisher & { failures: number } {
  const wrapper = {
    failures: 0,
    async send(records: OutgoingRecord[], options?: { timeoutMs?: number }): Promise<RecordAck[]> {
      if (wrapper.failures === 0 && records.some((r) => r.topic === topic)) {
        wrapper.failures += 1;
        await inner.send(records.slice(0, 1), options);
        throw new KafkaUnavailableError('the connection closed before the answer');
      }
      return inner.send(records, options);
    },
  };
  return wrapper;
}

describe('consumer functions against the real broker', () => {
  let kafka: Kafka;
  let admin: Admin;
  let producer: ContainerProducer;
  let testProducer: Producer;
  const collectors: Record<keyof typeof topics, Awaited<ReturnType<typeof startCollector>>> = {} as never;

  beforeAll(async () => {
    kafka = createKafka({ kafka: config.kafka, brokers: config.kafka.brokers, clientId: 'sts-consumers-it' });
    admin = kafka.admin();
    await admin.connect();
    for (const topic of Object.values(topics)) await createTopic(admin, topic, 3);
    producer = createContainerProducer({
      kafka: () => kafka,
      sendTimeoutMs: 5000,
      connectTimeoutMs: config.kafka.connectTimeoutMs,
    });
    testProducer = kafka.producer();
    await testProducer.connect();
    for (const [name, topic] of Object.entries(topics)) {
      collectors[name as keyof typeof topics] = await startCollector(kafka, topic);
    }
  });

  afterAll(async () => {
    await Promise.all(Object.values(collectors).map((c) => c.stop()));
    await testProducer?.disconnect();
    await producer?.disconnect();
    await admin?.disconnect();
    // The handlers pushed this run's metrics under its own job; leave the Pushgateway as it was.
    await deletePushedGroups(PUSHGATEWAY, config.service.name);
  });

  it('answers a command in the plain shape written by kcat on the events topic with the same correlation id and key', async () => {
    // Prepare: an independent client writes four commands to partition 0, in the plain command shape
    const run = uniqueName('kcat');
    const lines = [
      {
        type: 'time.now',
        correlation_id: `${run}-ok`,
        timestamp: '2026-01-31T12:34:56.123456',
        payload: { timezone: 'Asia/Kolkata', format: 'iso' },
        source: 'kcat',
      },
      { type: 'teapot.brew', correlation_id: `${run}-unknown`, timestamp: '2026-01-31T12:34:57', payload: {}, source: 'kcat' },
      { type: 'time.now', timestamp: '2026-01-31T12:34:58', payload: {}, source: 'kcat' },
      { type: 'time.now', correlation_id: `${run}-after`, timestamp: '2026-01-31T12:34:59', payload: { format: 'unix' }, source: 'kcat' },
    ];
    execFileSync('kcat', ['-P', '-b', BROKERS, '-t', topics.commands, '-k', `key-${run}`, '-p', '0'], {
      input: `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`,
      timeout: 15_000,
    });
    const written = await collectors.commands.waitFor((r) => r.key?.toString() === `key-${run}`, 4);
    const onCommand = handlerFor('onCommand', producer);

    // Act
    const response = await onCommand(written);

    // Assess: the batch succeeded
    expect(response).toEqual({ batchItemFailures: [] });
    // time.now.processed and command.rejected, with the commands' correlation ids and key
    const answers = await collectors.events.waitFor((r) => r.key?.toString() === `key-${run}`, 3);
    const byCorrelation = new Map(answers.map((r) => [json(r).correlation_id, json(r)]));
    expect(byCorrelation.get(`${run}-ok`)).toMatchObject({
      event_type: 'time.now.processed',
      data: { command_type: 'time.now', timezone: 'Asia/Kolkata', utc_offset: '+05:30' },
    });
    expect(byCorrelation.get(`${run}-unknown`)).toMatchObject({
      event_type: 'command.rejected',
      data: { command_type: 'teapot.brew', reason: 'unknown command type "teapot.brew"' },
    });
    expect(byCorrelation.get(`${run}-after`)).toMatchObject({ event_type: 'time.now.processed', data: { format: 'unix' } });
    for (const r of answers) expect(header(r, 'correlation_id')).toBe(json(r).correlation_id);
    // The command without a correlation id is in the dead-letter topic, bytes untouched
    const orphan = written[2];
    const [dead] = await collectors.dlq.waitFor((r) => r.key?.toString() === `key-${run}`);
    expect(dead?.value).toEqual(orphan?.value);
    expect(header(dead!, DLQ_HEADERS.reason)).toBe('missing_correlation_id');
    expect(header(dead!, DLQ_HEADERS.topic)).toBe(topics.commands);
    expect(header(dead!, DLQ_HEADERS.partition)).toBe('0');
    expect(header(dead!, DLQ_HEADERS.offset)).toBe(orphan?.offset);
  });

  it('dead-letters poison on every topic with reasons and coordinates, and processes the records after it', async () => {
    // Prepare: poison and good records on partition 0 of each topic, one key per run
    const run = uniqueName('poison');
    const key = `key-${run}`;
    const garbage = randomBytes(48);
    const good = createEvent({ eventType: 'user_signup', data: { user_id: run }, source: 'it', correlationId: run });
    const request = createEvent({
      eventType: 'http_request',
      data: { user_ip: '198.51.100.9', method: 'GET', endpoint: '/', hostname: 'it', os: 'Linux', request_id: run },
      source: 'it',
      correlationId: run,
    });
    const missingFields = JSON.stringify({ event_type: 'user_signup', data: {} });
    const message = (value: Buffer | string, headers: Record<string, string> = {}) => ({ key, value, partition: 0, headers });
    await testProducer.send({
      topic: topics.events,
      messages: [
        message(garbage, { trace: 'abc' }),
        message('{"event_type": "user_signup", "data": '),
        message(missingFields),
        message(JSON.stringify(good), eventHeaders(good)),
      ],
    });
    await testProducer.send({ topic: topics.requests, messages: [message('not json at all'), message(JSON.stringify(request))] });
    await testProducer.send({ topic: topics.commands, messages: [message(randomBytes(16))] });
    const events = await collectors.events.waitFor((r) => r.key?.toString() === key, 4);
    const requests = await collectors.requests.waitFor((r) => r.key?.toString() === key, 2);
    const commands = await collectors.commands.waitFor((r) => r.key?.toString() === key, 1);

    // Act: every function of each topic gets what its event source would send it
    const custom = await handlerFor('onCustomEvent', producer)(events);
    const responses = await handlerFor('onHttpResponse', producer)(events);
    const errors = await handlerFor('onError', producer)(events);
    const onRequest = await handlerFor('onHttpRequest', producer)(requests);
    const onCommand = await handlerFor('onCommand', producer)(commands);

    // Assess: no batch failed
    for (const response of [custom, responses, errors, onRequest, onCommand]) expect(response).toEqual({ batchItemFailures: [] });
    // Five dead letters: three from the events topic (once each), one per other topic
    const dead = await collectors.dlq.waitFor((r) => r.key?.toString() === key, 5);
    const summary = dead.map((r) => [header(r, DLQ_HEADERS.topic), header(r, DLQ_HEADERS.offset), header(r, DLQ_HEADERS.reason)]);
    expect(summary).toEqual(
      expect.arrayContaining([
        [topics.events, events[0]?.offset, 'not_utf8'],
        [topics.events, events[1]?.offset, 'not_json'],
        [topics.events, events[2]?.offset, 'invalid_envelope'],
        [topics.requests, requests[0]?.offset, 'not_json'],
        [topics.commands, commands[0]?.offset, 'not_utf8'],
      ]),
    );
    const deadGarbage = dead.find(
      (r) => header(r, DLQ_HEADERS.offset) === events[0]?.offset && header(r, DLQ_HEADERS.topic) === topics.events,
    );
    expect(deadGarbage?.value).toEqual(garbage);
    expect(header(deadGarbage!, 'trace')).toBe('abc');
    expect(header(deadGarbage!, DLQ_HEADERS.partition)).toBe('0');
    expect(
      header(
        dead.find((r) => header(r, DLQ_HEADERS.reason) === 'invalid_envelope')!,
        DLQ_HEADERS.error,
      ),
    ).toMatch(/id|correlation_id/);
    // The records after the poison were processed: the http_request reached the Pushgateway's caller count
    const pushed = await waitFor(
      async () => {
        const { url, headers } = withoutCredentials(PUSHGATEWAY);
        const text = await (await fetch(`${url}/metrics`, { headers, signal: AbortSignal.timeout(2000) })).text();
        return text
          .split('\n')
          .find(
            (l) =>
              l.startsWith('caller_requests_total{') && l.includes(`job="${config.service.name}"`) && l.includes('caller="198.51.100.9"'),
          );
      },
      { timeoutMs: 10_000, what: 'caller_requests_total on the Pushgateway' },
    );
    expect(pushed).toMatch(/ 1$/);
  });

  it('a produce that fails after part of it was written: every command is reported, delivered again, and answered once by id', async () => {
    // Prepare: three commands on partition 0; the produce of their answers writes the first and then fails
    const run = uniqueName('partial');
    const key = `key-${run}`;
    const ids = ['c1', 'c2', 'c3'].map((c) => `${run}-${c}`);
    await testProducer.send({
      topic: topics.commands,
      messages: ids.map((id) => ({ key, partition: 0, value: JSON.stringify({ type: 'time.now', correlation_id: id, payload: {} }) })),
    });
    const batch = await collectors.commands.waitFor((r) => r.key?.toString() === key, 3);
    const publisher = partlyWrittenOnce(producer, topics.events);
    const onCommand = handlerFor('onCommand', publisher);

    // Act: the batch; what Lambda delivers again (from the reported offset); the whole batch again (a retried timeout)
    const first = await onCommand(batch);
    const failedOffset = first.batchItemFailures[0]?.itemIdentifier.offset;
    const again = await onCommand(batch.filter((r) => Number(r.offset) >= Number(failedOffset)));
    const wholeBatch = await onCommand(batch);
    // A marker on the answers' partition: once it is read, every answer before it has been read too.
    await producer.send([{ topic: topics.events, key, value: JSON.stringify({ marker: run }) }]);
    await collectors.events.waitFor((r) => r.key?.toString() === key && r.value?.toString().includes('"marker"') === true);

    // Assess: AWS's partial batch response for Kafka names the records by "<topic>-<partition>" and offset:
    // none of the produce's records was acknowledged, so the first and every one after it
    expect(publisher.failures).toBe(1);
    expect(first).toEqual({
      batchItemFailures: [0, 1, 2].map((i) => ({
        itemIdentifier: { partition: `${topics.commands}-0`, offset: Number(batch[i]?.offset) },
      })),
    });
    expect(again).toEqual({ batchItemFailures: [] });
    expect(wholeBatch).toEqual({ batchItemFailures: [] });
    const answers = collectors.events.records.filter((r) => r.key?.toString() === key && header(r, 'event_type') === 'time.now.processed');
    // The first answer was written twice (before the failure and on redelivery), the same event both times
    expect(answers.map((r) => json(r).correlation_id).sort()).toEqual([ids[0], ...ids].sort());
    expect(new Set(answers.map((r) => json(r).id)).size).toBe(3);

    // Act: a new container (empty memory) gets the batch again: it answers again, with the same event ids
    const otherContainer = handlerFor('onCommand', producer);
    expect(await otherContainer(batch)).toEqual({ batchItemFailures: [] });
    const all = await collectors.events.waitFor((r) => r.key?.toString() === key && header(r, 'event_type') === 'time.now.processed', 7);

    // Assess: the repeats are duplicates by id, and the events consumer drops them
    expect(new Set(all.map((r) => json(r).id)).size).toBe(3);
    const metrics = createMetrics();
    const deps = { ...defaultDeps({ config: functionConfig('onCustomEvent'), metrics }), producer: () => producer };
    const onCustom = createConsumerHandler('onCustomEvent', deps) as unknown as Handler;
    await onCustom(buildKafkaEvent(SOURCE, all) as unknown as KafkaLambdaEvent, context('onCustomEvent'));
    const suppressed = await metrics.registry.getSingleMetric('duplicates_suppressed_total')?.get();
    expect(suppressed?.values.find((v) => v.labels.event_type === 'time.now.processed')?.value).toBe(4);
  });
});
