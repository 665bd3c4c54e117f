/**
 * Consumer-group lag for every consumer function (CONSUMER_FUNCTIONS): per group, topic
 * and partition, the records written but not yet consumed, i.e. the end offset minus the
 * group's committed offset. A partition the group has never committed is read from where
 * the event source will start: the log start (all of it is lag) with
 * KAFKA_AUTO_OFFSET_RESET=earliest, its end (no lag) with latest. A committed offset that
 * retention has overtaken counts from the log start, since the records before it are gone.
 */
import type { Config } from '../config';
import type { OffsetReader } from '../kafka';
import type { PartitionLag } from '../metrics';
import { CONSUMER_FUNCTIONS, consumerGroupId, consumerTopic } from './functions';
import type { ConsumerFunction } from './functions';
import { errorMessage } from '../errors';

export interface LagReport {
  lags: PartitionLag[];
  /** Groups whose offsets could not be read (the topic is missing, the broker timed out). */
  failures: Array<{ group: string; topic: string; error: string }>;
}

export function partitionLag(params: {
  low: bigint;
  high: bigint;
  committed: bigint | undefined;
  autoOffsetReset: 'earliest' | 'latest';
}): number {
  const { low, high, committed, autoOffsetReset } = params;
  let position: bigint;
  if (committed === undefined) position = autoOffsetReset === 'earliest' ? low : high;
  else position = committed < low ? low : committed;
  const lag = high - position;
  return lag > 0n ? Number(lag) : 0;
}

/** Lag summed over each group's partitions (a group reads one topic). */
export function lagByGroup(lags: readonly PartitionLag[]): Record<string, { topic: string; lag: number }> {
  const byGroup: Record<string, { topic: string; lag: number }> = {};
  for (const { group, topic, lag } of lags) {
    const entry = (byGroup[group] ??= { topic, lag: 0 });
    entry.lag += lag;
  }
  return byGroup;
}

export async function consumerGroupLag(params: {
  reader: OffsetReader;
  kafka: Pick<Config['kafka'], 'consumerGroup' | 'topics' | 'autoOffsetReset'>;
  functions?: readonly ConsumerFunction[];
}): Promise<LagReport> {
  const { reader, kafka } = params;
  const functions = params.functions ?? CONSUMER_FUNCTIONS;
  const report: LagReport = { lags: [], failures: [] };
  // One ListOffsets per topic, shared by the groups that read it.
  const endOffsets = new Map<string, ReturnType<OffsetReader['topicOffsets']>>();

  await Promise.all(
    functions.map(async (fn) => {
      const group = consumerGroupId(kafka, fn);
      const topic = consumerTopic(kafka, fn);
      try {
        let ends = endOffsets.get(topic);
        if (!ends) {
          ends = reader.topicOffsets(topic);
          endOffsets.set(topic, ends);
        }
        const [partitions, committed] = await Promise.all([ends, reader.committedOffsets(group, topic)]);
        for (const p of partitions) {
          report.lags.push({
            group,
            topic,
            partition: p.partition,
            lag: partitionLag({ ...p, committed: committed.get(p.partition), autoOffsetReset: kafka.autoOffsetReset }),
          });
        }
      } catch (error) {
        report.failures.push({ group, topic, error: errorMessage(error) });
      }
    }),
  );
  report.lags.sort((a, b) => a.group.localeCompare(b.group) || a.partition - b.partition);
  return report;
}
