/**
 * The consumer functions: which topic each reads, which event types it handles, and
 * its consumer group. One table, read by serverless.yml's generator checks, by
 * GET /kafka/status, by the metrics function (lag per group) and by the consumers.
 *
 * Filtering and poison records. Lambda's Kafka event filtering only looks at `value`, and
 * a record whose value is not UTF-8 JSON, or is JSON without `event_type`, never matches a
 * pattern on `value.event_type`: Lambda drops it and commits its offset, so no function
 * would ever see it and it could not be dead-lettered (docs.aws.amazon.com/lambda/latest/
 * dg/kafka-filtering.html and invocation-eventfiltering.html; infra/offline-msk/src/filter.ts
 * spells the rules out). No pattern can match random bytes, so on every topic exactly one
 * function has no filter at all: the topic's catch-all. It receives every record, skips
 * the ones a sibling's filter delivers to that sibling (looked up in this table, which the
 * filters are made from, so each record is handled or dead-lettered by exactly one function), and
 * dead-letters whatever can never be processed. The other functions filter on their own
 * event types. The price is that the catch-all of the events topic is also invoked for
 * the batches that hold http_response and error events, which it skips.
 */
import type { Config, Topics } from '../config';

export interface ConsumerFunction {
  /** The function's name in serverless.yml. */
  name: string;
  /** Which configured topic it reads. */
  topic: keyof Topics;
  /**
   * The event types it handles. `except` means every type but those listed (the types
   * its sibling functions on the same topic handle).
   */
  eventTypes: { only: string[] } | { except: string[] };
  /** Appended to KAFKA_CONSUMER_GROUP to make the function's own consumer group. */
  groupSuffix: string;
  /**
   * The topic's catch-all: its event source mapping has no filter, so records no filter
   * can match (not JSON, no event_type) still reach it and are dead-lettered.
   */
  catchAll: boolean;
  /** serverless.yml's description of the function. */
  description: string;
  /** Records per invocation at most (the event source mapping's batchSize). */
  batchSize: number;
}

export const CONSUMER_FUNCTIONS: readonly ConsumerFunction[] = [
  // The only function on the requests topic, so its catch-all.
  {
    name: 'onHttpRequest',
    topic: 'requests',
    eventTypes: { only: ['http_request'] },
    groupSuffix: 'http-request',
    catchAll: true,
    description: 'http_request events from the requests topic (its catch-all)',
    batchSize: 100,
  },
  {
    name: 'onHttpResponse',
    topic: 'events',
    eventTypes: { only: ['http_response'] },
    groupSuffix: 'http-response',
    catchAll: false,
    description: 'http_response events from the events topic',
    batchSize: 100,
  },
  {
    name: 'onError',
    topic: 'events',
    eventTypes: { only: ['error'] },
    groupSuffix: 'error',
    catchAll: false,
    description: 'error events from the events topic',
    batchSize: 50,
  },
  // Commands arrive in our envelope (event_type) or in the plain shape (type; docs/compatibility.md): no
  // filter. They wait for their answer: small batches.
  {
    name: 'onCommand',
    topic: 'commands',
    eventTypes: { except: [] },
    groupSuffix: 'commands',
    catchAll: true,
    description: 'Commands (either shape) from the commands topic, answered on the events topic',
    batchSize: 10,
  },
  {
    name: 'onCustomEvent',
    topic: 'events',
    eventTypes: { except: ['http_response', 'error'] },
    groupSuffix: 'custom',
    catchAll: true,
    description: 'Every other event of the events topic (its catch-all)',
    batchSize: 100,
  },
];

export function consumerGroupId(config: Pick<Config['kafka'], 'consumerGroup'>, fn: ConsumerFunction): string {
  return `${config.consumerGroup}-${fn.groupSuffix}`;
}

export function consumerTopic(config: Pick<Config['kafka'], 'topics'>, fn: ConsumerFunction): string {
  return config.topics[fn.topic];
}

/** The function of that name in the table; throws for an unknown name (a wiring mistake). */
export function consumerFunction(name: string, functions: readonly ConsumerFunction[] = CONSUMER_FUNCTIONS): ConsumerFunction {
  const fn = functions.find((f) => f.name === name);
  if (!fn) throw new Error(`no consumer function named ${name}`);
  return fn;
}

/**
 * The function's `filterPatterns` (serverless.yml, and Lambda's FilterCriteria): none for
 * a catch-all, else one pattern on `value.event_type`. Records match when any pattern does.
 */
export function filterPatterns(fn: ConsumerFunction): Array<{ value: { event_type: unknown[] } }> | undefined {
  if (fn.catchAll) return undefined;
  if ('only' in fn.eventTypes) return [{ value: { event_type: [...fn.eventTypes.only] } }];
  return [{ value: { event_type: [{ 'anything-but': [...fn.eventTypes.except] }] } }];
}

/** The `startingPosition` of every consumer's event source mapping, from KAFKA_AUTO_OFFSET_RESET. */
export function startingPosition(config: Pick<Config['kafka'], 'autoOffsetReset'>): 'TRIM_HORIZON' | 'LATEST' {
  return config.autoOffsetReset === 'earliest' ? 'TRIM_HORIZON' : 'LATEST';
}
