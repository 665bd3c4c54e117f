/**
 * The metrics function.
 *
 * - Scheduled (EventBridge `rate(1 minute)`; locally serverless-offline runs the same
 *   schedule with node-schedule): computes consumer-group lag per group, topic and
 *   partition for every consumer function and pushes it to the Pushgateway, then folds
 *   this service's and stage's container groups whose last push is older than
 *   METRICS_GROUP_MAX_AGE_SECONDS into the retired totals and deletes them (containers
 *   Lambda reaped never delete their own): src/metrics/fleet.ts.
 * - `GET /metrics` (HTTP API): the stage's metrics in Prometheus text format, summed
 *   across containers per function (retired totals included, `instance` and `segment`
 *   removed), with the lag gauges; behind METRICS_TOKEN when it is set.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context, ScheduledEvent } from 'aws-lambda';
import type { Config } from '../src/config';
import { getConfig } from '../src/config';
import { consumerGroupLag } from '../src/consumers/lag';
import type { LagReport } from '../src/consumers/lag';
import { ServiceError } from '../src/errors';
import { sharedKafka } from '../src/kafka';
import { withOffsetReader } from '../src/kafka/lag';
import type { OffsetReader } from '../src/kafka/lag';
import { createLogger } from '../src/logger';
import type { Logger } from '../src/logger';
import {
  authorizeMetrics,
  containerMetrics,
  containerPusher,
  CONTENT_TYPE,
  fleetText,
  foldStaleGroups,
  pushConsumerLag,
  readFleet,
  stageLabel,
} from '../src/metrics';
import type { MetricsPusher, ServiceMetrics } from '../src/metrics';
import { pushMetrics } from './middleware/push-metrics';

type Event = APIGatewayProxyEventV2 | ScheduledEvent;
type HttpResult = APIGatewayProxyStructuredResultV2;

export interface ScheduledRunReport {
  lag: { partitions: number; total: number; byGroup: Record<string, number>; failures: LagReport['failures'] } | { error: string };
  prune: { kept: number; folded: number; deleted: number; failed: number } | { error: string };
}

type Result = HttpResult | ScheduledRunReport;

export type WithOffsets = <T>(use: (reader: OffsetReader) => Promise<T>) => Promise<T>;

export interface MetricsHandlerDeps {
  config: Config;
  logger?: Logger;
  metrics?: ServiceMetrics;
  pusher?: MetricsPusher;
  /** Runs `use` with a connected offset reader (the admin client is closed afterwards). */
  withOffsets?: WithOffsets;
  /** Unix seconds, for the prune; injectable for tests. */
  nowSeconds?: () => number;
}

/** Lag is read once a minute; a broker that does not answer in this long is skipped. */
const LAG_TIMEOUT_MS = 5000;
/**
 * The fold reads every group once a minute, off any caller's path: it may take longer than
 * a GET /metrics may (PUSHGATEWAY_QUERY_TIMEOUT_MS), within the function's 20 s timeout.
 */
const FOLD_READ_TIMEOUT_MS = 15_000;

function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ServiceError(`${what} timed out after ${timeoutMs} ms`, { retriable: true })), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function isHttpEvent(event: Event): event is APIGatewayProxyEventV2 {
  return typeof (event as Partial<APIGatewayProxyEventV2>).requestContext?.http?.method === 'string';
}

export function createMetricsHandler(deps: MetricsHandlerDeps) {
  const { config } = deps;
  const logger = deps.logger ?? createLogger(config);
  const metrics = deps.metrics ?? containerMetrics(config);
  const pusher = deps.pusher ?? containerPusher({ config, metrics, logger });
  const withOffsets: WithOffsets =
    deps.withOffsets ?? ((use) => sharedKafka({ config, logger }).then((kafka) => withOffsetReader(kafka, use)));
  const nowSeconds = deps.nowSeconds ?? (() => Date.now() / 1000);
  const job = config.service.name;
  const stage = stageLabel(config.service.stage);
  const pushgateway = { url: config.pushgateway.url, timeoutMs: config.metrics.queryTimeoutMs };
  const scope = { ...pushgateway, job, stage, maxLabelValues: config.metrics.fleetMaxLabelValues };

  async function recordLag(): Promise<ScheduledRunReport['lag']> {
    try {
      const report = await withTimeout(
        withOffsets((reader) => consumerGroupLag({ reader, kafka: config.kafka })),
        LAG_TIMEOUT_MS,
        'reading consumer-group offsets',
      );
      await pushConsumerLag({ ...pushgateway, job, stage, functionName: config.runtime.functionName, lags: report.lags });
      const byGroup: Record<string, number> = {};
      for (const { group, lag } of report.lags) byGroup[group] = (byGroup[group] ?? 0) + lag;
      const total = Object.values(byGroup).reduce((a, b) => a + b, 0);
      if (report.failures.length > 0) logger.warn('consumer-group lag not read for some groups', { failures: report.failures });
      metrics.metricsTasks.inc({ task: 'lag', outcome: report.failures.length > 0 ? 'error' : 'success' });
      logger.info('consumer-group lag pushed', { total, by_group: byGroup, partitions: report.lags.length });
      return { partitions: report.lags.length, total, byGroup, failures: report.failures };
    } catch (error) {
      metrics.metricsTasks.inc({ task: 'lag', outcome: 'error' });
      logger.error('consumer-group lag not computed', { error: message(error) });
      return { error: message(error) };
    }
  }

  async function prune(): Promise<ScheduledRunReport['prune']> {
    try {
      const result = await foldStaleGroups({
        ...scope,
        timeoutMs: Math.max(FOLD_READ_TIMEOUT_MS, scope.timeoutMs),
        deleteTimeoutMs: scope.timeoutMs,
        maxAgeSeconds: config.metrics.groupMaxAgeSeconds,
        nowSeconds: nowSeconds(),
      });
      metrics.metricsTasks.inc({ task: 'prune', outcome: result.failed.length > 0 ? 'error' : 'success' });
      if (result.deleted.length > 0 || result.failed.length > 0) {
        logger.info('stale Pushgateway groups folded into the retired totals and deleted', {
          folded: result.folded,
          deleted: result.deleted,
          failed: result.failed,
          max_age_seconds: config.metrics.groupMaxAgeSeconds,
        });
      }
      return { kept: result.kept, folded: result.folded, deleted: result.deleted.length, failed: result.failed.length };
    } catch (error) {
      metrics.metricsTasks.inc({ task: 'prune', outcome: 'error' });
      logger.error('stale Pushgateway groups not pruned', { error: message(error) });
      return { error: message(error) };
    }
  }

  /** Never throws: a failed task is counted and logged, and the next minute tries again. */
  async function runScheduled(): Promise<ScheduledRunReport> {
    const [lag, pruned] = await Promise.all([recordLag(), prune()]);
    return { lag, prune: pruned };
  }

  async function serveMetrics(event: APIGatewayProxyEventV2): Promise<HttpResult> {
    if (event.requestContext.http.method !== 'GET' && event.requestContext.http.method !== 'HEAD') {
      return { statusCode: 405, headers: { allow: 'GET, HEAD', 'content-type': 'text/plain' }, body: 'method not allowed\n' };
    }
    const access = authorizeMetrics({ authorization: event.headers?.authorization, token: config.metrics.token });
    if (!access.allowed) {
      const headers: Record<string, string> = { 'content-type': 'text/plain' };
      if (access.status === 401) headers['www-authenticate'] = 'Bearer';
      return { statusCode: access.status, headers, body: `${access.message}\n` };
    }
    try {
      const read = await readFleet(scope);
      if (read.skipped > 0) logger.warn('Pushgateway samples of an unexpected shape were left out', { skipped: read.skipped });
      return { statusCode: 200, headers: { 'content-type': CONTENT_TYPE }, body: fleetText(read) };
    } catch (error) {
      logger.error('metrics not served: the Pushgateway could not be read', { error: message(error) });
      return {
        statusCode: 503,
        headers: { 'content-type': 'text/plain', 'retry-after': '5' },
        body: 'metrics unavailable: the Pushgateway could not be read\n',
      };
    }
  }

  async function metricsHandler(event: Event): Promise<Result> {
    return isHttpEvent(event) ? serveMetrics(event) : runScheduled();
  }

  return middy<Event, Result, Error, Context>()
    .use(pushMetrics<Event, Result>({ metrics, pusher, logger, recordHttp: true }))
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .handler(metricsHandler);
}

export const handler = createMetricsHandler({ config: getConfig() });
