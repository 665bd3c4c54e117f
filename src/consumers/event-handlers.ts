/**
 * The original service's consumer handlers (docs/compatibility.md), doing what a user wants from them: each event becomes one
 * structured log line with the correlation id and the fields worth searching on, and the
 * metrics a dashboard needs (requests per caller, the response-time histogram, errors by
 * type). The data of each type is validated; data a handler cannot use is refused with a
 * ValidationError, which dead-letters the record (reason `invalid_data`).
 */
import * as z from '../zod';
import { ValidationError } from '../errors';
import { EVENT_TYPES, describeIssues } from '../events';
import type { EventEnvelope } from '../events';
import type { EventHandler, EventHandlerTable } from './event-handler-table';
import { createEventHandlerTable } from './event-handler-table';

const nonEmpty = () => z.string().check(z.minLength(1));

const httpRequestData = z.object({
  user_ip: nonEmpty(),
  method: nonEmpty(),
  endpoint: z.string(),
  hostname: z.optional(z.string()),
  os: z.optional(z.string()),
  request_id: z.optional(z.string()),
});

const httpResponseData = z.object({
  user_ip: z.optional(z.string()),
  status_code: z.number().check(z.int(), z.gte(100), z.lte(599)),
  response_time_ms: z.number().check(z.gte(0)),
  endpoint: z.optional(z.string()),
  request_id: z.optional(z.string()),
});

const errorData = z.object({
  error_message: z.string(),
  error_type: nonEmpty(),
  service: nonEmpty(),
  request_id: z.optional(z.string()),
});

function dataOf<T extends z.ZodMiniType>(schema: T, event: EventEnvelope): z.infer<T> {
  const parsed = schema.safeParse(event.data);
  if (!parsed.success) {
    throw new ValidationError(
      `invalid ${event.event_type} data`,
      describeIssues(parsed.error).map((d) => `data.${d}`),
    );
  }
  return parsed.data;
}

/** http_request: who called what. Counts requests per caller (caller_requests_total). */
export const handleHttpRequest: EventHandler = (event, { log, metrics }) => {
  const data = dataOf(httpRequestData, event);
  return {
    done: () => {
      metrics?.callerRequests.inc({ caller: data.user_ip });
      log.info('http request', {
        caller: data.user_ip,
        method: data.method,
        endpoint: data.endpoint,
        hostname: data.hostname,
        os: data.os,
        request_id: data.request_id,
        requested_at: event.timestamp,
      });
    },
  };
};

/** http_response: how it went. Feeds http_response_time_seconds{endpoint, status}. */
export const handleHttpResponse: EventHandler = (event, { log, metrics }) => {
  const data = dataOf(httpResponseData, event);
  const endpoint = data.endpoint ?? 'unknown';
  const line = {
    caller: data.user_ip,
    endpoint,
    status_code: data.status_code,
    response_time_ms: data.response_time_ms,
    request_id: data.request_id,
  };
  return {
    done: () => {
      metrics?.httpResponseTime.observe({ endpoint, status: String(data.status_code) }, data.response_time_ms / 1000);
      if (data.status_code >= 500) log.warn('http response: server error', line);
      else log.info('http response', line);
    },
  };
};

/**
 * error: a failure reported by a function of this service (or another service). Counted
 * by type and service (error_events_total) and logged at warn: the function that failed
 * logged the error itself; this line is the durable, searchable trail of it.
 */
export const handleErrorEvent: EventHandler = (event, { log, metrics }) => {
  const data = dataOf(errorData, event);
  return {
    done: () => {
      metrics?.errorEvents.inc({ error_type: data.error_type, service: data.service });
      log.warn('error event', {
        error_type: data.error_type,
        error_message: data.error_message,
        reported_by: data.service,
        request_id: data.request_id,
        reported_at: event.timestamp,
      });
    },
  };
};

/**
 * Any other event on the events topic (custom events from POST /kafka/publish, command
 * answers such as time.now.processed and command.rejected): logged with its type,
 * source and data keys; kafka_messages_received_total counts it by event_type.
 */
export const handleCustomEvent: EventHandler = (event, { log }) => {
  const line = {
    source: event.source,
    data_keys: Object.keys(event.data).slice(0, 50),
    published_at: event.timestamp,
  };
  return {
    done: () => {
      if (event.event_type === 'command.rejected') log.warn('command rejected', { ...line, data: event.data });
      else log.info('custom event', line);
    },
  };
};

/** The handlers of the original service's event types; other types go to the custom-event handler. */
export function defaultEventHandlers(): EventHandlerTable {
  return createEventHandlerTable({
    handlers: {
      [EVENT_TYPES.httpRequest]: handleHttpRequest,
      [EVENT_TYPES.httpResponse]: handleHttpResponse,
      [EVENT_TYPES.error]: handleErrorEvent,
    },
    fallback: handleCustomEvent,
  });
}
