import { describe, expect, it } from 'vitest';
import { METRICS_TOKEN_PATTERN, authorizeAdmin, authorizeMetrics, bearerTokenSecret, isAdminToken } from '../../src/bearer';

const token = 'a-very-secret-admin-token';

describe('authorizeAdmin', () => {
  it('is disabled (403) when no token is configured, whatever the caller sends', () => {
    expect(authorizeAdmin({ authorization: `Bearer ${token}`, token: undefined })).toMatchObject({
      allowed: false,
      status: 403,
    });
  });

  it.each([
    ['no header', undefined],
    ['empty header', ''],
    ['another scheme', `Basic ${token}`],
    ['bearer without token', 'Bearer '],
    ['two tokens', `Bearer ${token} ${token}`],
  ])('answers 401 for %s', (_name, authorization) => {
    expect(authorizeAdmin({ authorization, token })).toMatchObject({ allowed: false, status: 401 });
  });

  it.each([
    ['a wrong token', 'Bearer wrong'],
    ['a prefix of the token', `Bearer ${token.slice(0, -1)}`],
    ['the token in other case', `Bearer ${token.toUpperCase()}`],
    ['the token with more after it', `Bearer ${token}x`],
  ])('answers 403 for %s', (_name, authorization) => {
    expect(authorizeAdmin({ authorization, token })).toMatchObject({ allowed: false, status: 403 });
  });

  it('allows the right token, with any case of "Bearer"', () => {
    expect(authorizeAdmin({ authorization: `Bearer ${token}`, token })).toEqual({ allowed: true });
    expect(authorizeAdmin({ authorization: `bearer ${token}`, token })).toEqual({ allowed: true });
  });
});

describe('authorizeMetrics', () => {
  it('lets anyone in without METRICS_TOKEN, and with one asks for it (401 without, 403 wrong)', () => {
    expect(authorizeMetrics({ authorization: undefined, token: undefined })).toEqual({ allowed: true });
    expect(authorizeMetrics({ authorization: undefined, token })).toEqual({
      allowed: false,
      status: 401,
      message: 'an Authorization: Bearer <METRICS_TOKEN> header is required',
    });
    expect(authorizeMetrics({ authorization: 'Bearer not-the-token', token })).toMatchObject({ allowed: false, status: 403 });
    expect(authorizeMetrics({ authorization: `Bearer ${token}`, token })).toEqual({ allowed: true });
  });
});

describe('what a token may hold', () => {
  it('takes an admin token of 16 or more printable ASCII characters without spaces', () => {
    expect(isAdminToken(token)).toBe(true);
    expect(isAdminToken('x'.repeat(15))).toBe(false);
    expect(isAdminToken('with a space in it, long enough')).toBe(false);
  });

  it("reads a secret's token trimmed, and refuses one too short or with characters the pattern does not allow", () => {
    const decode = bearerTokenSecret(METRICS_TOKEN_PATTERN);
    expect(decode(`  ${token}\n`)).toBe(token);
    expect(() => decode('short')).toThrow('holds no string of at least 16 characters');
    expect(() => decode('sixteen-chars-and-a-!')).toThrow(/holds characters a bearer token cannot carry/);
  });
});
