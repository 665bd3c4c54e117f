export {
  CONTENT_TYPE,
  EVENT_VERSION,
  MAX_EVENT_TYPE_LENGTH,
  correlationIdSchema,
  createEvent,
  describeIssues,
  eventDataSchema,
  eventEnvelopeSchema,
  eventHeaders,
  eventTypeSchema,
  newCorrelationId,
  parseEnvelope,
} from './envelope';
export type { EventData, EventEnvelope } from './envelope';
export { EVENT_TYPES, errorEvent, httpRequestEvent, httpResponseEvent } from './types';
