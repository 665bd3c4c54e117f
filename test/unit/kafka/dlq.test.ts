import { describe, expect, it } from 'vitest';
import { DLQ_HEADERS, createDeadLetterer, deadLetterRecord } from '../../../src/kafka/dlq';
import { record } from '../../helpers/fakes';

describe('deadLetterRecord', () => {
  it('keeps key, value and headers byte for byte and adds the reason and source coordinates', () => {
    // Prepare
    const original = record({
      topic: 'events',
      partition: 2,
      offset: '41',
      timestamp: 1_700_000_000_123,
      key: Buffer.from([0x00, 0xff, 0x10]),
      value: Buffer.from([0xde, 0xad, 0xbe, 0xef]),
      headers: [{ name: 'trace', value: Buffer.from([1, 2, 3]) }],
    });

    // Act
    const dead = deadLetterRecord({
      record: original,
      reason: 'not_utf8',
      error: 'the value is not UTF-8 text',
      topic: 'dlq',
      consumer: 'onCustomEvent',
      now: new Date('2026-01-31T12:00:00.000Z'),
    });

    // Assess
    expect(dead.topic).toBe('dlq');
    expect(dead.key).toEqual(original.key);
    expect(dead.value).toEqual(original.value);
    expect(dead.headers).toEqual({
      trace: Buffer.from([1, 2, 3]),
      [DLQ_HEADERS.reason]: 'not_utf8',
      [DLQ_HEADERS.error]: 'the value is not UTF-8 text',
      [DLQ_HEADERS.topic]: 'events',
      [DLQ_HEADERS.partition]: '2',
      [DLQ_HEADERS.offset]: '41',
      [DLQ_HEADERS.timestamp]: '1700000000123',
      [DLQ_HEADERS.consumer]: 'onCustomEvent',
      [DLQ_HEADERS.deadLetteredAt]: '2026-01-31T12:00:00.000Z',
    });
  });

  it('keeps a header named __proto__ as a header of its own', () => {
    const original = record({
      headers: [
        { name: '__proto__', value: Buffer.from('p') },
        { name: 'b', value: Buffer.from('b') },
      ],
    });
    const dead = deadLetterRecord({ record: original, reason: 'not_json', error: 'x', topic: 'dlq', consumer: 'onTest' });
    expect(Object.keys(dead.headers ?? {})).toEqual(expect.arrayContaining(['__proto__', 'b']));
    expect(Object.getOwnPropertyDescriptor(dead.headers, '__proto__')?.value).toEqual(Buffer.from('p'));
  });

  it('writes an original header named dlq.* under dlq.source.header.*, so no dlq.* header of its own can be forged', () => {
    // Prepare
    const original = record({
      headers: [
        { name: 'dlq.replay.of', value: Buffer.from('0:0') },
        { name: 'dlq.reason', value: Buffer.from('fine') },
      ],
    });

    // Act
    const dead = deadLetterRecord({ record: original, reason: 'not_json', error: 'x', topic: 'dlq', consumer: 'c' });

    // Assess
    expect(dead.headers).toMatchObject({
      'dlq.source.header.dlq.replay.of': Buffer.from('0:0'),
      'dlq.source.header.dlq.reason': Buffer.from('fine'),
      [DLQ_HEADERS.reason]: 'not_json',
    });
    expect(Object.keys(dead.headers ?? {})).not.toContain('dlq.replay.of');
  });

  it('keeps a null key and a null value null', () => {
    // Prepare, Act
    const dead = deadLetterRecord({
      record: record({ key: null, value: null }),
      reason: 'empty_value',
      error: 'e',
      topic: 'dlq',
      consumer: 'c',
    });

    // Assess
    expect(dead.key).toBeNull();
    expect(dead.value).toBeNull();
  });

  it('keeps every header in order when a name repeats', () => {
    // Prepare
    const original = record({
      value: Buffer.from('x'),
      headers: [
        { name: 'h', value: Buffer.from('1') },
        { name: 'h', value: Buffer.from('2') },
      ],
    });

    // Act
    const dead = deadLetterRecord({ record: original, reason: 'not_json', error: 'e', topic: 'dlq', consumer: 'c' });

    // Assess
    expect(JSON.parse(String(dead.headers?.[DLQ_HEADERS.originalHeaders]))).toEqual([
      ['h', Buffer.from('1').toString('base64')],
      ['h', Buffer.from('2').toString('base64')],
    ]);
  });
});

describe('createDeadLetterer', () => {
  it("makes a record's dead letter for its function's dead-letter topic", () => {
    // Prepare
    const at = new Date('2026-01-31T12:00:00.000Z');
    const dlq = createDeadLetterer({ topic: 'dlq', consumer: 'onTest', now: () => at });
    const original = record({ value: Buffer.from('x') });

    // Act
    const letter = dlq.letter(original, 'not_json', 'e');

    // Assess
    expect(letter).toEqual(
      deadLetterRecord({ record: original, reason: 'not_json', error: 'e', topic: 'dlq', consumer: 'onTest', now: at }),
    );
  });
});
