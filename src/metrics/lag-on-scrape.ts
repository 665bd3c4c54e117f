/**
 * Consumer-group lag read when Prometheus scrapes GET /metrics, so a backlog shows at the
 * scrape instead of at the next scheduled minute. The read (end and committed offsets over
 * one admin connection) pushes the lag group as the schedule does, so GET /metrics and a
 * Prometheus that scrapes only the Pushgateway both see it; the schedule stays for the
 * latter. Per container:
 * - at most one read at a time (concurrent scrapes share it: one admin connection);
 * - a read that answered less than `maxAgeMs` ago is not repeated (scrapes every few seconds
 *   cost one read per `maxAgeMs`; src/shared-read.ts);
 * - the scrape waits for it at most `timeoutMs`, then answers with the lag pushed before;
 * - only callers allowed to read GET /metrics (METRICS_TOKEN) start one;
 * - never throws: a failed read is counted (metrics_function_tasks_total{task="lag_on_scrape"}) and logged.
 */
import type { Logger } from '../logger';
import { TimeoutError, errorMessage } from '../errors';
import { withTimeout } from '../timeout';
import type { ServiceMetrics } from './container-metrics';
import { sharedRead } from '../shared-read';
import { authorizeMetrics } from '../bearer';

export type LagRefresh = 'done' | 'not_allowed' | 'failed' | 'timeout';

export interface LagOnScrapeParams {
  /** Reads the lag and pushes it (one admin connection, closed afterwards). */
  read: () => Promise<void>;
  metrics: Pick<ServiceMetrics, 'metricsTasks'>;
  logger: Pick<Logger, 'warn'>;
  /** METRICS_TOKEN: only a caller GET /metrics answers starts a read. */
  token: string | undefined;
  maxAgeMs: number;
  timeoutMs: number;
  /** Milliseconds; injectable for tests. */
  now?: () => number;
}

/** A scrape every few seconds reads the lag once per this long at most. */
export const LAG_ON_SCRAPE_MAX_AGE_MS = 5_000;
/** How long a scrape waits for the read. */
export const LAG_ON_SCRAPE_TIMEOUT_MS = 1_000;

export function createLagOnScrape(params: LagOnScrapeParams) {
  const { read, metrics, logger, token, maxAgeMs, timeoutMs } = params;
  // One read shared by the scrapes that come while it runs, reused for maxAgeMs (a failed one is not).
  const lag = sharedRead(
    () =>
      read().then(
        () => metrics.metricsTasks.inc({ task: 'lag_on_scrape', outcome: 'success' }),
        (error: unknown) => {
          metrics.metricsTasks.inc({ task: 'lag_on_scrape', outcome: 'error' });
          logger.warn('consumer-group lag not read for the scrape; GET /metrics shows the lag pushed before', {
            error: errorMessage(error),
          });
          throw error;
        },
      ),
    { reuseMs: maxAgeMs, now: params.now ?? (() => performance.now()) },
  );

  /** Before GET /metrics answers: the lag read if it is due, waited for at most `timeoutMs`. */
  async function beforeScrape(request: { method: string; authorization: string | undefined }): Promise<LagRefresh> {
    if (request.method !== 'GET' && request.method !== 'HEAD') return 'not_allowed';
    if (!authorizeMetrics({ authorization: request.authorization, token }).allowed) return 'not_allowed';
    const pending = lag.get().then(
      () => 'done' as const,
      () => 'failed' as const,
    );
    // The read goes on after a timeout and serves the next scrape.
    return withTimeout(pending, timeoutMs, () => new TimeoutError(`lag read took over ${timeoutMs} ms`)).catch(() => 'timeout' as const);
  }

  return { beforeScrape };
}
