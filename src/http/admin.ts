/**
 * The admin routes' bearer token check. The comparison is constant-time (both sides are
 * hashed to equal-length digests first), and the routes are off when no token is set.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export type AdminDecision = { allowed: true } | { allowed: false; status: 401 | 403; message: string };

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

export function authorizeAdmin(params: { authorization: string | undefined; token: string | undefined }): AdminDecision {
  const { authorization, token } = params;
  if (token === undefined) {
    return { allowed: false, status: 403, message: 'admin routes are disabled: no ADMIN_TOKEN is configured' };
  }
  const match = /^Bearer ([^\s]+)$/i.exec(authorization?.trim() ?? '');
  if (!match?.[1]) {
    return { allowed: false, status: 401, message: 'an Authorization: Bearer <token> header is required' };
  }
  if (!timingSafeEqual(digest(match[1]), digest(token))) {
    return { allowed: false, status: 403, message: 'the token is not valid' };
  }
  return { allowed: true };
}
