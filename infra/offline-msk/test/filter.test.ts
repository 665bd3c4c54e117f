import { describe, expect, it } from 'vitest';
import { FilterPatternError, compileFilterPatterns, filterViewOf } from '../src/filter';

const json = (v: unknown) => Buffer.from(JSON.stringify(v));

function matches(patterns: unknown[], value: Buffer | null): boolean {
  return compileFilterPatterns(patterns).matches(value);
}

describe('compileFilterPatterns: what AWS supports for Kafka', () => {
  it('passes every record when there is no pattern', () => {
    expect(matches([], json({ a: 1 }))).toBe(true);
    expect(matches([], null)).toBe(true);
  });

  it('matches exact values on value.event_type, and any of several patterns (OR)', () => {
    const patterns = [{ value: { event_type: ['http_request'] } }, { value: { event_type: ['error'] } }];

    expect(matches(patterns, json({ event_type: 'http_request' }))).toBe(true);
    expect(matches(patterns, json({ event_type: 'error' }))).toBe(true);
    expect(matches(patterns, json({ event_type: 'http_response' }))).toBe(false);
    expect(matches(patterns, json({ other: 'http_request' }))).toBe(false);
  });

  it('requires every field of one pattern (AND), nested objects included', () => {
    const patterns = [{ value: { kind: ['Event'], responseStatus: { code: [{ numeric: ['=', 300] }] } } }];

    expect(matches(patterns, json({ kind: 'Event', responseStatus: { code: 300 } }))).toBe(true);
    expect(matches(patterns, json({ kind: 'Event', responseStatus: { code: 301 } }))).toBe(false);
    expect(matches(patterns, json({ kind: 'Event' }))).toBe(false);
  });

  it('matches literals by type: numbers, booleans, null and the empty string', () => {
    expect(matches([{ value: { n: [300] } }], json({ n: 300 }))).toBe(true);
    expect(matches([{ value: { n: [300] } }], json({ n: '300' }))).toBe(false);
    expect(matches([{ value: { RBAC: [true] } }], json({ RBAC: true }))).toBe(true);
    expect(matches([{ value: { u: [null] } }], json({ u: null }))).toBe(true);
    expect(matches([{ value: { u: [''] } }], json({ u: '' }))).toBe(true);
    expect(matches([{ value: { u: [''] } }], json({ u: 'x' }))).toBe(false);
  });

  it('matches prefix, suffix and equals-ignore-case', () => {
    expect(matches([{ value: { region: [{ prefix: 'us-' }] } }], json({ region: 'us-east-1' }))).toBe(true);
    expect(matches([{ value: { region: [{ prefix: 'us-' }] } }], json({ region: 'eu-west-1' }))).toBe(false);
    expect(matches([{ value: { file: [{ suffix: '.png' }] } }], json({ file: 'a.png' }))).toBe(true);
    expect(matches([{ value: { s: [{ 'equals-ignore-case': 'APPROVED' }] } }], json({ s: 'Approved' }))).toBe(true);
    expect(matches([{ value: { s: [{ prefix: { 'equals-ignore-case': 'AB' } }] } }], json({ s: 'abc' }))).toBe(true);
  });

  it('matches numeric ranges, inclusive and exclusive', () => {
    const range = [{ value: { code: [{ numeric: ['>=', 300, '<', 350] }] } }];

    expect(matches(range, json({ code: 300 }))).toBe(true);
    expect(matches(range, json({ code: 349.5 }))).toBe(true);
    expect(matches(range, json({ code: 350 }))).toBe(false);
    expect(matches(range, json({ code: '310' }))).toBe(false);
  });

  it('matches exists true and false on leaf values only', () => {
    expect(matches([{ value: { id: [{ exists: true }] } }], json({ id: 'x' }))).toBe(true);
    expect(matches([{ value: { id: [{ exists: true }] } }], json({ other: 1 }))).toBe(false);
    expect(matches([{ value: { id: [{ exists: true }] } }], json({ id: { nested: 1 } }))).toBe(false);
    expect(matches([{ value: { id: [{ exists: false }] } }], json({ other: 1 }))).toBe(true);
    expect(matches([{ value: { id: [{ exists: false }] } }], json({ id: 'x' }))).toBe(false);
  });

  it('matches anything-but with one value, a list, or a prefix; the field must exist', () => {
    const notEvent = [{ value: { kind: [{ 'anything-but': ['Event', 'Other'] }] } }];

    expect(matches(notEvent, json({ kind: 'Alert' }))).toBe(true);
    expect(matches(notEvent, json({ kind: 'Event' }))).toBe(false);
    expect(matches(notEvent, json({ nokind: 1 }))).toBe(false);
    expect(matches([{ value: { kind: [{ 'anything-but': 'Event' }] } }], json({ kind: 'x' }))).toBe(true);
    expect(matches([{ value: { kind: [{ 'anything-but': { prefix: 'http_' } }] } }], json({ kind: 'http_request' }))).toBe(false);
    expect(matches([{ value: { kind: [{ 'anything-but': { prefix: 'http_' } }] } }], json({ kind: 'error' }))).toBe(true);
  });

  it('matches an array field when any element matches', () => {
    expect(matches([{ value: { tags: ['b'] } }], json({ tags: ['a', 'b'] }))).toBe(true);
    expect(matches([{ value: { tags: ['c'] } }], json({ tags: ['a', 'b'] }))).toBe(false);
  });

  it('filters plain-string values with a plain-string pattern', () => {
    const notError = [{ value: [{ 'anything-but': ['error'] }] }];

    expect(matches(notError, Buffer.from('all good'))).toBe(true);
    expect(matches(notError, Buffer.from('error'))).toBe(false);
    expect(matches([{ value: [{ prefix: 'OrderNumber' }] }], Buffer.from('OrderNumber 42'))).toBe(true);
  });

  it('filters out a value whose format is not the pattern format, a non-UTF-8 value, and a tombstone', () => {
    const jsonPattern = [{ value: { event_type: ['http_request'] } }];
    const stringPattern = [{ value: [{ prefix: '{' }] }];

    expect(matches(jsonPattern, Buffer.from('http_request'))).toBe(false);
    expect(matches(stringPattern, json({ event_type: 'http_request' }))).toBe(false);
    expect(matches(jsonPattern, Buffer.from([0xff, 0xfe, 0x00]))).toBe(false);
    expect(matches(jsonPattern, null)).toBe(false);
  });

  it('matches neither a non-UTF-8 value nor a tombstone, not even with exists: false (no metadata filters on Kafka)', () => {
    for (const pattern of [
      [{ value: [{ exists: false }] }],
      [{ value: { a: [{ exists: false }] } }],
      [{ value: [{ 'anything-but': ['x'] }] }],
    ]) {
      expect(matches(pattern, Buffer.from([0xff, 0xfe, 0x00])), JSON.stringify(pattern)).toBe(false);
      expect(matches(pattern, null), JSON.stringify(pattern)).toBe(false);
    }
    expect(filterViewOf(null)).toEqual({ kind: 'none', why: 'tombstone' });
    expect(filterViewOf(Buffer.from([0xc3, 0x28]))).toEqual({ kind: 'none', why: 'not-utf8' });
  });

  it('matches a JSON scalar as its JSON value with a list of matchers: numbers are numbers, quoted strings strings', () => {
    const over100 = [{ value: [{ numeric: ['>', 100] }] }];

    expect(matches(over100, Buffer.from('150'))).toBe(true);
    expect(matches(over100, Buffer.from('99.5'))).toBe(false);
    expect(matches(over100, Buffer.from('"150"'))).toBe(false);
    expect(matches([{ value: ['150'] }], Buffer.from('"150"'))).toBe(true);
    expect(matches([{ value: [150] }], Buffer.from('150'))).toBe(true);
    expect(matches([{ value: [true] }], Buffer.from('true'))).toBe(true);
    expect(matches([{ value: [null] }], Buffer.from('null'))).toBe(true);
    expect(matches([{ value: [{ exists: true }] }], Buffer.from('0'))).toBe(true);
    expect(matches([{ value: [3] }], Buffer.from('[1,2,3]'))).toBe(true);
    expect(matches([{ value: { a: [1] } }], Buffer.from('1'))).toBe(false);
    expect(filterViewOf(Buffer.from('123'))).toEqual({ kind: 'scalar', value: 123 });
    expect(filterViewOf(Buffer.from('plain text'))).toEqual({ kind: 'scalar', value: 'plain text' });
  });

  it.each([
    [[{ key: { a: ['x'] } }], 'only support filtering on the "value" key'],
    [[{ value: { a: ['x'] }, topic: ['t'] }], 'only support filtering on the "value" key'],
    [[{ value: { a: [{ wildcard: 'x*' }] } }], 'unsupported matcher "wildcard"'],
    [[{ value: { a: [{ numeric: ['>>', 1] }] } }], '"numeric" takes'],
    [[{ value: { a: [] } }], 'empty list'],
    [[{ value: { a: 'x' } }], 'expected an object of fields or a list of matchers'],
    [Array.from({ length: 6 }, () => ({ value: { a: ['x'] } })), 'at most 5'],
    [['{not json'], 'not JSON'],
  ])('refuses %j with a clear error', (patterns, message) => {
    expect(() => compileFilterPatterns(patterns)).toThrow(FilterPatternError);
    expect(() => compileFilterPatterns(patterns)).toThrow(message);
  });

  it('accepts FilterCriteria Pattern strings as deployed', () => {
    expect(matches(['{"value":{"event_type":["error"]}}'], json({ event_type: 'error' }))).toBe(true);
  });
});
