/** Builders for the original service's event types, with the data each carries (docs/compatibility.md). */
import type { EventEnvelope } from './envelope';
import { createEvent } from './envelope';

export const EVENT_TYPES = {
  httpRequest: 'http_request',
  httpResponse: 'http_response',
  error: 'error',
} as const;

interface Common {
  source: string;
  correlationId?: string | undefined;
  now?: Date;
}

export function httpRequestEvent(
  data: { user_ip: string; method: string; endpoint: string; hostname: string; os: string; request_id: string },
  common: Common,
): EventEnvelope {
  return createEvent({ eventType: EVENT_TYPES.httpRequest, data, ...common });
}

export function httpResponseEvent(
  data: { user_ip: string; status_code: number; response_time_ms: number; endpoint: string; request_id: string },
  common: Common,
): EventEnvelope {
  return createEvent({ eventType: EVENT_TYPES.httpResponse, data, ...common });
}

export function errorEvent(
  data: { error_message: string; error_type: string; service: string; request_id?: string },
  common: Common,
): EventEnvelope {
  return createEvent({ eventType: EVENT_TYPES.error, data, ...common });
}
