/**
 * This execution environment's pusher of the fleet-metrics protocol (the
 * @simple-time-service/fleet-metrics package: grouping, segments, interval, back-off),
 * configured from the service's settings; on Lambda its last push runs when the
 * execution environment shuts down (./shutdown-flush.ts). Costs: BENCHMARKS.md.
 */
import { createMetricsPusher, stageLabel } from '@simple-time-service/fleet-metrics';
import type { MetricsPusher, MetricsPusherParams, PushGrouping } from '@simple-time-service/fleet-metrics';
import type { Config } from '../config';
import type { Logger } from '../logger';
import { executionEnvironmentId } from '../runtime';
import { flushOnShutdown } from './shutdown-flush';
import type { ServiceMetrics } from './container-metrics';

export type { MetricsPusher };

type PushLogger = Pick<Logger, 'warn' | 'info'>;

const containerPushers = new Map<string, MetricsPusher>();

/**
 * This execution environment's pusher, configured from PUSHGATEWAY_URL,
 * PUSHGATEWAY_TIMEOUT_MS, METRICS_PUSH_INTERVAL_MS and METRICS_GROUP_MAX_AGE_SECONDS,
 * grouped by {job: SERVICE_NAME, stage, function: the Lambda function's name, instance:
 * the execution environment id, segment}.
 */
export function containerPusher(params: {
  config: Pick<Config, 'service' | 'pushgateway' | 'metrics' | 'runtime'>;
  metrics: Pick<ServiceMetrics, 'registry' | 'pushgatewayPushes'>;
  logger?: PushLogger;
}): MetricsPusher {
  const { config, metrics, logger } = params;
  const grouping: PushGrouping = {
    job: config.service.name,
    stage: stageLabel(config.service.stage),
    function: config.runtime.functionName,
    instance: executionEnvironmentId(config.runtime),
  };
  const key = JSON.stringify([config.pushgateway.url, grouping]);
  let pusher = containerPushers.get(key);
  if (!pusher) {
    const options: MetricsPusherParams = {
      metrics,
      url: config.pushgateway.url,
      grouping,
      timeoutMs: config.pushgateway.timeoutMs,
      intervalMs: config.metrics.pushIntervalMs,
      groupMaxAgeSeconds: config.metrics.groupMaxAgeSeconds,
      // Lambda freezes a container between invocations; elsewhere a timer can push.
      flushBetweenInvocations: config.runtime.runtimeApi === undefined,
    };
    if (logger) options.logger = logger;
    const created = createMetricsPusher(options);
    containerPushers.set(key, created);
    // On Lambda: the last push when the execution environment shuts down.
    if (config.runtime.runtimeApi)
      flushOnShutdown({ runtimeApi: config.runtime.runtimeApi, flush: () => created.flush(), ...(logger ? { logger } : {}) });
    pusher = created;
  }
  return pusher;
}
