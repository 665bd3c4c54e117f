/**
 * infra/local/ready.ts reaches every partition of the offsets topic through one group
 * per partition, placed as Kafka places groups: abs(String.hashCode) % partitions.
 */
import { describe, expect, it } from 'vitest';
import { groupsCoveringPartitions, offsetsPartition } from '../../../../infra/local/ready';

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
