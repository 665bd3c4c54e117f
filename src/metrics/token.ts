/**
 * The optional bearer token of GET /metrics (METRICS_TOKEN): with it set, the fleet's
 * metrics (routes, topics, error types, and caller ips when METRICS_PER_CALLER=on) are
 * shown only to a caller presenting it, e.g. Prometheus with `authorization:` in its
 * scrape config. Compared in constant time on equal-length digests, as the admin token is.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export type MetricsAccess = { allowed: true } | { allowed: false; status: 401 | 403; message: string };

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

export function authorizeMetrics(params: { authorization: string | undefined; token: string | undefined }): MetricsAccess {
  const { authorization, token } = params;
  if (token === undefined) return { allowed: true };
  const match = /^Bearer ([^\s]+)$/i.exec(authorization?.trim() ?? '');
  if (!match?.[1]) return { allowed: false, status: 401, message: 'an Authorization: Bearer <METRICS_TOKEN> header is required' };
  if (!timingSafeEqual(digest(match[1]), digest(token))) return { allowed: false, status: 403, message: 'the token is not valid' };
  return { allowed: true };
}
