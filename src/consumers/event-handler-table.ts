/**
 * The event handler table: from event_type to the handler that does a consumer's work for it.
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

export interface EventHandlerTable {
  /** The handler for a type, or the fallback (custom events), or undefined. */
  get(eventType: string): EventHandler | undefined;
  types(): string[];
}

export function createEventHandlerTable(params: {
  handlers: Record<string, EventHandler>;
  /** Handles every type not listed (the custom-events function). */
  fallback?: EventHandler;
}): EventHandlerTable {
  const handlers = new Map(Object.entries(params.handlers));
  return {
    get: (eventType) => handlers.get(eventType) ?? params.fallback,
    types: () => [...handlers.keys()],
  };
}
