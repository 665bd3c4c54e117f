import { describe, expect, it } from 'vitest';
import { authorizeAdmin } from '../../src/bearer';

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
