/**
 * A command as it arrives on the commands topic, in either shape:
 * - our envelope (`{id, event_type, timestamp, source, correlation_id, data, version}`,
 *   src/events), the command type in `event_type` and its payload in `data`;
 * - the plain shape (`{type, correlation_id, timestamp, payload, source}`), as clients of the
 *   original service write it (docs/compatibility.md); it has no id, so one is derived from its bytes.
 * A command without a correlation id can never be answered usefully: it is dead-lettered
 * (the original service only logged a warning and dropped it).
 */
import * as z from '../zod';
import { ValidationError } from '../errors';
import { isJsonObject } from '../json';
import { correlationIdSchema, describeIssues, eventDataSchema, eventTypeSchema, parseEnvelope } from '../events';
import type { DeadLetterReason } from '../kafka';
import { contentEventId } from '../consumers';
import type { Command } from './command-handlers';

const plainCommandSchema = z.object({
  type: eventTypeSchema,
  correlation_id: correlationIdSchema,
  timestamp: z.optional(z.string().check(z.maxLength(64))),
  payload: z.optional(eventDataSchema),
  source: z.optional(z.string().check(z.maxLength(256))),
});

export type DecodedCommand =
  | { ok: true; command: Command }
  | { ok: false; reason: Extract<DeadLetterReason, 'missing_correlation_id' | 'invalid_envelope' | 'invalid_command'>; error: string };

function lacksCorrelationId(value: Record<string, unknown>): boolean {
  const id = value.correlation_id;
  return id === undefined || id === null || (typeof id === 'string' && id.trim() === '');
}

/** Validates a command's JSON (`raw` is the record's value, for the plain shape's derived id). */
export function decodeCommand(json: unknown, raw: Buffer): DecodedCommand {
  if (!isJsonObject(json)) {
    return { ok: false, reason: 'invalid_command', error: 'a command is a JSON object' };
  }
  if (lacksCorrelationId(json)) {
    return { ok: false, reason: 'missing_correlation_id', error: 'the command has no correlation_id, so no answer could be correlated' };
  }
  if ('event_type' in json) {
    try {
      const event = parseEnvelope(json);
      return {
        ok: true,
        command: {
          id: event.id,
          type: event.event_type,
          correlationId: event.correlation_id,
          timestamp: event.timestamp,
          source: event.source,
          payload: event.data,
          shape: 'envelope',
        },
      };
    } catch (error) {
      const details = error instanceof ValidationError ? error.details.join('; ') : String(error);
      return { ok: false, reason: 'invalid_envelope', error: `invalid event envelope: ${details}` };
    }
  }
  if ('type' in json) {
    const parsed = plainCommandSchema.safeParse(json);
    if (!parsed.success) {
      return { ok: false, reason: 'invalid_command', error: `invalid command: ${describeIssues(parsed.error).join('; ')}` };
    }
    const c = parsed.data;
    return {
      ok: true,
      command: {
        id: contentEventId(raw),
        type: c.type,
        correlationId: c.correlation_id,
        timestamp: c.timestamp,
        source: c.source,
        payload: c.payload ?? {},
        shape: 'plain',
      },
    };
  }
  return {
    ok: false,
    reason: 'invalid_command',
    error: 'neither an event envelope (event_type) nor a plain command (type)',
  };
}
