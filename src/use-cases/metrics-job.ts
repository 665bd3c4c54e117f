/**
 * The metrics function's work, free of Lambda types:
 * - every minute: consumer-group lag for every consumer function, pushed to the
 *   Pushgateway, and the stage's container groups older than METRICS_GROUP_MAX_AGE_SECONDS
 *   folded into the retired totals and deleted (Lambda reaps containers without a
 *   shutdown hook, so they never delete their own);
 * - GET /metrics: the stage's metrics summed across containers per function, behind
 *   its bearer token when there is one (METRICS_TOKEN_SECRET_ARN's secret on AWS, read
 *   with a 60 s cache; METRICS_TOKEN locally), refused outright with METRICS_PUBLIC=off
 *   and no token. One Pushgateway read answers every request for METRICS_ANSWER_REUSE_MS
 *   (concurrent requests share it); a scheduled run in this container drops it.
 * Neither ever throws: a failed task is counted and logged, and the next minute tries again.
 */
import type { Config } from '../config';
import { METRICS_TOKEN_PATTERN, authorizeMetrics, bearerTokenSecret } from '../bearer';
import { consumerGroupLag, lagByGroup } from '../consumers';
import type { LagReport } from '../consumers';
import { TimeoutError, errorMessage } from '../errors';
import type { WithOffsets } from '../kafka';
import type { Logger } from '../logger';
import { CONTENT_TYPE, fleetText, foldStaleGroups, pushConsumerLag, readFleet, stageLabel } from '../metrics';
import type { ServiceMetrics } from '../metrics';
import { createSecretSource } from '../secrets';
import type { ReadSecret } from '../secrets';
import { sharedRead } from '../shared-read';
import { withTimeout } from '../timeout';

export interface MetricsJobDeps {
  config: Config;
  logger: Logger;
  metrics: Pick<ServiceMetrics, 'metricsTasks'>;
  /** Runs `use` with a connected offset reader (the admin client is closed afterwards). */
  withOffsets: WithOffsets;
  /** Milliseconds since the epoch. */
  now: () => number;
  /** Reads the token's secret (Secrets Manager by default). */
  readSecret?: ReadSecret;
}

export interface ScheduledRunReport {
  lag: { partitions: number; total: number; byGroup: Record<string, number>; failures: LagReport['failures'] } | { error: string };
  prune: { kept: number; folded: number; deleted: number; failed: number } | { error: string };
}

export interface TextResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

/** Lag is read once a minute; a broker that does not answer in this long is skipped. */
const LAG_TIMEOUT_MS = 5000;
/**
 * The fold reads every group once a minute, off any caller's path: it may take longer than
 * a GET /metrics may (PUSHGATEWAY_QUERY_TIMEOUT_MS), within the function's 20 s timeout.
 */
const FOLD_READ_TIMEOUT_MS = 15_000;

function text(statusCode: number, body: string, headers: Record<string, string> = {}): TextResponse {
  return { statusCode, headers: { 'content-type': 'text/plain', ...headers }, body: `${body}\n` };
}

/** Where the pushes and reads of the scheduled run go. */
interface Pushgateway {
  url: string;
  timeoutMs: number;
  job: string;
  stage: string;
}

/** Consumer-group lag for every consumer function, pushed to the Pushgateway. */
async function recordLag(deps: MetricsJobDeps, pushgateway: Pushgateway): Promise<ScheduledRunReport['lag']> {
  const { config, logger, metrics, withOffsets } = deps;
  try {
    const report = await withTimeout(
      withOffsets((reader) => consumerGroupLag({ reader, kafka: config.kafka })),
      LAG_TIMEOUT_MS,
      () => new TimeoutError(`reading consumer-group offsets timed out after ${LAG_TIMEOUT_MS} ms`),
    );
    await pushConsumerLag({ ...pushgateway, functionName: config.runtime.functionName, lags: report.lags });
    const byGroup: Record<string, number> = {};
    for (const [group, { lag }] of Object.entries(lagByGroup(report.lags))) byGroup[group] = lag;
    const total = Object.values(byGroup).reduce((a, b) => a + b, 0);
    if (report.failures.length > 0) logger.warn('consumer-group lag not read for some groups', { failures: report.failures });
    metrics.metricsTasks.inc({ task: 'lag', outcome: report.failures.length > 0 ? 'error' : 'success' });
    logger.info('consumer-group lag pushed', { total, by_group: byGroup, partitions: report.lags.length });
    return { partitions: report.lags.length, total, byGroup, failures: report.failures };
  } catch (error) {
    metrics.metricsTasks.inc({ task: 'lag', outcome: 'error' });
    logger.error('consumer-group lag not computed', { error: errorMessage(error) });
    return { error: errorMessage(error) };
  }
}

/** The stage's container groups older than METRICS_GROUP_MAX_AGE_SECONDS, folded into the retired totals and deleted. */
async function prune(deps: MetricsJobDeps, scope: Pushgateway & { maxLabelValues: number }): Promise<ScheduledRunReport['prune']> {
  const { config, logger, metrics, now } = deps;
  try {
    const result = await foldStaleGroups({
      ...scope,
      timeoutMs: Math.max(FOLD_READ_TIMEOUT_MS, scope.timeoutMs),
      deleteTimeoutMs: scope.timeoutMs,
      maxAgeSeconds: config.metrics.groupMaxAgeSeconds,
      nowSeconds: now() / 1000,
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
    logger.error('stale Pushgateway groups not pruned', { error: errorMessage(error) });
    return { error: errorMessage(error) };
  }
}

export function createMetricsJob(deps: MetricsJobDeps) {
  const { config, logger, now } = deps;
  const pushgateway: Pushgateway = {
    url: config.pushgateway.url,
    timeoutMs: config.metrics.queryTimeoutMs,
    job: config.service.name,
    stage: stageLabel(config.service.stage),
  };
  const scope = { ...pushgateway, maxLabelValues: config.metrics.fleetMaxLabelValues };
  const metricsToken = createSecretSource({
    what: 'the metrics token',
    plain: config.metrics.token,
    secretArn: config.metrics.tokenSecretArn,
    region: config.kafka.region,
    decode: bearerTokenSecret(METRICS_TOKEN_PATTERN),
    ...(deps.readSecret ? { readSecret: deps.readSecret } : {}),
  });

  const fleetResponse = sharedRead(
    async () => {
      const read = await readFleet(scope);
      if (read.skipped > 0) logger.warn('Pushgateway samples of an unexpected shape were left out', { skipped: read.skipped });
      return fleetText(read);
    },
    { reuseMs: config.metrics.answerReuseMs, now },
  );

  return {
    /** The scheduled run: lag and prune side by side. */
    async runScheduled(): Promise<ScheduledRunReport> {
      const [lag, pruned] = await Promise.all([recordLag(deps, pushgateway), prune(deps, scope)]);
      fleetResponse.clear();
      return { lag, prune: pruned };
    },

    /** Drops the reused GET /metrics answer (fresh lag was pushed since it was read). */
    dropReusedResponse(): void {
      fleetResponse.clear();
    },

    /** GET /metrics: the fleet's metrics in Prometheus text format. */
    async serveMetrics(request: { method: string; authorization: string | undefined }): Promise<TextResponse> {
      if (request.method !== 'GET' && request.method !== 'HEAD') return text(405, 'method not allowed', { allow: 'GET, HEAD' });
      let token: string | undefined;
      try {
        token = await metricsToken.get();
      } catch (error) {
        // Never public for want of the token: the operator fixes the secret, the next read picks it up.
        logger.error('metrics token not read', { error: errorMessage(error) });
        return text(503, 'the metrics token could not be read; try again shortly', { 'retry-after': '1' });
      }
      if (!config.metrics.public && token === undefined) {
        logger.error('GET /metrics refused: METRICS_PUBLIC=off and no METRICS_TOKEN is configured');
        return text(503, 'metrics unavailable: a token is required and none is configured');
      }
      const access = authorizeMetrics({ authorization: request.authorization, token });
      if (!access.allowed) return text(access.status, access.message, access.status === 401 ? { 'www-authenticate': 'Bearer' } : {});
      try {
        return { statusCode: 200, headers: { 'content-type': CONTENT_TYPE }, body: await fleetResponse.get() };
      } catch (error) {
        logger.error('metrics not served: the Pushgateway could not be read', { error: errorMessage(error) });
        return text(503, 'metrics unavailable: the Pushgateway could not be read', { 'retry-after': '5' });
      }
    },
  };
}
