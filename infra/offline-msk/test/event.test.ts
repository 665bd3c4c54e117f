/** The event Lambda sends, built field by field as AWS's recorded examples, and how Lambda reads a partial batch response. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildKafkaEvent, interpretBatchResponse } from '../src/event';
import type { KafkaEventSource } from '../src/event';
import type { ConsumedRecord } from '../src/records';
import { partitionKey } from '../src/records';

const fixture = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(path.resolve(__dirname, 'fixtures', name), 'utf8')) as Record<string, unknown>;

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
    headers: [{ name: 'headerKey', value: Buffer.from('headerValue') }],
    ...overrides,
  };
}

const sourceOf = (event: Record<string, unknown>): KafkaEventSource => {
  const bootstrapServers = String(event.bootstrapServers).split(',');
  return event.eventSource === 'aws:kafka'
    ? { kind: 'msk', eventSourceArn: String(event.eventSourceArn), bootstrapServers }
    : { kind: 'self-managed', bootstrapServers };
};

describe('buildKafkaEvent', () => {
  it('builds the MSK event field by field as in the recorded example', () => {
    // Prepare
    const expected = fixture('msk-event.json');

    // Act
    const event = buildKafkaEvent(sourceOf(expected), [exampleRecord()]) as unknown as Record<string, unknown>;

    // Assess: same fields, same order, same values (but the key, AWS's placeholder)
    expect(Object.keys(event)).toEqual(Object.keys(expected));
    expect({ ...event, records: undefined }).toEqual({ ...expected, records: undefined });
    const expectedRecords = expected.records as Record<string, Array<Record<string, unknown>>>;
    const records = event.records as Record<string, Array<Record<string, unknown>>>;
    expect(Object.keys(records)).toEqual(Object.keys(expectedRecords));
    const [built] = records['mytopic-0']!;
    const [recorded] = expectedRecords['mytopic-0']!;
    expect(Object.keys(built!)).toEqual(Object.keys(recorded!));
    for (const field of ['topic', 'partition', 'offset', 'timestamp', 'timestampType', 'value', 'headers']) {
      expect(built![field], field).toEqual(recorded![field]);
    }
    expect(built!.key).toBe(Buffer.from('recordKey').toString('base64'));
  });

  it('builds the self-managed event field by field as in the recorded example', () => {
    const expected = fixture('self-managed-kafka-event.json');

    const event = buildKafkaEvent(sourceOf(expected), [exampleRecord()]) as unknown as Record<string, unknown>;

    expect(Object.keys(event)).toEqual(Object.keys(expected));
    expect(event).not.toHaveProperty('eventSourceArn');
    expect({ ...event, records: undefined }).toEqual({ ...expected, records: undefined });
  });

  it('keys records by topic-partition in order of first appearance, keeps offset order, leaves out a null key or value', () => {
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

    const event = buildKafkaEvent({ kind: 'self-managed', bootstrapServers: ['127.0.0.1:9092', '127.0.0.1:9094'] }, records);

    expect(Object.keys(event.records)).toEqual(['a.b-c-2', 'a.b-c-0']);
    expect(event.records['a.b-c-2']!.map((r) => r.offset)).toEqual([7, 8]);
    expect(event.records['a.b-c-0']![0]).not.toHaveProperty('key');
    expect(event.records['a.b-c-0']![0]).not.toHaveProperty('value');
    expect(event.records['a.b-c-2']![1]!.headers).toEqual([{ x: [0, 255] }, { x: [50] }]);
    expect(event.bootstrapServers).toBe('127.0.0.1:9092,127.0.0.1:9094');
  });
});

describe('interpretBatchResponse (ReportBatchItemFailures)', () => {
  const batch = new Map([
    [partitionKey('t', 0), new Set([10n, 11n, 12n])],
    [partitionKey('t', 1), new Set([4n])],
  ]);
  const failure = (partition: string, offset: unknown) => ({ itemIdentifier: { partition, offset } });

  it('resumes each reported partition at its lowest reported offset and names the reported records', () => {
    const response = { batchItemFailures: [failure('t-0', 12), failure('t-0', 11), failure('t-1', '4')] };

    expect(interpretBatchResponse(response, batch)).toEqual({
      kind: 'partial',
      retryFrom: new Map([
        ['t-0', 11n],
        ['t-1', 4n],
      ]),
      failed: new Map([
        ['t-0', new Set([12n, 11n])],
        ['t-1', new Set([4n])],
      ]),
    });
  });

  it('reads the partial response that lists every record from the first failure on', () => {
    const response = { batchItemFailures: [failure('t-0', 11), failure('t-0', 12)] };

    const outcome = interpretBatchResponse(response, batch);

    expect(outcome.kind === 'partial' && outcome.retryFrom.get('t-0')).toBe(11n);
  });

  it.each([undefined, null, {}, { other: 1 }, { batchItemFailures: [] }, { batchItemFailures: null }])(
    'treats %j as complete success ("an empty valid JSON or null")',
    (response) => {
      expect(interpretBatchResponse(response, batch)).toEqual({ kind: 'success' });
    },
  );

  it.each([
    ['a string', 'done'],
    ['a number', 42],
    ['true', true],
    ['an array', [failure('t-0', 11)]],
    ['an empty identifier', { batchItemFailures: [{ itemIdentifier: '' }] }],
    ['a null identifier', { batchItemFailures: [{ itemIdentifier: null }] }],
    ['an identifier that is a string', { batchItemFailures: [{ itemIdentifier: 't-0-11' }] }],
    ['an offset not in the batch', { batchItemFailures: [failure('t-0', 99)] }],
    ['a partition not in the batch', { batchItemFailures: [failure('t-7', 11)] }],
    ['a negative offset', { batchItemFailures: [failure('t-0', -1)] }],
    ['a fractional offset', { batchItemFailures: [failure('t-0', 10.5)] }],
    ['a misspelled key', { batchItemFailures: [{ identifier: { partition: 't-0', offset: 11 } }] }],
    ['batchItemFailures that is not a list', { batchItemFailures: 'oops' }],
  ])('treats %s as a failure of the whole batch', (_what, response) => {
    expect(interpretBatchResponse(response, batch).kind).toBe('failure');
  });
});
