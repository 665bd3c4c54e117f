/**
 * Pushing consumer-group lag: a cluster-wide fact, not one container's, so it goes into a
 * group of its own whose instance label is fixed ("consumergroup-lag"). Each scheduled run
 * replaces it (PUT), a metrics container reaped mid-way leaves no stale copy beside a
 * newer one, and partitions that no longer exist disappear. Gauges: never folded into the
 * retired totals; the group is deleted once older than METRICS_GROUP_MAX_AGE_SECONDS.
 */
import { METRIC_DEFINITIONS } from './definitions';
import { expositionText } from './exposition';
import { LAG_GROUP_INSTANCE } from './fleet';
import type { StageScope } from './fleet';
import { PushgatewayError } from './errors';
import { groupRequest, withoutCredentials } from './pushgateway';

export { LAG_GROUP_INSTANCE };

/** Records written to a partition and not yet consumed by a group. */
export interface PartitionLag {
  group: string;
  topic: string;
  partition: number;
  lag: number;
}

export async function pushConsumerLag(params: StageScope & { functionName: string; lags: readonly PartitionLag[] }): Promise<void> {
  const { url, timeoutMs, job, stage, functionName, lags } = params;
  const definition = METRIC_DEFINITIONS.consumerGroupLag;
  const body = expositionText([
    {
      name: definition.name,
      help: definition.help,
      type: 'gauge',
      series: lags.map(({ group, topic, partition, lag }) => ({
        labels: [['group', group], ['partition', String(partition)], ['topic', topic]] as Array<[string, string]>,
        value: lag,
      })),
    },
  ]);
  const labels = { job, stage, function: functionName, instance: LAG_GROUP_INSTANCE };
  try {
    await groupRequest({ url, method: 'PUT', labels, body, timeoutMs });
  } catch (cause) {
    throw new PushgatewayError(`could not push consumer-group lag to ${withoutCredentials(url).url}`, { cause });
  }
}
