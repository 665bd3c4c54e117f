import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeKafkaEvent, kafkaBatchResponse } from '../../../src/kafka/msk-event';
import { buildKafkaEvent } from '../../../infra/offline-msk/src/event';
import type { ConsumedRecord } from '../../../src/kafka/records';
import { ValidationError } from '../../../src/errors';

const fixture = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(path.resolve(__dirname, '../../../infra/offline-msk/test/fixtures', name), 'utf8')) as Record<string, unknown>;

const HEADER_VALUE = Buffer.from('headerValue');

/** The record of AWS's example, with a key that round-trips through base64. */
function exampleRecord(overrides: Partial<ConsumedRecord> = {}): ConsumedRecord {
  return {
    topic: 'mytopic',
    partition: 0,
    offset: '15',
    timestamp: 1545084650987,
    timestampType: 'CREATE_TIME',
    key: Buffer.from('recordKey'),
    value: Buffer.from('Hello, this is a test.'),
    headers: [{ name: 'headerKey', value: HEADER_VALUE }],
    ...overrides,
  };
}

describe('decodeKafkaEvent', () => {
  it('decodes the recorded MSK event into plain records', () => {
    // Prepare
    const event = fixture('msk-event.json');

    // Act
    const { source, records } = decodeKafkaEvent(event);

    // Assess
    expect(source).toEqual({
      kind: 'msk',
      eventSourceArn: event.eventSourceArn,
      bootstrapServers: [
        'b-2.demo-cluster-1.a1bcde.c1.kafka.us-east-1.amazonaws.com:9092',
        'b-1.demo-cluster-1.a1bcde.c1.kafka.us-east-1.amazonaws.com:9092',
      ],
    });
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      topic: 'mytopic',
      partition: 0,
      offset: '15',
      timestamp: 1545084650987,
      timestampType: 'CREATE_TIME',
    });
    expect(records[0]!.value!.toString()).toBe('Hello, this is a test.');
    expect(records[0]!.headers).toEqual([{ name: 'headerKey', value: HEADER_VALUE }]);
  });

  it('decodes the recorded self-managed Kafka event, which has no eventSourceArn', () => {
    const { source, records } = decodeKafkaEvent(fixture('self-managed-kafka-event.json'));

    expect(source.kind).toBe('self-managed');
    expect(source).not.toHaveProperty('eventSourceArn');
    expect(records[0]!.value!.toString()).toBe('Hello, this is a test.');
  });

  it('reads a record without key or value as null key and value', () => {
    const event = {
      eventSource: 'SelfManagedKafka',
      records: { 't-1': [{ topic: 't', partition: 1, offset: 3, timestamp: 1, timestampType: 'LOG_APPEND_TIME', headers: [] }] },
    };

    const { records } = decodeKafkaEvent(event);

    expect(records[0]).toMatchObject({ key: null, value: null, timestampType: 'LOG_APPEND_TIME', offset: '3' });
  });

  it('accepts header bytes serialised as signed Java bytes', () => {
    const event = {
      eventSource: 'SelfManagedKafka',
      records: { 't-0': [{ topic: 't', partition: 0, offset: 0, timestamp: 1, timestampType: 'CREATE_TIME', headers: [{ h: [-1, 65] }] }] },
    };

    const { records } = decodeKafkaEvent(event);

    expect([...records[0]!.headers[0]!.value]).toEqual([255, 65]);
  });

  it('keeps a header named __proto__ (as the JSON event from Lambda carries it)', () => {
    // Prepare: the event as the runtime parses it from JSON, where "__proto__" is an own key
    const event: unknown = JSON.parse(
      '{"eventSource":"SelfManagedKafka","records":{"t-0":[{"topic":"t","partition":0,"offset":0,"timestamp":1,"timestampType":"CREATE_TIME","headers":[{"__proto__":[112]},{"b":[98]}]}]}}',
    );

    // Act
    const { records } = decodeKafkaEvent(event);

    // Assess
    expect(records[0]?.headers.map((h) => [h.name, h.value.toString()])).toEqual([
      ['__proto__', 'p'],
      ['b', 'b'],
    ]);
  });

  it.each([
    ['not an object', 'hello'],
    ['an SQS event', { Records: [] }],
    ['an MSK event without eventSourceArn', { eventSource: 'aws:kafka', records: {} }],
    [
      'a record whose key is not base64',
      {
        eventSource: 'SelfManagedKafka',
        records: { 't-0': [{ topic: 't', partition: 0, offset: 0, timestamp: 1, timestampType: 'CREATE_TIME', key: '***', headers: [] }] },
      },
    ],
    [
      'a record filed under another partition',
      {
        eventSource: 'SelfManagedKafka',
        records: { 't-1': [{ topic: 't', partition: 0, offset: 0, timestamp: 1, timestampType: 'CREATE_TIME', headers: [] }] },
      },
    ],
  ])('refuses %s with a ValidationError', (_what, event) => {
    expect(() => decodeKafkaEvent(event)).toThrow(ValidationError);
  });
});

describe('buildKafkaEvent (the local event source) and decodeKafkaEvent', () => {
  it('keys records by topic-partition, keeps offset order, and round-trips through decode', () => {
    // Prepare
    const records = [
      exampleRecord({ topic: 'a.b-c', partition: 2, offset: '7' }),
      exampleRecord({ topic: 'a.b-c', partition: 0, offset: '1', key: null, value: null, headers: [] }),
      exampleRecord({
        topic: 'a.b-c',
        partition: 2,
        offset: '8',
        headers: [
          { name: 'x', value: Buffer.from([0, 255]) },
          { name: 'x', value: Buffer.from('2') },
        ],
      }),
    ];

    // Act
    const event = buildKafkaEvent({ kind: 'self-managed', bootstrapServers: ['127.0.0.1:9092'] }, records);

    // Assess
    expect(Object.keys(event.records)).toEqual(['a.b-c-2', 'a.b-c-0']);
    expect(event.records['a.b-c-2']!.map((r) => r.offset)).toEqual([7, 8]);
    expect(event.records['a.b-c-0']![0]).not.toHaveProperty('key');
    expect(event.records['a.b-c-0']![0]).not.toHaveProperty('value');
    expect(event.records['a.b-c-2']![1]!.headers).toEqual([{ x: [0, 255] }, { x: [50] }]);
    expect(event.bootstrapServers).toBe('127.0.0.1:9092');
    const decoded = decodeKafkaEvent(JSON.parse(JSON.stringify(event))).records;
    expect(decoded).toEqual([records[0], records[2], records[1]]);
  });
});

describe('partial batch responses', () => {
  it('reports records as AWS itemIdentifier objects', () => {
    const response = kafkaBatchResponse([
      { topic: 't', partition: 0, offset: '12' },
      { topic: 't', partition: 0, offset: '11' },
    ]);

    expect(response).toEqual({
      batchItemFailures: [{ itemIdentifier: { partition: 't-0', offset: 12 } }, { itemIdentifier: { partition: 't-0', offset: 11 } }],
    });
  });
});
