/**
 * Every record of a topic is handled or dead-lettered by exactly one function, however
 * Lambda's filter reads its value. AWS documents that Kafka filtering looks at `value` as
 * JSON when it is valid JSON, and nothing about a byte order mark, a key written twice, an
 * escaped key or value, or how deep a parser goes (docs.aws.amazon.com/lambda/latest/dg/
 * kafka-filtering.html, invocation-eventfiltering.html). So the records are generated with
 * those traits, and each is checked under every reading a JSON filter could make of them:
 * the local event source's (infra/offline-msk/src/filter.ts, which strips a BOM and lets
 * the last key win), and the others (a BOM kept, so the value is not JSON; the first key
 * winning, or every value of a repeated key matching, as a streaming matcher does;
 * escapes left undecoded; nesting refused past some depth).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CONSUMER_FUNCTIONS, consumerFunction, createEventConsumer } from '../../../src/consumers';
import { readEventType } from '../../../src/consumers/ownership';
import { jsonDepthExceeds } from '../../../src/json';
import { DLQ_HEADERS } from '../../../src/kafka/dlq';
import type { ConsumerFunction } from '../../../src/consumers/functions';
import { filterPatterns } from '../../../src/consumers/functions';
import { compileFilterPatterns } from '../../../infra/offline-msk/src/filter';
import { createEvent } from '../../../src/events';
import { FakePublisher, TOPICS, config, fakeLogger, record } from '../../helpers/fakes';

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** One top-level `event_type` member, as written. */
interface TypeMember {
  value: unknown;
  escapedKey: boolean;
  escapedValue: boolean;
}

interface Shape {
  bom: boolean;
  types: TypeMember[];
  /** Where among the envelope's other members each event_type member goes. */
  positions: number[];
  /** How deep `data` nests (0: a flat object). */
  depth: number;
}

/** A JSON string written with its first letter as a \u escape: the same string to a parser that decodes escapes. */
function escapedString(s: string): string {
  if (s.length === 0) return '""';
  const code = s.charCodeAt(0).toString(16).padStart(4, '0');
  return `"\\u${code}${JSON.stringify(s).slice(2)}`;
}

function memberText(m: TypeMember): string {
  const key = m.escapedKey ? escapedString('event_type') : '"event_type"';
  const value = m.escapedValue && typeof m.value === 'string' ? escapedString(m.value) : JSON.stringify(m.value);
  return `${key}:${value}`;
}

function nested(depth: number): string {
  return `${'{"x":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

function valueOf(shape: Shape): Buffer {
  const base = createEvent({ eventType: 'placeholder', data: {}, source: 's', correlationId: 'c' });
  const others = Object.entries(base)
    .filter(([k]) => k !== 'event_type' && k !== 'data')
    .map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`);
  others.push(`"data":${shape.depth > 0 ? `{"nested":${nested(shape.depth)}}` : '{}'}`);
  shape.types.forEach((m, i) => others.splice(Math.min(shape.positions[i] ?? 0, others.length), 0, memberText(m)));
  const text = Buffer.from(`{${others.join(',')}}`);
  return shape.bom ? Buffer.concat([BOM, text]) : text;
}

interface Reading {
  name: string;
  bom: 'strip' | 'keep';
  duplicates: 'first' | 'last' | 'any';
  escapes: 'decode' | 'raw';
  maxDepth: number;
}

const READINGS: Reading[] = [];
for (const bom of ['strip', 'keep'] as const)
  for (const duplicates of ['first', 'last', 'any'] as const)
    for (const escapes of ['decode', 'raw'] as const)
      for (const maxDepth of [Number.POSITIVE_INFINITY, 100])
        READINGS.push({
          name: `bom ${bom}, duplicates ${duplicates}, escapes ${escapes}, depth ${maxDepth}`,
          bom,
          duplicates,
          escapes,
          maxDepth,
        });

const eventsFunctions = CONSUMER_FUNCTIONS.filter((f) => f.topic === 'events');
const filters = new Map<string, ReturnType<typeof compileFilterPatterns>>(
  eventsFunctions.map((fn) => [fn.name, compileFilterPatterns(filterPatterns(fn))]),
);
const filterOf = (fn: ConsumerFunction) => filters.get(fn.name) ?? compileFilterPatterns(filterPatterns(fn));

/** Whether a filter reading `value` this way delivers the record to `fn`. */
function delivers(fn: ConsumerFunction, shape: Shape, reading: Reading): boolean {
  if (fn.role === 'catch-all') return true;
  if (shape.bom && reading.bom === 'keep') return false; // not JSON: an object pattern cannot match
  if (shape.depth + 3 > reading.maxDepth) return false; // the parser refused it
  // The event_type members this reading sees, with the values it reads.
  const seen = shape.types
    .filter((m) => reading.escapes === 'decode' || !m.escapedKey)
    .map((m) => (reading.escapes === 'raw' && m.escapedValue && typeof m.value === 'string' ? escapedString(m.value) : m.value));
  if (seen.length === 0) return false;
  const candidates = reading.duplicates === 'first' ? [seen[0]] : reading.duplicates === 'last' ? [seen[seen.length - 1]] : seen;
  const filter = filterOf(fn);
  return candidates.some((v) => filter.matches(Buffer.from(JSON.stringify({ event_type: v }))));
}

/** What each function of the events topic does with the record when it is delivered to it. */
async function decisions(value: Buffer): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const fn of eventsFunctions) {
    const consumer = createEventConsumer({ fn, config, publisher: new FakePublisher(), logger: fakeLogger() });
    const result = await consumer.processRecords([record({ topic: TOPICS.events, value })]);
    out.set(fn.name, result.outcomes[0]?.outcome.status ?? 'none');
  }
  return out;
}

/** The functions that handle or dead-letter the record, given which ones it is delivered to. */
function handling(decided: Map<string, string>, delivered: (fn: ConsumerFunction) => boolean): string[] {
  return eventsFunctions
    .filter((fn) => delivered(fn) && decided.get(fn.name) !== 'skipped')
    .map((fn) => `${fn.name}: ${decided.get(fn.name)}`);
}

async function handledBy(value: Buffer, delivered: (fn: ConsumerFunction) => boolean): Promise<string[]> {
  return handling(await decisions(value), delivered);
}

const typeValue = fc.constantFrom<unknown>('http_response', 'error', 'user_signup', 'command.rejected', 5, ['error']);
const shapes: fc.Arbitrary<Shape> = fc.record({
  bom: fc.boolean(),
  types: fc.array(fc.record({ value: typeValue, escapedKey: fc.boolean(), escapedValue: fc.boolean() }), { minLength: 0, maxLength: 3 }),
  positions: fc.array(fc.nat({ max: 8 }), { minLength: 3, maxLength: 3 }),
  depth: fc.constantFrom(0, 0, 0, 70, 200),
});

describe('record ownership on the events topic', () => {
  it('gives every record to exactly one function under every reading of its value', async () => {
    await fc.assert(
      fc.asyncProperty(shapes, async (shape) => {
        const value = valueOf(shape);
        const decided = await decisions(value);
        // What runs locally: the local event source's filter on the very bytes.
        const local = handling(decided, (fn) => filterOf(fn).matches(value));
        expect(local, `locally: ${value.toString()}`).toHaveLength(1);
        for (const reading of READINGS) {
          expect(
            handling(decided, (fn) => delivers(fn, shape, reading)),
            `${reading.name}: ${value.toString()}`,
          ).toHaveLength(1);
        }
      }),
      { numRuns: 300 },
    );
  }, 120_000);

  const member = (value: unknown): TypeMember => ({ value, escapedKey: false, escapedValue: false });
  const reading = (name: string): Reading => {
    const found = READINGS.find((r) => r.name === name);
    if (!found) throw new Error(`no reading ${name}`);
    return found;
  };
  it.each([
    [
      'an error event behind a byte order mark, to a filter that keeps the mark',
      { bom: true, types: [member('error')] },
      'bom keep, duplicates last, escapes decode, depth Infinity',
    ],
    [
      'a record whose first event_type is custom and last is error, to a filter where the first wins',
      { bom: false, types: [member('user_signup'), member('error')] },
      'bom strip, duplicates first, escapes decode, depth Infinity',
    ],
    [
      'a record whose first event_type is error and last is custom, to a filter where any value matches',
      { bom: false, types: [member('error'), member('user_signup')] },
      'bom strip, duplicates any, escapes decode, depth Infinity',
    ],
  ])('gives %s to exactly one function', async (_what, partial, readingName) => {
    // Prepare
    const shape: Shape = { ...partial, positions: [0, 3, 5], depth: 0 };
    const value = valueOf(shape);

    // Act
    const handling = await handledBy(value, (fn) => delivers(fn, shape, reading(readingName)));

    // Assess
    expect(handling).toHaveLength(1);
  });

  it.each([
    ['http_response', 'onHttpResponse'],
    ['error', 'onError'],
    ['user_signup', 'onCustomEvent'],
  ])('still gives a plainly written %s event to %s', async (type, owner) => {
    // Prepare
    const value = valueOf({ bom: false, types: [{ value: type, escapedKey: false, escapedValue: false }], positions: [1], depth: 0 });

    // Act
    const handling = await handledBy(value, (fn) => filterOf(fn).matches(value));

    // Assess
    expect(handling).toHaveLength(1);
    expect(handling[0]).toMatch(new RegExp(`^${owner}: (processed|dead_lettered)$`));
  });
});

describe('readEventType', () => {
  it('agrees on the type of any object with one plainly written event_type, however the rest is written', () => {
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.string().filter((k) => k !== 'event_type' && k !== '__proto__'),
          fc.jsonValue(),
        ),
        fc.string(),
        fc.nat(),
        fc.constantFrom(undefined, 2, '\t'),
        (rest, type, at, space) => {
          // Prepare: event_type among the other members, at any place
          const entries = Object.entries(rest);
          entries.splice(at % (entries.length + 1), 0, ['event_type', type]);
          const text = JSON.stringify(Object.fromEntries(entries), null, space);
          fc.pre(!/\\/.test(JSON.stringify(type)));

          // Act
          const read = readEventType(Buffer.from(text));

          // Assess
          if (!jsonDepthExceeds(JSON.parse(text))) expect(read).toEqual({ agreed: type, possible: [type] });
        },
      ),
    );
  });

  it.each([
    ['a byte order mark', Buffer.concat([BOM, Buffer.from('{"event_type":"error"}')]), { agreed: undefined, possible: ['error'] }],
    [
      'a repeated key',
      Buffer.from('{"event_type":"x","data":{"event_type":"y"},"event_type":"error"}'),
      { agreed: undefined, possible: ['x', 'error'] },
    ],
    ['an escaped key', Buffer.from('{"event\\u005ftype":"error"}'), { agreed: undefined, possible: ['error'] }],
    ['an escaped value', Buffer.from('{"event_type":"\\u0065rror"}'), { agreed: undefined, possible: ['error'] }],
    [
      'a nested event_type only',
      Buffer.from('{"data":{"event_type":"error"},"s":"{\\"event_type\\":1}"}'),
      { agreed: undefined, possible: [] },
    ],
    [
      'spaces everywhere',
      Buffer.from(' {\n "a" : [ {"event_type":"x"} , "}" ] ,\t"event_type" : "error" \n} '),
      { agreed: 'error', possible: ['error'] },
    ],
  ])('reads %s', (_what, value, expected) => {
    // Prepare, Act, Assess
    expect(readEventType(value)).toEqual(expected);
  });

  it('dead-letters a contested record once, in the catch-all, saying why', async () => {
    // Prepare
    const value = Buffer.concat([
      BOM,
      valueOf({ bom: false, types: [{ value: 'error', escapedKey: false, escapedValue: false }], positions: [0], depth: 0 }),
    ]);
    const publisher = new FakePublisher();
    const consumer = createEventConsumer({ fn: consumerFunction('onCustomEvent'), config, publisher, logger: fakeLogger() });

    // Act
    const result = await consumer.processRecords([record({ topic: TOPICS.events, value })]);

    // Assess
    expect(result.outcomes[0]?.outcome).toMatchObject({ status: 'dead_lettered', reason: 'ambiguous_event_type' });
    expect(String(publisher.to(TOPICS.dlq)[0]?.headers?.[DLQ_HEADERS.error])).toMatch(
      /^event_type reads as "error" depending on the reader/,
    );
    expect(publisher.to(TOPICS.dlq)[0]?.value).toEqual(value);
  });
});
