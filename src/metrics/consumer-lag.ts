/**
 * Pushing consumer-group lag: a cluster-wide fact, not one container's, so it goes into a
 * group of its own whose instance label is fixed ("consumergroup-lag"). Each scheduled run
 * replaces it (PUT), a metrics container reaped mid-way leaves no stale copy beside a
 * newer one, and partitions that no longer exist disappear.
 */
import http from 'node:http';
import { Gauge, Pushgateway, Registry } from './prom-client';
import { METRIC_DEFINITIONS } from './definitions';
import { PushgatewayError } from './pushgateway';

export const LAG_GROUP_INSTANCE = 'consumergroup-lag';

export interface LagSample {
  group: string;
  topic: string;
  partition: number;
  lag: number;
}

const agent = new http.Agent({ keepAlive: false });

export async function pushConsumerLag(params: {
  url: string;
  timeoutMs: number;
  job: string;
  functionName: string;
  lags: readonly LagSample[];
}): Promise<void> {
  const { url, timeoutMs, job, functionName, lags } = params;
  const registry = new Registry();
  const definition = METRIC_DEFINITIONS.consumerGroupLag;
  const gauge = new Gauge({
    name: definition.name,
    help: definition.help,
    labelNames: [...definition.labelNames],
    registers: [registry],
  });
  for (const { group, topic, partition, lag } of lags) gauge.set({ group, topic, partition: String(partition) }, lag);
  const options = url.startsWith('https:')
    ? { timeout: timeoutMs, signal: AbortSignal.timeout(timeoutMs) }
    : { timeout: timeoutMs, signal: AbortSignal.timeout(timeoutMs), agent };
  try {
    await new Pushgateway(url, options, registry).push({
      jobName: job,
      groupings: { function: functionName, instance: LAG_GROUP_INSTANCE },
    });
  } catch (cause) {
    throw new PushgatewayError(`could not push consumer-group lag to ${url}`, { cause });
  }
}
