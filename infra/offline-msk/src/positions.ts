/**
 * Where a consumer group stands on its topic, read from the broker: what an event source
 * mapping needs to know before it takes a partition's records (./mapping.ts takes them
 * only in an unbroken run from there), and what the broker still holds.
 *
 * Each read opens an admin client and closes it after, so a mapping holds no connection
 * for it between rebalances; each is bounded by `timeoutMs`.
 */
import type { Admin, Kafka } from 'kafkajs';
import type { StartingPosition } from './kafka-source';

export interface GroupPositions {
  /**
   * The group's committed offset on each partition; where it has none, the offset the
   * starting position gives (the first one still held for TRIM_HORIZON, the end for
   * LATEST, the first record at or after the timestamp for AT_TIMESTAMP), as kafkajs
   * resolves it for a group without one.
   */
  committed(partitions: readonly number[]): Promise<Map<number, string>>;
  /** The first offset the broker still holds on each partition (retention deletes what is before). */
  logStart(partitions: readonly number[]): Promise<Map<number, string>>;
}

export interface GroupPositionsParams {
  kafka: Pick<Kafka, 'admin'>;
  topic: string;
  groupId: string;
  startingPosition: StartingPosition;
  /** Seconds since the epoch, for AT_TIMESTAMP. */
  startingPositionTimestamp?: number | undefined;
  timeoutMs: number;
}

/** An admin client for one read, disconnected after it, the whole bounded by `timeoutMs`. */
async function withAdmin<T>(params: GroupPositionsParams, what: string, read: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = params.kafka.admin();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`reading ${what} of ${params.groupId} took longer than ${params.timeoutMs} ms`)),
      params.timeoutMs,
    );
  });
  try {
    return await Promise.race([admin.connect().then(() => read(admin)), timeout]);
  } finally {
    clearTimeout(timer);
    await admin.disconnect().catch(() => undefined);
  }
}

/** Where a partition without a committed offset starts, per the mapping's starting position. */
async function startingOffsets(admin: Admin, params: GroupPositionsParams): Promise<Map<number, string>> {
  const { topic, startingPosition, startingPositionTimestamp } = params;
  if (startingPosition === 'AT_TIMESTAMP' && startingPositionTimestamp !== undefined) {
    const found = await admin.fetchTopicOffsetsByTimestamp(topic, startingPositionTimestamp * 1000);
    return new Map(found.map((p) => [p.partition, p.offset]));
  }
  const ends = await admin.fetchTopicOffsets(topic);
  return new Map(ends.map((p) => [p.partition, startingPosition === 'LATEST' ? p.high : p.low]));
}

export function groupPositions(params: GroupPositionsParams): GroupPositions {
  const { topic, groupId } = params;
  return {
    committed: (partitions) =>
      withAdmin(params, 'the committed offsets', async (admin) => {
        const [found] = await admin.fetchOffsets({ groupId, topics: [topic] });
        const offsets = new Map((found?.partitions ?? []).map((p) => [p.partition, p.offset]));
        const none = partitions.filter((p) => !(BigInt(offsets.get(p) ?? '-1') >= 0n));
        const starts = none.length > 0 ? await startingOffsets(admin, params) : new Map<number, string>();
        return new Map(
          partitions.map((p) => {
            const offset = none.includes(p) ? starts.get(p) : offsets.get(p);
            if (offset === undefined) throw new Error(`no offset for ${topic}-${p} (the topic has no such partition?)`);
            return [p, offset];
          }),
        );
      }),
    logStart: (partitions) =>
      withAdmin(params, 'the first offsets held', async (admin) => {
        const ends = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, p.low]));
        return new Map(partitions.flatMap((p) => (ends.has(p) ? [[p, ends.get(p)!] as const] : [])));
      }),
  };
}
