/**
 * src/kafka/topics.ts's ensureTopics over a fake admin: what it tells its caller when the
 * broker refuses the topics for a moment, as a broker that has just started does.
 */
import { describe, expect, it } from 'vitest';
import { isRetriable } from '../../../src/errors';
import { ensureTopics } from '../../../src/kafka/topics';

/**
 * What kafkajs throws when the metadata it reads right after CreateTopics does not know the
 * topic yet: a non-retriable wrapper (its retrier gave up) around the broker's retriable answer.
 */
function notHostedYet(): Error {
  const answer = Object.assign(new Error('This server does not host this topic-partition'), {
    name: 'KafkaJSProtocolError',
    type: 'UNKNOWN_TOPIC_OR_PARTITION',
    retriable: true,
  });
  return Object.assign(new Error(answer.message, { cause: answer }), { name: 'KafkaJSNonRetriableError', retriable: false });
}

function fakeAdmin(createTopics: () => Promise<boolean>) {
  return {
    describeCluster: () => Promise.resolve({ brokers: [{ nodeId: 1, host: '127.0.0.1', port: 9092 }], controller: 1, clusterId: 'c' }),
    listTopics: () => Promise.resolve([]),
    createTopics,
    fetchTopicMetadata: () => Promise.resolve({ topics: [] }),
    createPartitions: () => Promise.resolve(true),
  };
}

describe('ensureTopics when the broker refuses the topics for a moment', () => {
  it('fails with a retriable error when the broker said the failure may pass (a topic not yet on every broker)', async () => {
    const admin = fakeAdmin(() => Promise.reject(notHostedYet()));
    const failure = await ensureTopics({ admin, topics: ['t'], partitions: 3, replicationFactor: 1 }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toContain('This server does not host this topic-partition');
    expect(isRetriable(failure)).toBe(true);
  });

  it('fails with an error that is not retriable when the broker refused for good', async () => {
    const refused = Object.assign(new Error('Topic replication factor must be positive'), { retriable: false });
    const admin = fakeAdmin(() => Promise.reject(refused));
    const failure = await ensureTopics({ admin, topics: ['t'], partitions: 3, replicationFactor: 1 }).catch((error: unknown) => error);
    expect(isRetriable(failure)).toBe(false);
  });
});
