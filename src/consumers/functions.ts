/**
 * The consumer functions: which topic each reads, which event types it handles, and
 * its consumer group. One table, read by serverless.yml's generator checks, by
 * GET /kafka/status, by the metrics function (lag per group) and by the consumers.
 */
import type { Config, Topics } from '../config';

export interface ConsumerFunction {
  /** The function's name in serverless.yml. */
  name: string;
  /** Which configured topic it reads. */
  topic: keyof Topics;
  /**
   * The event types it receives (its filter on value.event_type). `except` means every
   * type but those listed (an anything-but filter).
   */
  eventTypes: { only: string[] } | { except: string[] };
  /** Appended to KAFKA_CONSUMER_GROUP to make the function's own consumer group. */
  groupSuffix: string;
}

export const CONSUMER_FUNCTIONS: readonly ConsumerFunction[] = [
  { name: 'onHttpRequest', topic: 'requests', eventTypes: { only: ['http_request'] }, groupSuffix: 'http-request' },
  {
    name: 'onHttpResponse',
    topic: 'events',
    eventTypes: { only: ['http_response'] },
    groupSuffix: 'http-response',
  },
  { name: 'onError', topic: 'events', eventTypes: { only: ['error'] }, groupSuffix: 'error' },
  // Commands arrive in our envelope (event_type) or in seed 2's shape (type): no filter.
  { name: 'onCommand', topic: 'commands', eventTypes: { except: [] }, groupSuffix: 'commands' },
  {
    name: 'onCustomEvent',
    topic: 'events',
    eventTypes: { except: ['http_response', 'error'] },
    groupSuffix: 'custom',
  },
];

export function consumerGroupId(config: Pick<Config['kafka'], 'consumerGroup'>, fn: ConsumerFunction): string {
  return `${config.consumerGroup}-${fn.groupSuffix}`;
}

export function consumerTopic(config: Pick<Config['kafka'], 'topics'>, fn: ConsumerFunction): string {
  return config.topics[fn.topic];
}
