export { BatchRedeliveryError } from './errors';
export { createBatchProcessor, UNKNOWN_EVENT_TYPE } from './batch';
export type { BatchResult, ConsumerLog, ConsumerMetrics, RecordDecision, RecordOutcome } from './batch';
export { claimedEventType, createConsumer, createEventConsumer, jsonValue, recordOwnership } from './consumer';
export type { Consumer, ConsumerDeps, JsonValue } from './consumer';
export {
  CONSUMER_FUNCTIONS,
  consumerFunction,
  consumerGroupId,
  consumerTopic,
  filterPatterns,
  startingPosition,
} from './functions';
export type { ConsumerFunction } from './functions';
export { defaultEventHandlers, handleCustomEvent, handleErrorEvent, handleHttpRequest, handleHttpResponse } from './event-handlers';
export {
  contentEventId,
  createProcessedIds,
  derivedEventId,
  nameBasedUuid,
  uuidV5,
  DEFAULT_MAX_PROCESSED_IDS,
} from './idempotency';
export type { ProcessedIds } from './idempotency';
export { createEventHandlerRegistry, withKeys } from './registry';
export type { EventHandler, EventHandlerContext, EventHandlerRegistry, HandlerMetrics } from './registry';
export { consumerGroupLag, lagByGroup, partitionLag } from './lag';
export type { LagReport } from './lag';
