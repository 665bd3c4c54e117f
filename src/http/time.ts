import type { HostInfo } from '../runtime';

export interface TimePayload {
  timestamp: string;
  ip: string;
  proxy_chain: string[];
  host: HostInfo;
  request_id: string;
}

/**
 * The X-Forwarded-For entries in order, as the client and proxies wrote them. It is
 * shown, never trusted: `ip` comes from API Gateway's requestContext.
 */
export function parseForwardedFor(header: string | undefined): string[] {
  if (!header) return [];
  return header
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0)
    .slice(0, 32);
}

export function buildTimePayload(params: {
  sourceIp: string;
  forwardedFor: string | undefined;
  requestId: string;
  host: HostInfo;
  now?: Date;
}): TimePayload {
  return {
    timestamp: (params.now ?? new Date()).toISOString(),
    ip: params.sourceIp,
    proxy_chain: parseForwardedFor(params.forwardedFor),
    host: params.host,
    request_id: params.requestId,
  };
}
