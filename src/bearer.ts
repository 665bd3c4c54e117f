/**
 * The one bearer token check (the admin routes, GET /metrics): the comparison is
 * constant-time, both sides hashed to equal-length digests first.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export type Access = { allowed: true } | { allowed: false; status: 401 | 403; message: string };

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** 401 with `missing` when there is no `Authorization: Bearer …`, 403 when it is not `token`. */
export function checkBearer(params: { authorization: string | undefined; token: string; missing: string }): Access {
  const match = /^Bearer ([^\s]+)$/i.exec(params.authorization?.trim() ?? '');
  if (!match?.[1]) return { allowed: false, status: 401, message: params.missing };
  if (!timingSafeEqual(digest(match[1]), digest(params.token))) return { allowed: false, status: 403, message: 'the token is not valid' };
  return { allowed: true };
}
