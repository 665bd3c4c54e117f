/**
 * src/kafka/permissions.ts: a broker's authorization error in IAM's words, the
 * kafka-cluster action the caller's role lacks on the resource it was used on; and the
 * places that log or report it (a send, an offset read).
 */
import { describe, expect, it } from 'vitest';
import { GroupCoordinatorError, KafkaPermissionError, missingPermission } from '../../../src/kafka/permissions';
import { adminOffsetReader } from '../../../src/kafka/offsets';
import { createContainerProducer } from '../../../src/kafka/producer';
import type { Logger } from '../../../src/logger';

/** An error as kafkajs raises a broker's error code: KafkaJSProtocolError with its `type`. */
function protocolError(type: string, message = 'Not authorized'): Error {
  return Object.assign(new Error(message), { name: 'KafkaJSProtocolError', type, retriable: false });
}

const writes = (...topics: string[]) => [
  ...topics.map((t) => ({ action: 'kafka-cluster:WriteData', resource: `topic ${t}` })),
  { action: 'kafka-cluster:WriteDataIdempotently', resource: 'the cluster' },
];

describe('missingPermission', () => {
  it('names the action the attempted operation needs on the kind of resource the broker refused', () => {
    // Act / Assess
    expect(missingPermission(protocolError('TOPIC_AUTHORIZATION_FAILED'), writes('requests'))).toBe(
      'kafka-cluster:WriteData on topic requests',
    );
    expect(missingPermission(protocolError('TOPIC_AUTHORIZATION_FAILED'), writes('requests', 'events'))).toBe(
      'kafka-cluster:WriteData on topic requests or topic events',
    );
    expect(missingPermission(protocolError('CLUSTER_AUTHORIZATION_FAILED'), writes('requests'))).toBe(
      'kafka-cluster:WriteDataIdempotently on the cluster',
    );
    expect(
      missingPermission(protocolError('GROUP_AUTHORIZATION_FAILED'), [{ action: 'kafka-cluster:DescribeGroup', resource: 'group g' }]),
    ).toBe('kafka-cluster:DescribeGroup on group g');
  });

  it('finds the code where kafkajs wraps it (a retrier, a request queue) and answers nothing for other errors', () => {
    // Prepare
    const wrapped = Object.assign(new Error('retries exhausted'), {
      name: 'KafkaJSNonRetriableError',
      originalError: protocolError('TOPIC_AUTHORIZATION_FAILED'),
    });
    const caused = new Error('outer', { cause: protocolError('GROUP_AUTHORIZATION_FAILED') });

    // Act / Assess
    expect(missingPermission(wrapped, writes('t'))).toBe('kafka-cluster:WriteData on topic t');
    expect(missingPermission(caused, [{ action: 'kafka-cluster:AlterGroup', resource: 'group g' }])).toBe(
      'kafka-cluster:AlterGroup on group g',
    );
    expect(missingPermission(protocolError('LEADER_NOT_AVAILABLE'), writes('t'))).toBeUndefined();
    expect(missingPermission(new Error('ECONNREFUSED'), writes('t'))).toBeUndefined();
    expect(missingPermission(protocolError('GROUP_AUTHORIZATION_FAILED'), writes('t'))).toBe(
      'a kafka-cluster permission on a group (the broker answered GROUP_AUTHORIZATION_FAILED)',
    );
  });
});

describe('where a refused call is reported', () => {
  it("an offset read refused for its group fails with the role's missing permission in its message", async () => {
    // Prepare: the broker refuses OffsetFetch for the group
    const reader = adminOffsetReader({
      fetchTopicOffsets: () => Promise.reject(protocolError('TOPIC_AUTHORIZATION_FAILED')),
      fetchOffsets: () => Promise.reject(protocolError('GROUP_AUTHORIZATION_FAILED')),
    });

    // Act
    const group = await reader.committedOffsets('g-1', 'requests').catch((e: unknown) => e);
    const topic = await reader.topicOffsets('requests').catch((e: unknown) => e);

    // Assess
    expect(group).toBeInstanceOf(KafkaPermissionError);
    expect((group as Error).message).toBe(
      'the role lacks kafka-cluster:DescribeGroup on group g-1: the broker answered GROUP_AUTHORIZATION_FAILED',
    );
    expect((topic as Error).message).toBe(
      'the role lacks kafka-cluster:DescribeTopic on topic requests: the broker answered TOPIC_AUTHORIZATION_FAILED',
    );
  });

  it("an offset read whose group coordinator kafkajs could not find names kafka-cluster:DescribeGroup (kafkajs keeps the broker's GROUP_AUTHORIZATION_FAILED to itself)", async () => {
    // Prepare: what kafkajs throws when every broker refused FindCoordinator
    const reader = adminOffsetReader({
      fetchTopicOffsets: () => Promise.resolve([]),
      fetchOffsets: () =>
        Promise.reject(Object.assign(new Error('Failed to find group coordinator'), { name: 'KafkaJSGroupCoordinatorNotFound' })),
    });

    // Act
    const error = await reader.committedOffsets('g-1', 'requests').catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(GroupCoordinatorError);
    expect((error as Error).message).toBe(
      'no coordinator found for group g-1: the broker names none to a role without kafka-cluster:DescribeGroup on group g-1 (GROUP_AUTHORIZATION_FAILED, which kafkajs does not pass on), or it is not available yet',
    );
  });

  it("a send refused for its topic is logged with the role's missing permission", async () => {
    // Prepare: a producer whose broker refuses the topic
    const lines: Array<{ message: string; extra: Record<string, unknown> }> = [];
    const at = (message: string, extra: Record<string, unknown> = {}) => lines.push({ message, extra });
    const logger = { error: at, warn: at, info: at, debug: at } as unknown as Logger; // only the four levels are called
    const producer = {
      connect: () => Promise.resolve(),
      disconnect: () => Promise.resolve(),
      sendBatch: () =>
        Promise.reject(protocolError('TOPIC_AUTHORIZATION_FAILED', 'Not authorized to access topics: [Topic authorization failed]')),
    };
    const kafka = { producer: () => producer } as unknown as Parameters<typeof createContainerProducer>[0]['kafka'] extends () => infer K
      ? Awaited<K>
      : never;
    const sender = createContainerProducer({ kafka: () => kafka, logger, sendTimeoutMs: 1000, connectTimeoutMs: 1000 });

    // Act
    const error = await sender.send([{ topic: 'requests', key: null, value: '{}' }]).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(Error);
    const failed = lines.find((l) => l.message === 'kafka send failed');
    expect(failed?.extra).toMatchObject({ missing_permission: 'kafka-cluster:WriteData on topic requests', topics: ['requests'] });
  });
});
