/**
 * The optional bearer token of GET /metrics (METRICS_TOKEN): with it set, the fleet's
 * metrics (routes, topics, error types, and caller ips when METRICS_PER_CALLER=on) are
 * shown only to a caller presenting it, e.g. Prometheus with `authorization:` in its
 * scrape config.
 */
import { checkBearer } from '../bearer';
import type { Access } from '../bearer';

export type MetricsAccess = Access;

export function authorizeMetrics(params: { authorization: string | undefined; token: string | undefined }): MetricsAccess {
  const { authorization, token } = params;
  if (token === undefined) return { allowed: true };
  return checkBearer({ authorization, token, missing: 'an Authorization: Bearer <METRICS_TOKEN> header is required' });
}
