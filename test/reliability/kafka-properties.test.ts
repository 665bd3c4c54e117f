/**
 * Property-based bad input for every consumer function, against the real local broker.
 * fast-check generates batches of records (random bytes, tombstones, truncated JSON,
 * invalid UTF-8, wrong types, huge values, unusual unicode, unknown event types, missing
 * correlation ids, refused data) mixed with valid envelopes and valid commands in the plain shape.
 * They are produced to this run's own topics, read back, turned into the MSK event Lambda
 * sends (buildKafkaEvent) and given to the real handlers (handlers/factories/consumer.ts) in
 * this process, every function of a topic getting the whole batch.
 *
 * Asserted for every batch: no handler throws; the partial batch response is empty (the
 * broker is up, so nothing is retriable); every record is handled or dead-lettered by
 * exactly one function of its topic and skipped by the others (no partition blocked);
 * every valid record is processed (a command is answered on the events topic); every
 * poison record is in the dead-letter topic with a `dlq.reason` the generator expects, its
 * source topic, partition and offset, and its value byte for byte. At the end, every
 * dead letter of the run is read back to the topic's end: each poison record exactly once.
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Admin, Consumer, Kafka, Producer } from 'kafkajs';
import type { Context } from 'aws-lambda';
import { loadConfig } from '../../src/config';
import { CONSUMER_FUNCTIONS, consumerFunction } from '../../src/consumers';
import type { Consumer as ServiceConsumer, ConsumerName } from '../../src/consumers';
import type { BatchResult, RecordOutcome } from '../../src/consumers/batch';
import { createContainerProducer, createKafka } from '../../src/kafka';
import type { ContainerProducer } from '../../src/kafka';
import { DLQ_HEADERS } from '../../src/kafka/dlq';
import type { DeadLetterReason } from '../../src/kafka/dlq';
import { toConsumedRecord } from '../../infra/offline-msk/src/kafka-source';
import { buildKafkaEvent } from '../../infra/offline-msk/src/event';
import type { KafkaBatchResponse } from '../../src/kafka/msk-event';
import type { ConsumedRecord } from '../../src/kafka/records';
import { createMetrics } from '../../src/metrics/container-metrics';
import { deletePushedGroups } from '../helpers/pushgateway';
import { createConsumerHandler, tableConsumer } from '../../handlers/factories/consumer';
import type { KafkaLambdaEvent } from '../../handlers/factories/consumer';
import { defaultDeps } from '../../handlers/factories/deps';
import { createTopic, topicEnv, uniqueName, uniqueServiceTopics } from '../helpers/kafka';
import { lambdaContext } from '../helpers/lambda';
import { waitFor } from '../helpers/wait-for';

const BROKERS = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
const PUSHGATEWAY = process.env.PUSHGATEWAY_URL ?? 'http://127.0.0.1:9091';
/**
 * fast-check runs per topic; each run is one batch of 40 to 150 records. CI runs 8 per
 * topic (about 2,000 records); before a release RELIABILITY_HEAVY=1 runs 20 (about 5,000).
 */
const RUNS = Number(process.env.RELIABILITY_PROPERTY_RUNS ?? (process.env.RELIABILITY_HEAVY === '1' ? 20 : 8));
const PARTITIONS = 3;
/** Under the broker's default message.max.bytes (1 MiB) with room for the dlq.* headers. */
const HUGE_MAX = 512 * 1024;

const topics = uniqueServiceTopics('prop');
const env = {
  KAFKA_BROKERS: BROKERS,
  PUSHGATEWAY_URL: PUSHGATEWAY,
  ...topicEnv(topics),
  KAFKA_CONSUMER_GROUP: uniqueName('prop-group'),
  SERVICE_NAME: uniqueName('sts-kafka-props'),
  LOG_LEVEL: 'SILENT',
};
const config = loadConfig(env);
/** The consumer functions of each topic, from the table. */
const FUNCTIONS_OF: Record<'requests' | 'events' | 'commands', ConsumerName[]> = {
  requests: CONSUMER_FUNCTIONS.filter((fn) => fn.topic === 'requests').map((fn) => fn.name),
  events: CONSUMER_FUNCTIONS.filter((fn) => fn.topic === 'events').map((fn) => fn.name),
  commands: CONSUMER_FUNCTIONS.filter((fn) => fn.topic === 'commands').map((fn) => fn.name),
};
const FUNCTION_NAMES = Object.values(FUNCTIONS_OF).flat();
const functionConfig = (name: string) => loadConfig({ ...env, AWS_LAMBDA_FUNCTION_NAME: `prop-${name}` });
const SOURCE = {
  kind: 'msk' as const,
  eventSourceArn: 'arn:aws:kafka:us-east-1:123456789012:cluster/local/prop',
  bootstrapServers: [BROKERS],
};
const RUN_HEADER = 'prop.run';

type TopicName = keyof typeof FUNCTIONS_OF;
/** What the generator knows a record must become. */
type Expectation = { valid: true } | { valid: false; reasons: readonly DeadLetterReason[] };
interface Generated {
  kind: string;
  value: Buffer | null;
  key: string | null;
  expect: Expectation;
}
/** Unique per record, so two generated records never share an event id. */
type U = { id: string; correlationId: string };
/** A record made from unique ids. */
type Template = (unique: U) => Generated;

const header = (r: ConsumedRecord, name: string) => r.headers.find((h) => h.name === name)?.value.toString();

// ---------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------

const unusualText = fc.oneof(
  fc.constantFrom(
    '\uD800',
    '\uDFFF',
    'a\uD83Dz',
    '\u202Egnp.exe',
    '\u200B',
    '\u200D\u200C\uFEFF',
    '\u0645\u0631\u062D\u0628\u0627',
    'e\u0301',
    '\u0000',
    '\u3000',
  ),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
);
const dataValues = fc.dictionary(fc.string({ maxLength: 12 }), fc.oneof(fc.jsonValue({ maxDepth: 2 }), unusualText), { maxKeys: 6 });
const timestamp = fc
  .date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true })
  .map((d) => d.toISOString());
/** Event types our functions on the events topic do not own by name: onCustomEvent takes them. */
const customType = fc
  .stringMatching(/^[a-z][a-z0-9_.:-]{0,30}$/)
  .filter((t) => t !== 'http_response' && t !== 'error' && t !== 'http_request');
const nonString = fc.oneof(
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.constant({ nested: true }),
);
const nonObject = fc.oneof(
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.string({ maxLength: 20 }),
  fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 3 }),
);

function envelope(u: U, eventType: string, data: unknown, ts: string): Record<string, unknown> {
  return { id: u.id, event_type: eventType, timestamp: ts, source: 'property-test', correlation_id: u.correlationId, data, version: '1.0' };
}
const json = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8');
const valid = { valid: true } as const;
const dead = (...reasons: DeadLetterReason[]): Expectation => ({ valid: false, reasons });
/**
 * Generated objects may have a key named "__proto__": event data with one is refused (an
 * invalid envelope) rather than processed without it.
 */
const unlessProtoKey = (data: unknown, expectation: Expectation): Expectation =>
  typeof data === 'object' && data !== null && Object.prototype.hasOwnProperty.call(data, '__proto__')
    ? dead('invalid_envelope')
    : expectation;
const key = fc.option(fc.oneof(fc.string({ maxLength: 40 }), fc.ipV4()), { nil: null });

const requestData = fc.record({
  user_ip: fc.ipV4(),
  method: fc.constantFrom('GET', 'POST'),
  endpoint: fc.webPath(),
  hostname: fc.string({ maxLength: 20 }),
});
const responseData = fc.record({
  user_ip: fc.ipV4(),
  status_code: fc.integer({ min: 100, max: 599 }),
  response_time_ms: fc.double({ min: 0, max: 60_000, noNaN: true }),
  endpoint: fc.webPath(),
});
const errorData = fc.record({
  error_message: fc.string({ maxLength: 200 }),
  error_type: fc.stringMatching(/^[A-Za-z]{1,20}$/),
  service: fc.constantFrom('sts', 'other'),
});

/** Valid envelopes of the types a topic's functions handle. */
function validEnvelope(topic: TopicName): fc.Arbitrary<Template> {
  const typed: Record<TopicName, fc.Arbitrary<{ type: string; data: unknown }>> = {
    requests: requestData.map((data) => ({ type: 'http_request', data })),
    events: fc.oneof(
      responseData.map((data) => ({ type: 'http_response', data })),
      errorData.map((data) => ({ type: 'error', data })),
      fc.record({ type: customType, data: dataValues }),
    ),
    commands: fc.record({
      type: fc.constant('time.now'),
      data: fc.record(
        {
          timezone: fc.constantFrom('UTC', 'Europe/Paris', 'Asia/Kolkata', 'America/St_Johns'),
          format: fc.constantFrom('iso', 'date', 'time', 'unix', 'unix_ms', 'human'),
        },
        { requiredKeys: [] },
      ),
    }),
  };
  return fc.tuple(typed[topic], timestamp, key).map(([{ type, data }, ts, k]) => (u: U) => ({
    kind: 'valid_envelope',
    key: k,
    value: json(envelope(u, type, data, ts)),
    expect: unlessProtoKey(data, valid),
  }));
}

/** Commands in the plain shape: time.now with any payload, and unknown types (answered command.rejected). */
const validPlainCommand: fc.Arbitrary<Template> = fc
  .tuple(
    fc.oneof(fc.constant('time.now'), fc.stringMatching(/^[a-z][a-z0-9_.]{0,20}$/)),
    fc.option(
      fc.record(
        { timezone: fc.oneof(fc.constantFrom('UTC', 'Asia/Tokyo'), fc.string({ maxLength: 30 })), format: fc.string({ maxLength: 10 }) },
        { requiredKeys: [] },
      ),
      { nil: undefined },
    ),
    key,
  )
  .map(([type, payload, k]) => (u: U) => ({
    kind: 'valid_plain_command',
    key: k,
    value: json({
      type,
      correlation_id: u.correlationId,
      timestamp: '2026-01-31T12:34:56.123456',
      ...(payload ? { payload } : {}),
      source: 'property-test',
    }),
    expect: valid,
  }));

/** Records no function can ever process, whatever the topic. */
const anyTopicPoison: fc.Arbitrary<Template> = fc.oneof(
  fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 2048 }), key).map(([bytes, k]) => () => ({
    kind: 'random_bytes',
    key: k,
    value: Buffer.from(bytes),
    // Random bytes may happen to be JSON (`{}`): then a command without a correlation id.
    expect: dead('not_utf8', 'not_json', 'invalid_envelope', 'invalid_command', 'missing_correlation_id'),
  })),
  key.map((k) => () => ({ kind: 'tombstone', key: k, value: null, expect: dead('empty_value') })),
  fc.tuple(fc.double({ min: 0.01, max: 0.99, noNaN: true }), customType, dataValues, key).map(([cut, type, data, k]) => (u: U) => {
    const text = JSON.stringify(envelope(u, type, data, new Date().toISOString()));
    return {
      kind: 'truncated_json',
      key: k,
      value: Buffer.from(text.slice(0, Math.max(1, Math.floor(text.length * cut))), 'utf8'),
      expect: dead('not_json'),
    };
  }),
  fc
    .tuple(fc.constantFrom([0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82]), key)
    .map(([bad, k]) => (u: U) => {
      const text = JSON.stringify(envelope(u, 'user_signup', { note: 'x' }, new Date().toISOString()));
      const at = text.indexOf('"x"') + 1;
      return {
        kind: 'invalid_utf8',
        key: k,
        value: Buffer.concat([Buffer.from(text.slice(0, at)), Buffer.from(bad), Buffer.from(text.slice(at))]),
        expect: dead('not_utf8'),
      };
    }),
  fc
    .tuple(
      fc.jsonValue({ maxDepth: 3 }).filter((v) => typeof v !== 'object' || v === null || Array.isArray(v)),
      key,
    )
    .map(([v, k]) => () => ({
      kind: 'json_not_object',
      key: k,
      value: json(v),
      expect: dead('invalid_envelope', 'invalid_command'),
    })),
);

/** Envelope fields replaced with a wrong type, or removed, or given unusual unicode. */
function brokenEnvelope(topic: TopicName): fc.Arbitrary<Template> {
  const baseType = topic === 'requests' ? 'http_request' : topic === 'commands' ? 'time.now' : 'user_signup';
  const onCommands = topic === 'commands';
  return fc.oneof(
    fc
      .tuple(fc.constantFrom('id', 'event_type', 'timestamp', 'source', 'version', 'correlation_id'), nonString, key)
      .map(([field, wrong, k]) => (u: U) => {
        const value = { ...envelope(u, baseType, {}, new Date().toISOString()), [field]: wrong };
        // A command whose correlation_id is null has none: it can never be answered.
        const reasons: DeadLetterReason[] =
          onCommands && field === 'correlation_id' && wrong === null ? ['missing_correlation_id'] : ['invalid_envelope'];
        return { kind: `wrong_type_${field}`, key: k, value: json(value), expect: dead(...reasons) };
      }),
    fc.tuple(nonObject, key).map(([wrong, k]) => (u: U) => ({
      kind: 'wrong_type_data',
      key: k,
      value: json(envelope(u, baseType, wrong, new Date().toISOString())),
      expect: dead('invalid_envelope'),
    })),
    fc.tuple(fc.constantFrom(undefined, '', '   ', '\u3000'), key).map(([missing, k]) => (u: U) => {
      const { correlation_id: _dropped, ...rest } = envelope(u, baseType, {}, new Date().toISOString());
      const value = missing === undefined ? rest : { ...rest, correlation_id: missing };
      return {
        kind: 'missing_correlation_id_envelope',
        key: k,
        value: json(value),
        expect: dead(onCommands ? 'missing_correlation_id' : 'invalid_envelope'),
      };
    }),
    fc
      .tuple(
        fc.constantFrom('event_type', 'correlation_id'),
        unusualText.filter((t) => t.trim() !== '' && !/^[\x21-\x7e]+$/.test(t)),
        key,
      )
      .map(([field, text, k]) => (u: U) => ({
        kind: `unicode_${field}`,
        key: k,
        value: json({ ...envelope(u, baseType, {}, new Date().toISOString()), [field]: text }),
        expect: dead('invalid_envelope'),
      })),
    fc.tuple(fc.string({ minLength: 1, maxLength: 8 }), key).map(([extra, k]) => (u: U) => ({
      kind: 'unknown_envelope_field',
      key: k,
      value: json({ ...envelope(u, baseType, {}, new Date().toISOString()), [`x_${extra}`]: 1 }),
      expect: dead('invalid_envelope'),
    })),
  );
}

/** Per topic: what only some topics refuse, and what only some accept. */
function topicSpecific(topic: TopicName): fc.Arbitrary<Template> {
  const now = () => new Date().toISOString();
  const unicodeData = fc.dictionary(fc.oneof(fc.string({ maxLength: 5 }), unusualText), unusualText, { minKeys: 1, maxKeys: 4 });
  if (topic === 'requests') {
    return fc.oneof(
      fc.tuple(customType, dataValues, key).map(([type, data, k]) => (u: U) => ({
        kind: 'unknown_event_type',
        key: k,
        value: json(envelope(u, type, data, now())),
        expect: unlessProtoKey(data, dead('unhandled_event_type')),
      })),
      fc.tuple(fc.constantFrom('user_ip', 'method'), key).map(([drop, k]) => (u: U) => {
        const data: Record<string, unknown> = { user_ip: '203.0.113.7', method: 'GET', endpoint: '/' };
        delete data[drop];
        return { kind: 'invalid_data', key: k, value: json(envelope(u, 'http_request', data, now())), expect: dead('invalid_data') };
      }),
      fc.tuple(unicodeData, key).map(([extra, k]) => (u: U) => ({
        kind: 'unicode_valid',
        key: k,
        value: json(envelope(u, 'http_request', { user_ip: '\u202E1.2.3.4', method: 'G\u200BET', endpoint: '/\uD800', ...extra }, now())),
        expect: unlessProtoKey(extra, valid),
      })),
    );
  }
  if (topic === 'events') {
    return fc.oneof(
      fc.tuple(customType, dataValues, key).map(([type, data, k]) => (u: U) => ({
        kind: 'unknown_event_type',
        key: k,
        value: json(envelope(u, type, data, now())),
        expect: unlessProtoKey(data, valid),
      })),
      fc
        .tuple(fc.oneof(fc.integer({ min: -1000, max: 99 }), fc.integer({ min: 600, max: 100_000 }), fc.constant(200.5)), key)
        .map(([status, k]) => (u: U) => ({
          kind: 'invalid_data',
          key: k,
          value: json(envelope(u, 'http_response', { status_code: status, response_time_ms: 1 }, now())),
          expect: dead('invalid_data'),
        })),
      key.map((k) => (u: U) => ({
        kind: 'invalid_data',
        key: k,
        value: json(envelope(u, 'error', { error_message: 'x', error_type: '', service: 's' }, now())),
        expect: dead('invalid_data'),
      })),
      // http_request has a handler of its own, whichever topic it arrives on.
      key.map((k) => (u: U) => ({
        kind: 'invalid_data',
        key: k,
        value: json(envelope(u, 'http_request', { nope: true }, now())),
        expect: dead('invalid_data'),
      })),
      fc.tuple(unicodeData, key).map(([data, k]) => (u: U) => ({
        kind: 'unicode_valid',
        key: k,
        value: json(envelope(u, 'user_signup', data, now())),
        expect: unlessProtoKey(data, valid),
      })),
    );
  }
  return fc.oneof(
    validPlainCommand,
    validPlainCommand,
    fc.tuple(fc.constantFrom(undefined, null, '', '  ', '\u3000'), key).map(([missing, k]) => () => ({
      kind: 'missing_correlation_id_plain',
      key: k,
      value: json({ type: 'time.now', payload: {}, ...(missing === undefined ? {} : { correlation_id: missing }) }),
      expect: dead('missing_correlation_id'),
    })),
    fc
      .oneof(fc.tuple(fc.constantFrom('type', 'timestamp', 'source'), nonString), fc.tuple(fc.constant('payload'), nonObject))
      .chain(([field, wrong]) => key.map((k) => [field, wrong, k] as const))
      .map(
        ([field, wrong, k]) =>
          (u: U) =>
            ({
              kind: `wrong_type_plain_${field}`,
              key: k,
              value: json({ type: 'time.now', correlation_id: u.correlationId, payload: {}, [field]: wrong }),
              // A JSON null timestamp/source/payload is not optional-absent: zod refuses it too.
              expect: dead('invalid_command'),
            }) satisfies Generated,
      ),
    fc
      .tuple(
        unusualText.filter((t) => !/^[A-Za-z0-9][A-Za-z0-9._:-]*$/.test(t)),
        key,
      )
      .map(([type, k]) => (u: U) => ({
        kind: 'unicode_command_type',
        key: k,
        value: json({ type, correlation_id: u.correlationId, payload: {} }),
        expect: dead('invalid_command'),
      })),
    key.map((k) => (u: U) => ({
      kind: 'neither_shape',
      key: k,
      value: json({ correlation_id: u.correlationId, hello: 'world' }),
      expect: dead('invalid_command'),
    })),
  );
}

/** 100 KB to 512 KB values: valid (a huge data field) or not JSON at all. */
function hugeRecord(topic: TopicName): fc.Arbitrary<Template> {
  const now = () => new Date().toISOString();
  const blob = fc.integer({ min: 100_000, max: HUGE_MAX }).map((n) => 'h'.repeat(n));
  const validHuge: Record<TopicName, (u: U, blob: string) => unknown> = {
    requests: (u, b) => envelope(u, 'http_request', { user_ip: '203.0.113.8', method: 'GET', endpoint: '/', hostname: b }, now()),
    events: (u, b) => envelope(u, 'user_signup', { blob: b }, now()),
    commands: (u, b) => ({ type: 'time.now', correlation_id: u.correlationId, payload: { timezone: 'UTC', pad: b } }),
  };
  return fc.tuple(fc.boolean(), blob, key).map(
    ([isValid, b, k]) =>
      (u: U) =>
        isValid
          ? { kind: 'huge_valid', key: k, value: json(validHuge[topic](u, b)), expect: valid }
          : { kind: 'huge_not_json', key: k, value: Buffer.from(b), expect: dead('not_json') },
  );
}

function recordArbitrary(topic: TopicName): fc.Arbitrary<Template> {
  return fc.oneof(
    { arbitrary: validEnvelope(topic), weight: 8 },
    { arbitrary: anyTopicPoison, weight: 6 },
    { arbitrary: brokenEnvelope(topic), weight: 6 },
    { arbitrary: topicSpecific(topic), weight: 6 },
    { arbitrary: hugeRecord(topic), weight: 1 },
  );
}

/** Huge records are about 1 in 27: a batch of 150 stays under Lambda's 6 MB event on average. */
function batchArbitrary(topic: TopicName): fc.Arbitrary<Template[]> {
  return fc.array(recordArbitrary(topic), { minLength: 40, maxLength: 150, size: 'max' });
}

// ---------------------------------------------------------------------------------------
// The broker side
// ---------------------------------------------------------------------------------------

/** Reads every record of `topic` from the beginning with its own group. */
async function startCollector(kafka: Kafka, topic: string) {
  const consumer: Consumer = kafka.consumer({ groupId: uniqueName('prop-collector'), maxWaitTimeInMs: 100, maxBytes: 20 * 1024 * 1024 });
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
    waitFor: (match: (r: ConsumedRecord) => boolean, count: number, timeoutMs = 30_000) =>
      waitFor(
        () => {
          const found = records.filter(match);
          return found.length >= count ? found : undefined;
        },
        { timeoutMs, what: `${count} matching record(s) on ${topic}` },
      ),
    /** Forgets records already checked, so a long run does not hold every huge value. */
    forget: (match: (r: ConsumedRecord) => boolean) => {
      const keep = records.filter((r) => !match(r));
      records.length = 0;
      records.push(...keep);
    },
    /** Keeps a record's coordinates and headers but drops its value. */
    slim: (match: (r: ConsumedRecord) => boolean) => {
      for (const [i, r] of records.entries()) if (match(r)) records[i] = { ...r, value: null };
    },
    stop: () => consumer.disconnect(),
  };
}

/** Sends in chunks under the broker's per-batch limit, huge records on their own. */
async function produce(producer: Producer, topic: string, run: string, generated: Generated[]): Promise<void> {
  let chunk: Array<{ key: string | null; value: Buffer | null; partition: number; headers: Record<string, string> }> = [];
  let bytes = 0;
  const flush = async () => {
    if (chunk.length > 0) await producer.send({ topic, acks: -1, messages: chunk });
    chunk = [];
    bytes = 0;
  };
  for (const [index, g] of generated.entries()) {
    const size = g.value?.length ?? 0;
    if (bytes + size > 400 * 1024) await flush();
    chunk.push({ key: g.key, value: g.value, partition: index % PARTITIONS, headers: { [RUN_HEADER]: run, 'prop.index': String(index) } });
    bytes += size;
  }
  await flush();
}

type Handler = (event: KafkaLambdaEvent, context: Context) => Promise<KafkaBatchResponse>;

/** The real handler of one function, built as a container would, recording each batch's outcomes. */
function handlerFor(name: ConsumerName, producer: ContainerProducer) {
  const results: BatchResult[] = [];
  const build = (deps: Parameters<ReturnType<typeof tableConsumer>>[0]): ServiceConsumer => {
    const inner = tableConsumer(consumerFunction(name))(deps);
    return {
      name: inner.name,
      processRecords: async (records) => {
        const result = await inner.processRecords(records);
        results.push(result);
        return result;
      },
    };
  };
  const deps = { ...defaultDeps({ config: functionConfig(name), metrics: createMetrics() }), producer: () => producer };
  const handler = createConsumerHandler(name, deps, { build }) as unknown as Handler; // middy's handler type carries callback overloads; this is how Lambda calls it.
  return {
    results,
    invoke: (records: ConsumedRecord[]) => handler(buildKafkaEvent(SOURCE, records) as unknown as KafkaLambdaEvent, lambdaContext(name)),
  };
}

const coordinate = (topic: string, partition: number | string, offset: string) => `${topic}/${partition}/${offset}`;

describe('consumer functions under generated records (in-process, real broker)', () => {
  let kafka: Kafka;
  let admin: Admin;
  let producer: ContainerProducer;
  let testProducer: Producer;
  const collectors = {} as Record<'events' | 'dlq' | TopicName, Awaited<ReturnType<typeof startCollector>>>;
  const handlers = new Map<string, ReturnType<typeof handlerFor>>();
  /** Every poison record, by source coordinate, and what the run saw. */
  const expectedDead = new Map<string, { reasons: readonly DeadLetterReason[] }>();
  const figures = {
    records: 0,
    valid: 0,
    poison: 0,
    byKind: new Map<string, number>(),
    byReason: new Map<string, number>(),
    invocations: 0,
  };
  const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);

  beforeAll(async () => {
    kafka = createKafka({ kafka: config.kafka, brokers: config.kafka.brokers, clientId: 'sts-kafka-props' });
    admin = kafka.admin();
    await admin.connect();
    for (const topic of Object.values(topics)) await createTopic(admin, topic, PARTITIONS);
    producer = createContainerProducer({ kafka: () => kafka, sendTimeoutMs: 10_000, connectTimeoutMs: config.kafka.connectTimeoutMs });
    testProducer = kafka.producer();
    await testProducer.connect();
    for (const name of ['requests', 'events', 'commands', 'dlq'] as const) collectors[name] = await startCollector(kafka, topics[name]);
    for (const name of FUNCTION_NAMES) handlers.set(name, handlerFor(name, producer));
  });

  afterAll(async () => {
    await Promise.all(Object.values(collectors).map((c) => c.stop()));
    await testProducer?.disconnect();
    await producer?.disconnect();
    await admin?.disconnect();
    // The handlers pushed this run's metrics under its own job; leave the Pushgateway as it was.
    await deletePushedGroups(PUSHGATEWAY, config.service.name);
  });

  async function checkBatch(topic: TopicName, templates: Template[]): Promise<void> {
    // Prepare: unique ids, produced to partitions 0..2 and read back as the event source would
    const run = uniqueName('prop-run');
    const generated = templates.map((t, i) => t({ id: randomUUID(), correlationId: `${run}-${i}` }));
    await produce(testProducer, topics[topic], run, generated);
    const read = await collectors[topic].waitFor((r) => header(r, RUN_HEADER) === run, generated.length);
    const byIndex = new Map(read.map((r) => [Number(header(r, 'prop.index')), r]));
    const functions = FUNCTIONS_OF[topic].map((name) => ({ name, ...handlers.get(name)! }));

    // Act: every function of the topic gets the whole batch, as one MSK event
    const responses: KafkaBatchResponse[] = [];
    for (const fn of functions) {
      const before = fn.results.length;
      responses.push(await fn.invoke(read));
      figures.invocations += 1;
      expect(fn.results.length).toBe(before + 1);
    }

    // Assess: no record reported failed (the broker is up: nothing is retriable)
    for (const response of responses) expect(response).toEqual({ batchItemFailures: [] });
    const outcomesOf = (r: ConsumedRecord): Array<{ fn: string; outcome: RecordOutcome }> =>
      functions.map((fn) => ({
        fn: fn.name,
        outcome: fn.results.at(-1)!.outcomes.find((o) => o.record.offset === r.offset && o.record.partition === r.partition)!.outcome,
      }));
    const deadHere: Array<{ record: ConsumedRecord; reason: DeadLetterReason }> = [];
    const commandIds: string[] = [];
    for (const [index, g] of generated.entries()) {
      const record = byIndex.get(index)!;
      expect(record, `record ${index} read back`).toBeDefined();
      const outcomes = outcomesOf(record);
      const context = `${g.kind} at ${coordinate(record.topic, record.partition, record.offset)}: ${JSON.stringify(outcomes)}`;
      // Covered: one function acts on it, the others skip it; nothing failed or left behind
      for (const { outcome } of outcomes) expect(['processed', 'dead_lettered', 'skipped'], context).toContain(outcome.status);
      const acting = outcomes.filter(({ outcome }) => outcome.status !== 'skipped');
      expect(acting, context).toHaveLength(1);
      const { outcome } = acting[0]!;
      figures.records += 1;
      bump(figures.byKind, `${topic}:${g.kind}`);
      if (g.expect.valid) {
        figures.valid += 1;
        expect(outcome.status, context).toBe('processed');
        if (topic === 'commands' && outcome.status === 'processed') commandIds.push(outcome.id);
      } else {
        figures.poison += 1;
        expect(outcome.status, context).toBe('dead_lettered');
        const reason = outcome.status === 'dead_lettered' ? outcome.reason : 'handler_error';
        expect(g.expect.reasons, context).toContain(reason);
        bump(figures.byReason, reason);
        expectedDead.set(coordinate(record.topic, record.partition, record.offset), { reasons: g.expect.reasons });
        deadHere.push({ record, reason });
      }
    }
    // Every poison record is in the dead-letter topic: reason, source coordinates, bytes untouched
    const dlq = await collectors.dlq.waitFor((r) => header(r, RUN_HEADER) === run, deadHere.length);
    expect(dlq).toHaveLength(deadHere.length);
    for (const { record: original, reason } of deadHere) {
      const letters = dlq.filter(
        (d) => header(d, DLQ_HEADERS.partition) === String(original.partition) && header(d, DLQ_HEADERS.offset) === original.offset,
      );
      expect(letters, coordinate(original.topic, original.partition, original.offset)).toHaveLength(1);
      const letter = letters[0]!;
      expect(header(letter, DLQ_HEADERS.topic)).toBe(topics[topic]);
      expect(header(letter, DLQ_HEADERS.reason)).toBe(reason);
      expect(letter.value).toEqual(original.value);
      expect(letter.key).toEqual(original.key);
    }
    // Every valid command is answered on the events topic (time.now.processed or command.rejected)
    if (commandIds.length > 0) {
      const wanted = new Set(commandIds);
      const answers = await collectors.events.waitFor((r) => wanted.has(header(r, 'command_id') ?? ''), commandIds.length);
      expect(new Set(answers.map((a) => header(a, 'command_id'))).size).toBe(commandIds.length);
      collectors.events.forget((r) => wanted.has(header(r, 'command_id') ?? ''));
    }
    collectors[topic].forget((r) => header(r, RUN_HEADER) === run);
    collectors.dlq.slim((r) => header(r, RUN_HEADER) === run);
  }

  for (const topic of ['requests', 'events', 'commands'] as const) {
    it(`${FUNCTIONS_OF[topic].join(', ')}: every generated record on the ${topic} topic is handled or dead-lettered once`, async () => {
      await fc.assert(
        fc.asyncProperty(batchArbitrary(topic), (batch) => checkBatch(topic, batch)),
        { numRuns: RUNS, endOnFailure: true },
      );
    }, 600_000);
  }

  it('the dead-letter topic holds each poison record exactly once, read to its end', async () => {
    // Prepare: where the dead-letter topic ends now
    const ends = await admin.fetchTopicOffsets(topics.dlq);
    const total = ends.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);

    // Act: read it to that end
    const all = await collectors.dlq.waitFor((r) => header(r, RUN_HEADER) !== undefined, total, 60_000);

    // Assess: one dead letter per poison record, each with a reason and its coordinates
    const seen = all.map((r) =>
      coordinate(header(r, DLQ_HEADERS.topic) ?? '?', header(r, DLQ_HEADERS.partition) ?? '?', header(r, DLQ_HEADERS.offset) ?? '?'),
    );
    expect(new Set(seen).size).toBe(seen.length);
    expect(new Set(seen)).toEqual(new Set(expectedDead.keys()));
    for (const r of all) expect(header(r, DLQ_HEADERS.reason)).toBeDefined();
    const lines = [
      `records ${figures.records} (valid ${figures.valid}, poison ${figures.poison}), handler invocations ${figures.invocations}, dead letters ${all.length}`,
      `dead letters by reason: ${JSON.stringify(Object.fromEntries([...figures.byReason].sort()))}`,
      `records by topic and kind: ${JSON.stringify(Object.fromEntries([...figures.byKind].sort()))}`,
    ];
    console.log(lines.join('\n'));
  });
});
