/**
 * A consumer function's logic, free of Lambda types: decoded Kafka records in, per-record
 * outcomes and the records to report as failed out. The handlers/ entry points decode the
 * MSK event, call `processRecords`, and return the partial batch response.
 */
import type { Config } from '../config';
import { parseEnvelope } from '../events';
import { MAX_JSON_DEPTH, decodeJson, isJsonObject } from '../json';
import type { EventEnvelope } from '../events';
import { ValidationError, errorMessage, isRetriable } from '../errors';
import { createDeadLetterer } from '../kafka';
import type { ConsumedRecord, DeadLetterReason, RecordPublisher } from '../kafka';
import type { BatchResult, ConsumerLog, ConsumerMetrics, ProcessOptions, RecordDecision } from './batch';
import { UNKNOWN_EVENT_TYPE, createBatchProcessor } from './batch';
import { consumerTopic } from './functions';
import type { ConsumerFunction } from './functions';
import type { ProcessedIds } from './idempotency';
import { createProcessedIds } from './idempotency';
import type { EventHandlerTable, HandlerMetrics } from './event-handler-table';
import { withKeys } from './batch';
import { defaultEventHandlers } from './event-handlers';
import { readEventType, recordOwnership } from './ownership';
import { handlesType } from './table-rules';

export interface Consumer {
  readonly name: string;
  processRecords(records: readonly ConsumedRecord[], options?: ProcessOptions): Promise<BatchResult>;
}

/** What the consumers share: where to publish and dead-letter, metrics, logs. */
export interface ConsumerDeps {
  config: Pick<Config, 'service' | 'kafka'>;
  publisher: RecordPublisher;
  logger: ConsumerLog;
  metrics?: ConsumerMetrics & HandlerMetrics;
  /** The container's memory of processed event ids (one per function). */
  processed?: ProcessedIds;
  /** Bound on each produce of answers and dead letters; KAFKA_SEND_TIMEOUT_MS by default. */
  sendTimeoutMs?: number;
  now?: () => Date;
}

export type JsonValue =
  | { ok: true; json: unknown }
  | { ok: false; reason: Extract<DeadLetterReason, 'empty_value' | 'not_utf8' | 'not_json' | 'too_deep'>; error: string };

/** The record's value as JSON (nested at most MAX_JSON_DEPTH levels), or why it cannot be. */
export function jsonValue(record: Pick<ConsumedRecord, 'value'>): JsonValue {
  if (record.value === null) return { ok: false, reason: 'empty_value', error: 'the record has no value (a tombstone)' };
  const decoded = decodeJson(record.value);
  if (decoded.ok) return decoded;
  if (decoded.reason === 'not_utf8')
    return { ok: false, reason: 'not_utf8', error: `the value is not UTF-8 text (${record.value.length} bytes)` };
  if (decoded.reason === 'not_json') return { ok: false, reason: 'not_json', error: `the value is not JSON: ${decoded.error}` };
  return { ok: false, reason: 'too_deep', error: `the value is nested deeper than ${MAX_JSON_DEPTH} levels` };
}

/** The event_type a record claims, for labels, before it is validated. */
export function claimedEventType(json: unknown, field: 'event_type' | 'type' = 'event_type'): string {
  if (!isJsonObject(json)) return UNKNOWN_EVENT_TYPE;
  const value = json[field];
  return typeof value === 'string' && value.length > 0 && value.length <= 128 ? value : UNKNOWN_EVENT_TYPE;
}

export function createConsumer(
  params: ConsumerDeps & {
    name: string;
    decide: (record: ConsumedRecord) => RecordDecision;
  },
): Consumer {
  const { config, publisher, logger, metrics, name } = params;
  const deadLetterer = createDeadLetterer({ topic: config.kafka.topics.dlq, consumer: name, ...(params.now ? { now: params.now } : {}) });
  const processor = createBatchProcessor({
    consumer: name,
    decide: params.decide,
    publisher,
    deadLetterer,
    sendTimeoutMs: params.sendTimeoutMs ?? config.kafka.sendTimeoutMs,
    processed: params.processed ?? createProcessedIds(),
    logger,
    ...(metrics ? { metrics } : {}),
  });
  return { name, processRecords: (records, options) => processor.process(records, options) };
}

/**
 * An observer's decisions (README, "Consumers"): it never dead-letters. A record it could
 * not use is skipped, and a handler's non-retriable failure is logged instead of
 * dead-lettered; its owner on the topic handles or dead-letters the record.
 */
function observing(decide: (record: ConsumedRecord) => RecordDecision, logger: ConsumerLog): (record: ConsumedRecord) => RecordDecision {
  return (record) => {
    const decision = decide(record);
    if (decision.kind === 'dead_letter') {
      return { kind: 'skip', eventType: decision.eventType, reason: `not observed (${decision.reason}): ${decision.error}` };
    }
    if (decision.kind === 'skip') return decision;
    const prepare = async () => {
      try {
        return await decision.prepare();
      } catch (error) {
        if (isRetriable(error)) throw error;
        const facts = {
          event_type: decision.eventType,
          event_id: decision.id,
          topic: record.topic,
          partition: record.partition,
          offset: record.offset,
        };
        return { done: () => logger.warn('record not observed: its handler refused it', { ...facts, error: errorMessage(error) }) };
      }
    };
    return { ...decision, prepare };
  };
}

/**
 * The consumer of one event function (a row whose handler is `events`): validates the
 * envelope, picks the handler by event_type, and runs it.
 */
export function createEventConsumer(
  params: ConsumerDeps & {
    fn: ConsumerFunction;
    /** The whole table, to know the siblings on the same topic. */
    functions?: readonly ConsumerFunction[];
    handlers?: EventHandlerTable;
  },
): Consumer {
  const { fn, config, logger, metrics } = params;
  const handlers = params.handlers ?? ('handlers' in fn.handler ? fn.handler.handlers() : defaultEventHandlers());
  const owns = recordOwnership(fn, params.functions);
  const topic = consumerTopic(config.kafka, fn);
  const source = `${config.service.name}/${fn.name}`;
  const now = params.now ?? (() => new Date());

  function decide(record: ConsumedRecord): RecordDecision {
    const value = jsonValue(record);
    const ownership = owns(record);
    if (ownership === 'another') {
      const eventType = value.ok ? claimedEventType(value.json) : UNKNOWN_EVENT_TYPE;
      return { kind: 'skip', eventType, reason: 'another function on this topic handles it' };
    }
    if (ownership === 'contested') {
      const read = readEventType(record.value).possible;
      return {
        kind: 'dead_letter',
        eventType: UNKNOWN_EVENT_TYPE,
        reason: 'ambiguous_event_type',
        error: `event_type reads as ${read.map((t) => JSON.stringify(t)).join(' or ')} depending on the reader (a byte order mark, a repeated or escaped event_type): no filter can be trusted to deliver it`,
      };
    }
    if (!value.ok) return { kind: 'dead_letter', eventType: UNKNOWN_EVENT_TYPE, reason: value.reason, error: value.error };
    const claimed = claimedEventType(value.json);
    let event: EventEnvelope;
    try {
      event = parseEnvelope(value.json);
    } catch (error) {
      const details = error instanceof ValidationError ? error.details.join('; ') : String(error);
      return { kind: 'dead_letter', eventType: claimed, reason: 'invalid_envelope', error: `invalid event envelope: ${details}` };
    }
    const handler = handlesType(fn, event.event_type) ? handlers.get(event.event_type) : undefined;
    if (!handler) {
      return {
        kind: 'dead_letter',
        eventType: event.event_type,
        reason: 'unhandled_event_type',
        error: `${fn.name} handles no ${event.event_type} events, and no other function reads them from ${topic}`,
      };
    }
    const log = withKeys(logger, {
      event_type: event.event_type,
      event_id: event.id,
      correlation_id: event.correlation_id,
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
    });
    return {
      kind: 'handle',
      eventType: event.event_type,
      id: event.id,
      correlationId: event.correlation_id,
      prepare: () => handler(event, { record, log, source, now, ...(metrics ? { metrics } : {}) }),
    };
  }

  return createConsumer({ ...params, name: fn.name, decide: fn.role === 'observer' ? observing(decide, logger) : decide });
}
