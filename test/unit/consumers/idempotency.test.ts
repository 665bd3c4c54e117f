import { describe, expect, it } from 'vitest';
import { contentEventId, createProcessedIds, derivedEventId } from '../../../src/consumers';
import { uuidV5 } from '../../../src/consumers/idempotency';
import { eventEnvelopeSchema } from '../../../src/events/envelope';

describe('createProcessedIds', () => {
  it('remembers ids and forgets the oldest beyond its bound', () => {
    // Prepare
    const ids = createProcessedIds({ maxIds: 2 });

    // Act
    ids.add('a');
    ids.add('b');
    ids.add('a');
    ids.add('c');

    // Assess
    expect(ids.size).toBe(2);
    expect(ids.has('a')).toBe(false);
    expect(ids.has('b')).toBe(true);
    expect(ids.has('c')).toBe(true);
  });

  it('refuses a bound that is not a positive integer', () => {
    // Prepare, Act, Assess
    expect(() => createProcessedIds({ maxIds: 0 })).toThrow(RangeError);
  });
});

describe('name-based ids', () => {
  it("computes RFC 9562 version 5 UUIDs (the RFC's DNS example)", () => {
    // Prepare
    const dns = '6ba7b810-9dad-11d1-80b4-00c04fd430c8';

    // Act
    const id = uuidV5(dns, 'www.example.com');

    // Assess
    expect(id).toBe('2ed6657d-e927-568b-95e1-2665a8aea6a2');
  });

  it('derives the same answer id for the same input and type, and valid envelope ids', () => {
    // Prepare
    const input = '0f8fad5b-d9cb-469f-a165-70867728950e';

    // Act
    const first = derivedEventId(input, 'time.now.processed');
    const second = derivedEventId(input, 'time.now.processed');
    const other = derivedEventId(input, 'command.rejected');

    // Assess
    expect(first).toBe(second);
    expect(other).not.toBe(first);
    expect(eventEnvelopeSchema.shape.id.safeParse(first).success).toBe(true);
  });

  it('derives a content id from the bytes', () => {
    // Prepare, Act, Assess
    expect(contentEventId(Buffer.from('{"type":"time.now"}'))).toBe(contentEventId(Buffer.from('{"type":"time.now"}')));
    expect(contentEventId(Buffer.from('a'))).not.toBe(contentEventId(Buffer.from('b')));
  });
});
