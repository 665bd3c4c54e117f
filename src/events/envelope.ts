/**
 * The one event envelope used on every topic, its schema, and its Kafka headers.
 * Every event is validated against the schema before it is sent and after it is read.
 */
import { randomUUID } from 'node:crypto';
import * as z from '../zod';
import { ValidationError } from '../errors';

export const EVENT_VERSION = '1.0';
export const MAX_EVENT_TYPE_LENGTH = 128;
export const MAX_ID_LENGTH = 256;

export const eventTypeSchema = z
  .string()
  .check(
    z.minLength(1, 'must not be empty'),
    z.maxLength(MAX_EVENT_TYPE_LENGTH, `at most ${MAX_EVENT_TYPE_LENGTH} characters`),
    z.regex(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/, 'letters, digits and . _ : - only, starting with a letter or digit'),
  );

export const correlationIdSchema = z
  .string()
  .check(
    z.minLength(1, 'must not be empty'),
    z.maxLength(MAX_ID_LENGTH, `at most ${MAX_ID_LENGTH} characters`),
    z.regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces'),
  );

/**
 * A JSON object (not an array, not null). A key named `__proto__` is refused: JSON.parse
 * keeps it as a key like any other, but rebuilding the object (as schema validation does)
 * would drop it silently, so the event would not be what was sent. Nested deeper, values
 * are kept as they are, `__proto__` keys included.
 */
export const eventDataSchema = z.pipe(
  z.custom<unknown>(
    (value) => typeof value !== 'object' || value === null || !Object.prototype.hasOwnProperty.call(value, '__proto__'),
    'a key named "__proto__" is not accepted',
  ),
  z.record(z.string(), z.unknown()),
);

export const eventEnvelopeSchema = z.strictObject({
  id: z.uuid(),
  event_type: eventTypeSchema,
  timestamp: z.iso.datetime({ offset: true }),
  source: z.string().check(z.minLength(1), z.maxLength(MAX_ID_LENGTH)),
  correlation_id: correlationIdSchema,
  data: eventDataSchema,
  version: z.string().check(z.minLength(1), z.maxLength(16)),
});

export type EventEnvelope = z.infer<typeof eventEnvelopeSchema>;
export type EventData = EventEnvelope['data'];

export function describeIssues(error: { issues: ReadonlyArray<{ path: PropertyKey[]; message: string }> }): string[] {
  return error.issues.map((issue) => `${issue.path.map(String).join('.') || '(root)'}: ${issue.message}`);
}

/** Validates an unknown value as an envelope, or throws a ValidationError naming every problem. */
export function parseEnvelope(value: unknown): EventEnvelope {
  const result = eventEnvelopeSchema.safeParse(value);
  if (!result.success) {
    throw new ValidationError('invalid event envelope', describeIssues(result.error));
  }
  return result.data;
}

export function newCorrelationId(): string {
  return randomUUID();
}

/** Builds a validated envelope; a correlation id is made when none is given. */
export function createEvent(params: {
  eventType: string;
  data: EventData;
  source: string;
  correlationId?: string | undefined;
  now?: Date;
  id?: string;
}): EventEnvelope {
  return parseEnvelope({
    id: params.id ?? randomUUID(),
    event_type: params.eventType,
    timestamp: (params.now ?? new Date()).toISOString(),
    source: params.source,
    correlation_id: params.correlationId ?? newCorrelationId(),
    data: params.data,
    version: EVENT_VERSION,
  });
}

export const CONTENT_TYPE = 'application/json';

/** The Kafka headers every event carries, so consumers can route without parsing. */
export function eventHeaders(event: EventEnvelope): Record<string, string> {
  return {
    event_type: event.event_type,
    correlation_id: event.correlation_id,
    'content-type': CONTENT_TYPE,
  };
}
