/**
 * infra/local/ready.ts reaches every partition of the offsets topic through one group
 * per partition, placed as Kafka places groups: abs(String.hashCode) % partitions.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, RetriableError } from '../../../../src/errors';
import { createTopicsWhenReady, groupsCoveringPartitions, offsetsPartition } from '../../../../infra/local/ready';

describe('offsets partition of a consumer group', () => {
  it("is Java's String.hashCode, made positive as Kafka's Utils.abs does, modulo the partitions", () => {
    // "hello".hashCode() = 99162322; "polygenelubricants".hashCode() = Integer.MIN_VALUE
    expect(offsetsPartition('hello', 50)).toBe(99162322 % 50);
    expect(offsetsPartition('', 10)).toBe(0);
    expect(offsetsPartition('polygenelubricants', 10)).toBe(0);
    // "Aa" and "BB" collide in Java (2112)
    expect(offsetsPartition('Aa', 10)).toBe(2112 % 10);
    expect(offsetsPartition('BB', 10)).toBe(2112 % 10);
  });

  it('one probe group per partition covers them all', () => {
    for (const partitions of [1, 10, 50]) {
      const groups = groupsCoveringPartitions(partitions);
      expect(new Set(groups.map((g) => offsetsPartition(g, partitions))).size).toBe(partitions);
      expect(groups).toHaveLength(partitions);
    }
  });
});

describe('the topics step of stack.sh start', () => {
  /** A step that fails `failures` times with `cause` (as infra/topics.ts reports it), then passes. */
  function step(failures: number, cause: Error) {
    let calls = 0;
    const create = (): Promise<void> => {
      calls += 1;
      return calls <= failures ? Promise.reject(new Error(`failed: ${cause.message}`, { cause })) : Promise.resolve();
    };
    return { create, calls: () => calls };
  }

  it('tries again while the broker refuses the topics for a moment (a topic not yet on every broker)', async () => {
    const topics = step(2, new RetriableError('This server does not host this topic-partition'));
    await createTopicsWhenReady(Date.now() + 5_000, topics.create, 1);
    expect(topics.calls()).toBe(3);
  });

  it('fails at once on a configuration it refuses', async () => {
    const topics = step(5, new ConfigError(['KAFKA_TOPIC_PARTITIONS: expected a number']));
    await expect(createTopicsWhenReady(Date.now() + 5_000, topics.create, 1)).rejects.toThrow(/KAFKA_TOPIC_PARTITIONS/);
    expect(topics.calls()).toBe(1);
  });

  it('gives up at its deadline with the last failure', async () => {
    const topics = step(Number.MAX_SAFE_INTEGER, new RetriableError('This server does not host this topic-partition'));
    await expect(createTopicsWhenReady(Date.now() + 50, topics.create, 5)).rejects.toThrow(/does not host/);
  });
});
