/**
 * The consumer functions, one row each: which topic a function reads, which event types it
 * handles, its consumer group, its role on the topic, which consumer it runs, the topics it
 * writes and whether it publishes error events. One table, read by serverless.yml (its
 * functions, their Kafka permissions and the groups the metrics function reads:
 * infra/aws/consumer-functions.cjs), by GET /kafka/status, by the lag reads, by the local
 * stack and by the consumers. Adding a function is a row here, an entry file in handlers/,
 * its handler and its test (README, "Consumers", "Adding a consumer function").
 *
 * Filtering and poison records. Lambda's Kafka event filtering only looks at `value`, and
 * a record whose value is not UTF-8 JSON, or is JSON without `event_type`, never matches a
 * pattern on `value.event_type`: Lambda drops it and commits its offset, so no function
 * would ever see it and it could not be dead-lettered (docs.aws.amazon.com/lambda/latest/
 * dg/kafka-filtering.html and invocation-eventfiltering.html; infra/offline-msk/src/filter.ts
 * spells the rules out). No pattern can match random bytes, so on every topic exactly one
 * function has no filter at all: the topic's catch-all. It receives every record, skips
 * the ones a filtered sibling's filter delivers to that sibling (looked up in this table,
 * which the filters are made from, so each record is handled or dead-lettered by exactly one
 * function), and dead-letters whatever can never be processed. The other functions filter
 * on their own event types. The price is that the catch-all of the events topic is also
 * invoked for the batches that hold http_response and error events, which it skips.
 * ./table-rules.ts holds the rules the table must keep (the catch-all rule among them); the
 * table is checked against them when this module loads.
 */
import type { Config, Topics } from '../config';
import type { EventHandlerTable } from './event-handler-table';
import { defaultEventHandlers } from './event-handlers';
import { assertConsumerTable } from './table-rules';

/**
 * - `catch-all`: the topic's one function without a filter; it skips what a `filtered`
 *   sibling takes and dead-letters what nobody can process.
 * - `filtered`: takes the records of its event types away from the catch-all, which must
 *   not handle those types (the catch-all rule, ./table-rules.ts).
 * - `observer`: sees the records of its event types as well, beside whoever handles them;
 *   it never dead-letters (what it cannot use it skips) and changes no sibling.
 */
export type ConsumerRole = 'catch-all' | 'filtered' | 'observer';

/**
 * The consumer a function runs: `commands` answers commands (src/commands,
 * createCommandConsumer); `events` runs the handler of each event's type from `handlers`
 * (createEventConsumer).
 */
export type ConsumerHandler = { kind: 'commands' } | { kind: 'events'; handlers: () => EventHandlerTable };

export interface ConsumerRow {
  /** The function's name in serverless.yml (and its entry, handlers/on-<name in kebab case>.ts). */
  name: string;
  /** Which configured topic it reads. */
  topic: keyof Topics;
  /** Appended to KAFKA_CONSUMER_GROUP to make the function's own consumer group. */
  groupSuffix: string;
  /**
   * The event types it handles. `except` means every type but those listed (the types its
   * filtered siblings on the same topic take).
   */
  eventTypes: { only: readonly string[] } | { except: readonly string[] };
  role: ConsumerRole;
  handler: ConsumerHandler;
  /** The topics it writes: its IAM role may write these and no other (dlq: the event source mapping's on-failure destination). */
  writes: ReadonlyArray<keyof Topics>;
  /** Whether a failed invocation publishes an error event on the events topic. */
  errorEvents: boolean;
  /** serverless.yml's description of the function. */
  description: string;
  /** Records per invocation at most (the event source mapping's batchSize). */
  batchSize: number;
}

export const CONSUMER_FUNCTIONS = [
  // The only function on the requests topic, so its catch-all.
  {
    name: 'onHttpRequest',
    topic: 'requests',
    groupSuffix: 'http-request',
    eventTypes: { only: ['http_request'] },
    role: 'catch-all',
    handler: { kind: 'events', handlers: defaultEventHandlers },
    writes: ['events', 'dlq'],
    errorEvents: true,
    description: 'http_request events from the requests topic (its catch-all)',
    batchSize: 100,
  },
  {
    name: 'onHttpResponse',
    topic: 'events',
    groupSuffix: 'http-response',
    eventTypes: { only: ['http_response'] },
    role: 'filtered',
    handler: { kind: 'events', handlers: defaultEventHandlers },
    writes: ['events', 'dlq'],
    errorEvents: true,
    description: 'http_response events from the events topic',
    batchSize: 100,
  },
  // No error events of its own: it would consume them, and feed on its own failures.
  {
    name: 'onError',
    topic: 'events',
    groupSuffix: 'error',
    eventTypes: { only: ['error'] },
    role: 'filtered',
    handler: { kind: 'events', handlers: defaultEventHandlers },
    writes: ['dlq'],
    errorEvents: false,
    description: 'error events from the events topic',
    batchSize: 50,
  },
  // Commands arrive in our envelope (event_type) or in the plain shape (type;
  // docs/compatibility.md): no filter. They wait for their answer: small batches.
  {
    name: 'onCommand',
    topic: 'commands',
    groupSuffix: 'commands',
    eventTypes: { except: [] },
    role: 'catch-all',
    handler: { kind: 'commands' },
    writes: ['events', 'dlq'],
    errorEvents: true,
    description: 'Commands (either shape) from the commands topic, answered on the events topic',
    batchSize: 10,
  },
  {
    name: 'onCustomEvent',
    topic: 'events',
    groupSuffix: 'custom',
    eventTypes: { except: ['http_response', 'error'] },
    role: 'catch-all',
    handler: { kind: 'events', handlers: defaultEventHandlers },
    writes: ['events', 'dlq'],
    errorEvents: true,
    description: 'Every other event of the events topic (its catch-all)',
    batchSize: 100,
  },
] as const satisfies readonly ConsumerRow[];

assertConsumerTable(CONSUMER_FUNCTIONS);

/** A consumer function's name: one of the table's rows. */
export type ConsumerName = (typeof CONSUMER_FUNCTIONS)[number]['name'];

/** One row of the table (or of a table a test plants). */
export type ConsumerFunction = ConsumerRow;

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
  if (fn.role === 'catch-all') return undefined;
  if ('only' in fn.eventTypes) return [{ value: { event_type: [...fn.eventTypes.only] } }];
  return [{ value: { event_type: [{ 'anything-but': [...fn.eventTypes.except] }] } }];
}

/** The `startingPosition` of every consumer's event source mapping, from KAFKA_AUTO_OFFSET_RESET. */
export function startingPosition(config: Pick<Config['kafka'], 'autoOffsetReset'>): 'TRIM_HORIZON' | 'LATEST' {
  return config.autoOffsetReset === 'earliest' ? 'TRIM_HORIZON' : 'LATEST';
}
