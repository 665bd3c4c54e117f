import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config';
import { ValidationError } from '../../../src/errors';
import { parseEnvelope } from '../../../src/events';
import { readJsonBody } from '../../../src/http/body';
import { buildPublishRequest } from '../../../src/http/publish';

const { topics } = loadConfig({}).kafka;

function problems(body: unknown): string[] {
  try {
    buildPublishRequest({ body, topics, source: 'test' });
  } catch (error) {
    if (error instanceof ValidationError) return [...error.details];
    throw error;
  }
  return [];
}

describe('buildPublishRequest', () => {
  it('builds a valid envelope on the events topic by default, with headers', () => {
    // Act
    const { event, record } = buildPublishRequest({
      body: { event_type: 'user_signup', data: { user_id: '1' }, key: 'k', correlation_id: 'c-1' },
      topics,
      source: 'test',
    });

    // Assess
    expect(parseEnvelope(JSON.parse(record.value as string))).toEqual(event);
    expect(event).toMatchObject({ event_type: 'user_signup', correlation_id: 'c-1', data: { user_id: '1' } });
    expect(record).toMatchObject({
      topic: topics.events,
      key: 'k',
      headers: { event_type: 'user_signup', correlation_id: 'c-1', 'content-type': 'application/json' },
    });
  });

  it('accepts every configured topic by its exact name', () => {
    for (const topic of Object.values(topics)) {
      const body: Record<string, unknown> = { event_type: 'x', data: {}, topic };
      const { record } = buildPublishRequest({ body, topics, source: 't' });
      expect(record.topic).toBe(topic);
    }
  });

  it.each([
    ['missing event_type', { data: {} }, 'event_type'],
    ['empty event_type', { event_type: '', data: {} }, 'event_type'],
    ['over-long event_type', { event_type: 'x'.repeat(129), data: {} }, 'event_type'],
    ['event_type with spaces', { event_type: 'a b', data: {} }, 'event_type'],
    ['data missing', { event_type: 'x' }, 'data'],
    ['data an array', { event_type: 'x', data: [] }, 'data'],
    ['data null', { event_type: 'x', data: null }, 'data'],
    ['unknown topic', { event_type: 'x', data: {}, topic: 'nope' }, 'topic'],
    ['topic in upper case', { event_type: 'x', data: {}, topic: topics.events.toUpperCase() }, 'topic'],
    ['topic with trailing space', { event_type: 'x', data: {}, topic: `${topics.events} ` }, 'topic'],
    ['topic with a unicode hyphen', { event_type: 'x', data: {}, topic: topics.events.replace('-', '\u2011') }, 'topic'],
    ['empty key', { event_type: 'x', data: {}, key: '' }, 'key'],
    ['correlation id with a space', { event_type: 'x', data: {}, correlation_id: 'a b' }, 'correlation_id'],
    ['unknown field', { event_type: 'x', data: {}, admin: true }, 'admin'],
    ['not an object', 'hello', '(root)'],
  ])('refuses %s, naming the field', (_name, body, field) => {
    expect(problems(body).join('; ')).toContain(field);
  });
});

describe('readJsonBody', () => {
  it('parses JSON and base64-encoded JSON', () => {
    expect(readJsonBody({ body: '{"a":1}', isBase64Encoded: false, maxBytes: 100 })).toEqual({ a: 1 });
    expect(readJsonBody({ body: Buffer.from('{"a":2}').toString('base64'), isBase64Encoded: true, maxBytes: 100 })).toEqual({ a: 2 });
  });

  it.each([
    ['an absent body', undefined],
    ['a null body', null],
    ['an empty body', ''],
    ['malformed JSON', '{"a":'],
  ])('refuses %s', (_name, body) => {
    expect(() => readJsonBody({ body, isBase64Encoded: false, maxBytes: 100 })).toThrow(ValidationError);
  });

  it('counts the limit in bytes, not characters', () => {
    const body = JSON.stringify({ s: 'é'.repeat(40) }); // 40 characters, 80 bytes
    expect(() => readJsonBody({ body, isBase64Encoded: false, maxBytes: 60 })).toThrow(/over the 60-byte limit/);
  });
});

describe('deeply nested JSON', () => {
  // A 9 KB body nested 4,500 levels: JSON.parse takes it, JSON.stringify overflows the stack.
  const deep = (levels: number) => `{"event_type":"deep","data":{"x":${'['.repeat(levels)}${']'.repeat(levels)}}}`;

  it('refuses a body nested deeper than the limit with a clear error', () => {
    const body = deep(4500);
    expect(body.length).toBeLessThan(10_000);
    let error: unknown;
    try {
      buildPublishRequest({ body: readJsonBody({ body, isBase64Encoded: false, maxBytes: 65_536 }), topics, source: 'test' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).message).toMatch(/nested deeper than 64 levels/);
  });

  it('accepts a body nested exactly to the limit', () => {
    // The body is 1 level, data 1, x 62 arrays: 64 in all.
    const value = readJsonBody({ body: deep(62), isBase64Encoded: false, maxBytes: 65_536 });
    expect(() => buildPublishRequest({ body: value, topics, source: 'test' })).not.toThrow();
    expect(() => readJsonBody({ body: deep(63), isBase64Encoded: false, maxBytes: 65_536 })).toThrow(ValidationError);
  });
});

describe('keys named __proto__', () => {
  it('refuses data with a __proto__ key (400) instead of publishing the data without it', () => {
    const body = readJsonBody({ body: '{"event_type":"x","data":{"__proto__":{"a":1},"b":1}}', isBase64Encoded: false, maxBytes: 1024 });
    expect(problems(body)).toEqual([expect.stringMatching(/^data: .*__proto__/)]);
  });

  it('keeps a __proto__ key nested inside data', () => {
    const body = readJsonBody({ body: '{"event_type":"x","data":{"b":{"__proto__":1}}}', isBase64Encoded: false, maxBytes: 1024 });
    const { record } = buildPublishRequest({ body, topics, source: 't' });
    expect(record.value).toContain('"b":{"__proto__":1}');
  });
});

describe("an id of the caller's own", () => {
  const id = '3f1c1e0a-8b6d-4c2e-9a7f-1b2c3d4e5f60';

  it('is the event id, and without a key the record is keyed by it, so a retry lands where the first try did', () => {
    const first = buildPublishRequest({ body: { event_type: 'x', data: {}, id }, topics, source: 't' });
    const retry = buildPublishRequest({ body: { event_type: 'x', data: {}, id }, topics, source: 't' });
    expect(first.event.id).toBe(id);
    expect(retry.event.id).toBe(id);
    expect(first.record.key).toBe(id);
    expect(retry.record.key).toBe(id);
  });

  it('keeps a key given with it', () => {
    expect(buildPublishRequest({ body: { event_type: 'x', data: {}, id, key: 'k' }, topics, source: 't' }).record.key).toBe('k');
  });

  it.each(['not-a-uuid', '', 42, '3F1C1E0A-8B6D-4C2E-9A7F-1B2C3D4E5F60x'])('refuses id %j', (bad) => {
    expect(problems({ event_type: 'x', data: {}, id: bad })).toEqual([expect.stringMatching(/^id: /)]);
  });
});

describe('a body that is not UTF-8', () => {
  it('is refused (400) instead of having its bytes silently replaced by U+FFFD', () => {
    // {"event_type":"x","data":{"a":"<0xff>"}}, as a base64 body
    const bytes = Buffer.concat([Buffer.from('{"event_type":"x","data":{"a":"'), Buffer.from([0xff]), Buffer.from('"}}')]);
    expect(() => readJsonBody({ body: bytes.toString('base64'), isBase64Encoded: true, maxBytes: 1024 })).toThrow(/not UTF-8/);
  });
});
