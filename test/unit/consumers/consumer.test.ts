import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CONSUMER_FUNCTIONS, consumerFunction, createEventConsumer } from '../../../src/consumers';
import type { ConsumerRow } from '../../../src/consumers';
import { createEventHandlerTable } from '../../../src/consumers/event-handler-table';
import { ValidationError } from '../../../src/errors';
import { filterPatterns } from '../../../src/consumers/functions';
import { recordOwnership } from '../../../src/consumers/ownership';
import { createCommandConsumer } from '../../../src/commands';
import { compileFilterPatterns } from '../../../infra/offline-msk/src/filter';
import { createEvent } from '../../../src/events';
import { DLQ_HEADERS } from '../../../src/kafka/dlq';
import type { ConsumedRecord } from '../../../src/kafka/records';
import { FakePublisher, TOPICS, config, eventRecord, fakeLogger, metrics, record, sampleValue } from '../../helpers/fakes';

function consumerOf(name: string) {
  const publisher = new FakePublisher();
  const logger = fakeLogger();
  const m = metrics();
  const consumer = createEventConsumer({ fn: consumerFunction(name), config, publisher, logger, metrics: m });
  return { consumer, publisher, logger, m };
}

const requestData = { user_ip: '203.0.113.7', method: 'GET', endpoint: '/', hostname: 'fn', os: 'Linux', request_id: 'r-1' };
const responseData = { user_ip: '203.0.113.7', status_code: 200, response_time_ms: 12.5, endpoint: '/', request_id: 'r-1' };
const errorData = { error_message: 'boom', error_type: 'TypeError', service: 'sts', request_id: 'r-2' };

describe('event consumers', () => {
  it('onHttpRequest counts requests per caller and logs each with its correlation id', async () => {
    // Prepare
    const { consumer, logger, m } = consumerOf('onHttpRequest');
    const records = [1, 2].map(() => eventRecord('http_request', requestData, { topic: TOPICS.requests }, 'corr-req'));

    // Act
    const result = await consumer.processRecords(records);

    // Assess
    expect(result.outcomes.map((o) => o.outcome.status)).toEqual(['processed', 'processed']);
    expect(await sampleValue(m, 'caller_requests_total', { caller: '203.0.113.7' })).toBe(2);
    const line = logger.lines.find((l) => l.message === 'http request');
    expect(line?.fields).toMatchObject({
      caller: '203.0.113.7',
      method: 'GET',
      endpoint: '/',
      correlation_id: 'corr-req',
      event_type: 'http_request',
      topic: TOPICS.requests,
    });
  });

  it('onHttpResponse feeds the response-time histogram by endpoint and status', async () => {
    // Prepare
    const { consumer, m } = consumerOf('onHttpResponse');

    // Act
    await consumer.processRecords([eventRecord('http_response', responseData), eventRecord('http_response', responseData)]);

    // Assess
    const labels = { endpoint: '/', status: '200' };
    expect(await sampleValue(m, 'http_response_time_seconds', labels, 'http_response_time_seconds_count')).toBe(2);
    expect(await sampleValue(m, 'http_response_time_seconds', labels, 'http_response_time_seconds_sum')).toBeCloseTo(0.025);
  });

  it('onError counts error events by type and service and logs them at warn', async () => {
    // Prepare
    const { consumer, m, logger } = consumerOf('onError');

    // Act
    await consumer.processRecords([eventRecord('error', errorData)]);

    // Assess
    expect(await sampleValue(m, 'error_events_total', { error_type: 'TypeError', service: 'sts' })).toBe(1);
    expect(logger.lines.find((l) => l.message === 'error event')).toMatchObject({ level: 'warn' });
  });

  it('dead-letters event data a handler cannot use (invalid_data)', async () => {
    // Prepare
    const { consumer, publisher } = consumerOf('onHttpResponse');

    // Act
    const result = await consumer.processRecords([eventRecord('http_response', { status_code: 'fine' })]);

    // Assess
    expect(result.outcomes[0]?.outcome).toMatchObject({ status: 'dead_lettered', reason: 'invalid_data' });
    expect(String(publisher.to(TOPICS.dlq)[0]?.headers?.[DLQ_HEADERS.error])).toContain('data.status_code');
  });

  it("onCustomEvent handles custom types, skips its siblings' types, and dead-letters poison", async () => {
    // Prepare
    const { consumer, publisher, logger } = consumerOf('onCustomEvent');
    const poison: ConsumedRecord[] = [
      record({ value: randomBytes(64) }),
      record({ value: Buffer.from('{"event_type": "custom_event", ') }),
      record({ json: { event_type: 'custom_event', data: {} } }),
      record({ json: { hello: 'world' } }),
      record({ value: null }),
    ];
    const records = [
      eventRecord('user_signup', { user_id: '123' }),
      eventRecord('http_response', responseData),
      eventRecord('error', errorData),
      // An invalid http_response goes to onHttpResponse (its filter matches) and is dead-lettered there.
      record({ json: { event_type: 'http_response' } }),
      ...poison,
    ];

    // Act
    const result = await consumer.processRecords(records);

    // Assess
    expect(result.outcomes.map((o) => o.outcome.status)).toEqual([
      'processed',
      'skipped',
      'skipped',
      'skipped',
      'dead_lettered',
      'dead_lettered',
      'dead_lettered',
      'dead_lettered',
      'dead_lettered',
    ]);
    const dead = publisher.to(TOPICS.dlq);
    expect(dead.map((r) => r.headers?.[DLQ_HEADERS.reason])).toEqual([
      'not_utf8',
      'not_json',
      'invalid_envelope',
      'invalid_envelope',
      'empty_value',
    ]);
    // Original bytes, untouched, and where they came from.
    dead.forEach((r, i) => {
      expect(r.value).toEqual(poison[i]?.value);
      expect(r.key).toEqual(poison[i]?.key);
      expect(r.headers?.[DLQ_HEADERS.offset]).toBe(poison[i]?.offset);
      expect(r.headers?.[DLQ_HEADERS.topic]).toBe(TOPICS.events);
      expect(r.headers?.[DLQ_HEADERS.consumer]).toBe('onCustomEvent');
    });
    expect(logger.lines.find((l) => l.message === 'custom event')?.fields).toMatchObject({ event_type: 'user_signup' });
  });

  it('onHttpRequest, the only function on its topic, dead-letters types nobody there handles', async () => {
    // Prepare
    const { consumer, publisher } = consumerOf('onHttpRequest');

    // Act
    const result = await consumer.processRecords([eventRecord('http_response', responseData, { topic: TOPICS.requests })]);

    // Assess
    expect(result.outcomes[0]?.outcome).toMatchObject({ status: 'dead_lettered', reason: 'unhandled_event_type' });
    expect(publisher.to(TOPICS.dlq)).toHaveLength(1);
  });

  it('a filtered function skips records its filter would not have delivered', async () => {
    // Prepare
    const { consumer, publisher } = consumerOf('onError');

    // Act
    const result = await consumer.processRecords([record({ value: Buffer.from('not json') }), eventRecord('custom', {})]);

    // Assess
    expect(result.outcomes.map((o) => o.outcome.status)).toEqual(['skipped', 'skipped']);
    expect(publisher.sent).toEqual([]);
  });

  it('suppresses a redelivered event (same id) without repeating its effect', async () => {
    // Prepare
    const { consumer, m } = consumerOf('onHttpRequest');
    const once = eventRecord('http_request', requestData, { topic: TOPICS.requests });

    // Act
    await consumer.processRecords([once]);
    const again = await consumer.processRecords([{ ...once, offset: String(Number(once.offset) + 100) }]);

    // Assess
    expect(again.outcomes[0]?.outcome.status).toBe('duplicate');
    expect(await sampleValue(m, 'caller_requests_total', { caller: '203.0.113.7' })).toBe(1);
  });
});

describe('recordOwnership', () => {
  const events = CONSUMER_FUNCTIONS.filter((f) => f.topic === 'events');
  const samples: Array<[string, Buffer | null]> = [
    ['http_response', Buffer.from(JSON.stringify(createEvent({ eventType: 'http_response', data: {}, source: 's' })))],
    ['error', Buffer.from(JSON.stringify({ event_type: 'error' }))],
    ['custom', Buffer.from(JSON.stringify({ event_type: 'user_signup' }))],
    ['array type', Buffer.from(JSON.stringify({ event_type: ['http_response', 'x'] }))],
    ['no type', Buffer.from(JSON.stringify({ type: 'time.now' }))],
    ['number type', Buffer.from(JSON.stringify({ event_type: 5 }))],
    ['plain text', Buffer.from('hello')],
    ['random bytes', Buffer.from([0xff, 0xfe, 0x00, 0x80])],
    ['JSON array', Buffer.from('[1,2]')],
    ['tombstone', null],
  ];

  it.each(samples)('gives %s to exactly one function of the events topic', (_name, value) => {
    // Prepare
    const owners = events.map((fn) => ({ fn: fn.name, owns: recordOwnership(fn) }));

    // Act
    const claiming = owners.filter((o) => o.owns({ value }) !== 'another').map((o) => o.fn);

    // Assess
    expect(claiming).toHaveLength(1);
  });

  it.each(samples)('gives %s to a filtered function only if its filter delivers it there', (_name, value) => {
    for (const fn of events.filter((f) => f.role !== 'catch-all')) {
      if (recordOwnership(fn)({ value }) === 'mine') expect(compileFilterPatterns(filterPatterns(fn)).matches(value), fn.name).toBe(true);
    }
  });
});

describe('deeply nested records', () => {
  const deepData = (levels: number) => `{"x":${'['.repeat(levels)}${']'.repeat(levels)}}`;
  const envelope = (type: string, data: string) =>
    `{"id":"${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}","event_type":"${type}","timestamp":"2026-01-31T12:00:00.000Z","source":"s","correlation_id":"c","data":${data},"version":"1.0"}`;

  it.each([
    ['onHttpRequest', TOPICS.requests, 'http_request'],
    ['onCustomEvent', TOPICS.events, 'http_response'],
    ['onCustomEvent', TOPICS.events, 'error'],
    ['onCustomEvent', TOPICS.events, 'command.rejected'],
  ])('%s dead-letters a %s record nested 4,500 levels, untouched, and goes on', async (name, topic, type) => {
    // Prepare
    const { consumer, publisher } = consumerOf(name);
    const deep = record({ topic, partition: 0, value: Buffer.from(envelope(type, deepData(4500))) });

    // Act
    const result = await consumer.processRecords([deep]);

    // Assess
    expect(result.outcomes.map((o) => o.outcome.status)).toEqual(['dead_lettered']);
    const [dead] = publisher.to(TOPICS.dlq);
    expect(dead?.headers?.[DLQ_HEADERS.reason]).toBe('too_deep');
    expect(dead?.value).toEqual(deep.value);
  });

  it.each([
    ['onHttpResponse', 'http_response'],
    ['onError', 'error'],
  ])('%s leaves a %s record nested 4,500 levels to the catch-all (a filter may not parse that deep)', async (name, type) => {
    // Prepare
    const { consumer, publisher } = consumerOf(name);
    const deep = record({ topic: TOPICS.events, partition: 0, value: Buffer.from(envelope(type, deepData(4500))) });

    // Act
    const result = await consumer.processRecords([deep]);

    // Assess
    expect(result.outcomes.map((o) => o.outcome.status)).toEqual(['skipped']);
    expect(publisher.sent).toEqual([]);
  });

  it('onCommand dead-letters a command nested 4,500 levels', async () => {
    const publisher = new FakePublisher();
    const consumer = createCommandConsumer({ name: 'onCommand', config, publisher, logger: fakeLogger() });
    const deep = record({
      topic: TOPICS.commands,
      value: Buffer.from(`{"type":"time.now","correlation_id":"c","payload":${deepData(4500)}}`),
    });
    const result = await consumer.processRecords([deep]);
    expect(result.outcomes.map((o) => o.outcome.status)).toEqual(['dead_lettered']);
    expect(publisher.to(TOPICS.dlq)[0]?.headers?.[DLQ_HEADERS.reason]).toBe('too_deep');
  });
});

describe('an observer beside a catch-all', () => {
  // A second function on the requests topic counting http_request per path, in a table of its own.
  const paths = new Map<string, number>();
  const observer: ConsumerRow = {
    name: 'onHttpRequestPath',
    topic: 'requests',
    groupSuffix: 'http-request-path',
    eventTypes: { only: ['http_request'] },
    role: 'observer',
    handler: {
      kind: 'events',
      handlers: () =>
        createEventHandlerTable({
          handlers: {
            http_request: (event) => {
              const endpoint = event.data.endpoint;
              if (typeof endpoint !== 'string')
                throw new ValidationError('invalid http_request data', ['data.endpoint: expected a string']);
              return { done: () => paths.set(endpoint, (paths.get(endpoint) ?? 0) + 1) };
            },
          },
        }),
    },
    writes: ['events', 'dlq'],
    errorEvents: true,
    description: 'http_request events counted per path',
    batchSize: 100,
  };
  const table = [...CONSUMER_FUNCTIONS, observer];
  const records = () => [
    eventRecord('http_request', requestData, { topic: TOPICS.requests, offset: '0' }),
    eventRecord('http_request', { ...requestData, endpoint: 7 }, { topic: TOPICS.requests, offset: '1' }),
    record({ topic: TOPICS.requests, offset: '2', value: Buffer.from('not json') }),
  ];

  it('leaves the catch-all as it was: it still handles every http_request and dead-letters what nobody can process', async () => {
    // Prepare
    const publisher = new FakePublisher();
    const alone = createEventConsumer({
      fn: consumerFunction('onHttpRequest'),
      config,
      publisher: new FakePublisher(),
      logger: fakeLogger(),
    });
    const beside = createEventConsumer({
      fn: consumerFunction('onHttpRequest'),
      functions: table,
      config,
      publisher,
      logger: fakeLogger(),
    });

    // Act
    const batch = records();
    const [before, after] = [await alone.processRecords(batch), await beside.processRecords(batch)];

    // Assess
    expect(after.outcomes.map((o) => o.outcome)).toEqual(before.outcomes.map((o) => o.outcome));
    expect(after.outcomes.map((o) => o.outcome.status)).toEqual(['processed', 'dead_lettered', 'dead_lettered']);
    expect(publisher.sent).toHaveLength(2);
  });

  it('sees the http_request records as well and never dead-letters: what it cannot use is logged or skipped', async () => {
    // Prepare
    const publisher = new FakePublisher();
    const logger = fakeLogger();
    const consumer = createEventConsumer({ fn: observer, functions: table, config, publisher, logger });

    // Act
    const result = await consumer.processRecords(records());

    // Assess
    expect(result.outcomes.map((o) => o.outcome.status)).toEqual(['processed', 'processed', 'skipped']);
    expect(paths.get('/')).toBe(1);
    expect(publisher.sent).toEqual([]);
    expect(logger.lines.find((l) => l.message === 'record not observed: its handler refused it')?.fields).toMatchObject({ offset: '1' });
  });
});
