/**
 * The registry from event_type to the handler that does a consumer's work for it.
 * A handler gets a validated envelope and the record it came in, checks what it needs,
 * and returns its effect (./batch.ts): the records it writes, and the logs and metrics to
 * record once they are acknowledged (in order with the rest of its partition). It throws a
 * retriable error (ServiceError with `retriable`) to have the record delivered again, and
 * anything else to have it dead-lettered.
 */
import type { EventEnvelope } from '../events';
import type { ConsumedRecord } from '../kafka';
import type { MetricInstances } from '../metrics';
import type { ConsumerLog, Effect } from './batch';

export type HandlerMetrics = Pick<MetricInstances, 'callerRequests' | 'httpResponseTime' | 'errorEvents' | 'commands'>;

export interface EventHandlerContext {
  record: ConsumedRecord;
  /** Logs with the record's coordinates, event id and correlation id already attached. */
  log: ConsumerLog;
  metrics?: HandlerMetrics;
  /** This function's `source` for the events it publishes. */
  source: string;
  now: () => Date;
}

export type EventHandler = (event: EventEnvelope, context: EventHandlerContext) => Promise<Effect> | Effect;

export interface EventHandlerRegistry {
  /** The handler for a type, or the fallback (custom events), or undefined. */
  get(eventType: string): EventHandler | undefined;
  types(): string[];
}

export function createEventHandlerRegistry(params: {
  handlers: Record<string, EventHandler>;
  /** Handles every type not listed (the custom-events function). */
  fallback?: EventHandler;
}): EventHandlerRegistry {
  const handlers = new Map(Object.entries(params.handlers));
  return {
    get: (eventType) => handlers.get(eventType) ?? params.fallback,
    types: () => [...handlers.keys()],
  };
}

/** A logger whose every line carries `keys`. */
export function withKeys(log: ConsumerLog, keys: Record<string, unknown>): ConsumerLog {
  return {
    debug: (message, ...extra) => log.debug(message, keys, ...extra),
    info: (message, ...extra) => log.info(message, keys, ...extra),
    warn: (message, ...extra) => log.warn(message, keys, ...extra),
    error: (message, ...extra) => log.error(message, keys, ...extra),
  };
}
