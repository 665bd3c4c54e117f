/**
 * The service's bearer tokens, in one file: what a token may hold (ADMIN_TOKEN,
 * METRICS_TOKEN and the secrets that hold them), and the check of an
 * `Authorization: Bearer …` header against one, for the admin routes and GET /metrics.
 * The comparison is constant-time, both sides hashed to equal-length digests first.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** The shortest token either check accepts. */
export const BEARER_TOKEN_MIN_LENGTH = 16;

/** What the admin token may hold: printable ASCII without spaces, one word as a bearer token is. */
export const ADMIN_TOKEN_PATTERN = /^[\x21-\x7e]+$/;

/** What the GET /metrics token may hold (the characters of RFC 6750's b64token, 16 or more). */
export const METRICS_TOKEN_PATTERN = /^[A-Za-z0-9._~+/=-]{16,}$/;

/** Whether `token` is one src/config.ts accepts as ADMIN_TOKEN. */
export function isAdminToken(token: string): boolean {
  return token.length >= BEARER_TOKEN_MIN_LENGTH && ADMIN_TOKEN_PATTERN.test(token);
}

/** A bearer token held as a secret's whole string: trimmed, at least 16 characters, all of them matching `pattern`. */
export function bearerTokenSecret(pattern: RegExp): (secretString: string) => string {
  return (secretString) => {
    const token = secretString.trim();
    if (token.length < BEARER_TOKEN_MIN_LENGTH) throw new Error(`holds no string of at least ${BEARER_TOKEN_MIN_LENGTH} characters`);
    if (!pattern.test(token)) throw new Error(`holds characters a bearer token cannot carry (allowed: ${pattern.source})`);
    return token;
  };
}

/** What a bearer check decides: allowed, or the status and message to refuse with. */
export type BearerCheck = { allowed: true } | { allowed: false; status: 401 | 403; message: string };

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** 401 with `missing` when there is no `Authorization: Bearer …`, 403 when it is not `token`. */
function checkBearer(params: { authorization: string | undefined; token: string; missing: string }): BearerCheck {
  const match = /^Bearer ([^\s]+)$/i.exec(params.authorization?.trim() ?? '');
  if (!match?.[1]) return { allowed: false, status: 401, message: params.missing };
  if (!timingSafeEqual(digest(match[1]), digest(params.token))) return { allowed: false, status: 403, message: 'the token is not valid' };
  return { allowed: true };
}

/** The admin routes (src/use-cases/admin-access.ts): off, every caller refused, when no token is set. */
export function authorizeAdmin(params: { authorization: string | undefined; token: string | undefined }): BearerCheck {
  const { authorization, token } = params;
  if (token === undefined) {
    return { allowed: false, status: 403, message: 'admin routes are disabled: no ADMIN_TOKEN is configured' };
  }
  return checkBearer({ authorization, token, missing: 'an Authorization: Bearer <token> header is required' });
}

/**
 * GET /metrics (METRICS_TOKEN): with a token set, the fleet's metrics (routes, topics, error
 * types, and caller ips when METRICS_PER_CALLER=on) are shown only to a caller presenting
 * it, e.g. Prometheus with `authorization:` in its scrape config; without one, to anyone.
 */
export function authorizeMetrics(params: { authorization: string | undefined; token: string | undefined }): BearerCheck {
  const { authorization, token } = params;
  if (token === undefined) return { allowed: true };
  return checkBearer({ authorization, token, missing: 'an Authorization: Bearer <METRICS_TOKEN> header is required' });
}
