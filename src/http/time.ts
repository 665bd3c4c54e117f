import { eventHeaders, httpRequestEvent, httpResponseEvent } from '../events';
import type { EventEnvelope } from '../events';
import type { Topics } from '../config';
import type { OutgoingRecord } from '../kafka';
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

function toRecord(topic: string, key: string, event: EventEnvelope): OutgoingRecord {
  return { topic, key, value: JSON.stringify(event), headers: eventHeaders(event) };
}

interface TimeRecordParams {
  payload: TimePayload;
  endpoint: string;
  topics: Pick<Topics, 'requests' | 'events'>;
  source: string;
  correlationId: string;
}

/**
 * The first of the two events a time request produces: http_request on the requests topic,
 * keyed by the caller's ip (so one caller's events stay in order on one partition).
 */
export function timeRequestRecord(params: TimeRecordParams & { method: string }): OutgoingRecord {
  const { payload } = params;
  const request = httpRequestEvent(
    {
      user_ip: payload.ip,
      method: params.method,
      endpoint: params.endpoint,
      hostname: payload.host.function_name,
      os: payload.host.os,
      request_id: payload.request_id,
    },
    { source: params.source, correlationId: params.correlationId },
  );
  return toRecord(params.topics.requests, payload.ip, request);
}

/**
 * The second: http_response on the events topic, same key, with the time it took to
 * produce the answer (`responseTimeMs`, the http_request send included).
 */
export function timeResponseRecord(params: TimeRecordParams & { statusCode: number; responseTimeMs: number }): OutgoingRecord {
  const { payload } = params;
  const response = httpResponseEvent(
    {
      user_ip: payload.ip,
      status_code: params.statusCode,
      response_time_ms: Math.round(params.responseTimeMs * 1000) / 1000,
      endpoint: params.endpoint,
      request_id: payload.request_id,
    },
    { source: params.source, correlationId: params.correlationId },
  );
  return toRecord(params.topics.events, payload.ip, response);
}
