/**
 * test/helpers/kafka.ts's createTopic, over a fake admin: a broker that has just created a
 * topic may not know it yet when kafkajs reads the metadata right after ("This server does
 * not host this topic-partition"), and kafkajs gives up at once; the helper asks again.
 */
import type { Admin } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { createTopic } from '../../helpers/kafka';

describe('createTopic', () => {
  it('asks again when the broker does not know the topic it has just created', async () => {
    const created = new Set<string>();
    let calls = 0;
    const admin = {
      describeCluster: () => Promise.resolve({ brokers: [{ nodeId: 1, host: '127.0.0.1', port: 9092 }], controller: 1, clusterId: 'c' }),
      listTopics: () => Promise.resolve([...created]),
      createTopics: ({ topics }: { topics: Array<{ topic: string }> }) => {
        calls += 1;
        for (const { topic } of topics) created.add(topic);
        const answer = Object.assign(new Error('This server does not host this topic-partition'), { retriable: true });
        return Promise.reject(Object.assign(new Error(answer.message, { cause: answer }), { retriable: false }));
      },
      fetchTopicMetadata: () => Promise.resolve({ topics: [{ name: 't', partitions: [{}, {}, {}] }] }),
      createPartitions: () => Promise.resolve(true),
    } as unknown as Admin;

    await createTopic(admin, 't', 3);

    expect(calls).toBe(1);
    expect([...created]).toEqual(['t']);
  });
});
