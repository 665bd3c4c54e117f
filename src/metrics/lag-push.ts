/**
 * Pushing consumer-group lag: a cluster-wide fact, not one container's, so it goes into
 * groups of its own whose instance label is fixed ("consumergroup-lag"), one per consumer
 * group (grouping label `group`, the same value as the series' own `group` label). Each
 * scheduled run replaces the groups it could read (PUT), so partitions that no longer exist
 * disappear; a consumer group whose offsets could not be read this time keeps its last
 * values, ageing, instead of vanishing with the others. Gauges: never folded into the
 * retired totals; a group is deleted once older than METRICS_GROUP_MAX_AGE_SECONDS.
 */
import { httpPushgateway, LAG_GROUP_INSTANCE, PushgatewayError, withoutCredentials } from '@simple-time-service/fleet-metrics';
import type { StageScope } from '@simple-time-service/fleet-metrics';
import { METRIC_DEFINITIONS } from './definitions';
import { errorMessage } from '../errors';

export { LAG_GROUP_INSTANCE };

/** Records written to a partition and not yet consumed by a group. */
export interface PartitionLag {
  group: string;
  topic: string;
  partition: number;
  lag: number;
}

/** Replaces the lag group of every consumer group in `lags`; leaves the others as they are. */
export async function pushConsumerLag(params: StageScope & { functionName: string; lags: readonly PartitionLag[] }): Promise<void> {
  const { url, timeoutMs, job, stage, functionName, lags } = params;
  const api = params.api ?? httpPushgateway(url);
  const definition = METRIC_DEFINITIONS.consumerGroupLag;
  const byGroup = new Map<string, PartitionLag[]>();
  for (const lag of lags) {
    const partitions = byGroup.get(lag.group);
    if (partitions) partitions.push(lag);
    else byGroup.set(lag.group, [lag]);
  }
  const failures: string[] = [];
  await Promise.all(
    [...byGroup].map(async ([group, partitions]) => {
      const series = partitions.map(({ topic, partition, lag }) => ({
        labels: [
          ['group', group],
          ['partition', String(partition)],
          ['topic', topic],
        ] as Array<[string, string]>,
        value: lag,
      }));
      const labels = { job, stage, function: functionName, instance: LAG_GROUP_INSTANCE, group };
      try {
        await api.put({ labels, families: [{ name: definition.name, help: definition.help, type: 'gauge', series }], timeoutMs });
      } catch (error) {
        failures.push(`${group}: ${errorMessage(error)}`);
      }
    }),
  );
  if (failures.length > 0)
    throw new PushgatewayError(`could not push consumer-group lag to ${withoutCredentials(url).url} (${failures.join('; ')})`);
}
