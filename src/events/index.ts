export {
  correlationIdSchema,
  createEvent,
  describeIssues,
  eventDataSchema,
  eventHeaders,
  eventTypeSchema,
  parseEnvelope,
} from './envelope';
export type { EventData, EventEnvelope } from './envelope';
export { EVENT_TYPES, errorEvent, httpRequestEvent, httpResponseEvent } from './types';
