/**
 * POST /kafka/publish: the original service's body (docs/compatibility.md) ({event_type, data, topic?, key?, correlation_id?},
 * plus an optional `id`) validated into an event for one of the configured topics.
 *
 * `id` makes a retry safe: a send that timed out may still have been written, so a client
 * that retries with the same id publishes the same event id (on the same partition, since
 * the id is the key when no key is given), and the consumers drop the second copy.
 */
import * as z from '../zod';
import type { Topics } from '../config';
import { ValidationError } from '../errors';
import { correlationIdSchema, createEvent, describeIssues, eventDataSchema, eventTypeSchema } from '../events';
import type { EventEnvelope } from '../events';
import type { OutgoingRecord } from '../kafka';
import { eventHeaders } from '../events';

export const MAX_KEY_LENGTH = 256;

const publishBodySchema = z.strictObject({
  event_type: eventTypeSchema,
  data: eventDataSchema,
  topic: z.optional(z.string()),
  key: z.optional(z.string().check(z.minLength(1), z.maxLength(MAX_KEY_LENGTH))),
  correlation_id: z.optional(correlationIdSchema),
  id: z.optional(z.uuid('a UUID (the event id; send the same one when retrying)')),
});

export interface PublishRequest {
  event: EventEnvelope;
  record: OutgoingRecord;
}

/**
 * Validates the body and builds the event and its record. The topic must equal one of
 * the configured topic names exactly: no case folding or normalisation, so look-alikes
 * are refused. The events topic is the default.
 */
export function buildPublishRequest(params: { body: unknown; topics: Topics; source: string }): PublishRequest {
  const parsed = publishBodySchema.safeParse(params.body);
  if (!parsed.success) throw new ValidationError('invalid publish request', describeIssues(parsed.error));
  const { event_type, data, topic, key, correlation_id, id } = parsed.data;
  const allowed = Object.values(params.topics);
  const target = topic ?? params.topics.events;
  if (!allowed.includes(target)) {
    throw new ValidationError('invalid publish request', [`topic: must be one of ${allowed.join(', ')}`]);
  }
  const event = createEvent({ eventType: event_type, data, source: params.source, correlationId: correlation_id, ...(id ? { id } : {}) });
  return {
    event,
    record: { topic: target, key: key ?? (id ? id : null), value: JSON.stringify(event), headers: eventHeaders(event) },
  };
}
