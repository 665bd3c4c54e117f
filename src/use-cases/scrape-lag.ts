/**
 * The metrics function's lag read for a scrape of GET /metrics (src/metrics/lag-on-scrape.ts
 * decides when): the consumer groups' offsets over one admin connection, pushed into the lag
 * group as the scheduled run pushes them.
 */
import { consumerGroupLag } from '../consumers';
import { TimeoutError } from '../errors';
import { createLagOnScrape, LAG_ON_SCRAPE_MAX_AGE_MS, LAG_ON_SCRAPE_TIMEOUT_MS, pushConsumerLag, stageLabel } from '../metrics';
import { withTimeout } from '../timeout';
import type { MetricsJobDeps } from './metrics-job';

/** A read that hangs would hold the one read slot: it is given up after this long. */
const READ_TIMEOUT_MS = 5_000;

/**
 * `onLagPushed` runs after each read that pushed the lag: the metrics job drops its reused
 * GET /metrics answer then, so the scrape that waited for the read shows it.
 */
export function createScrapeLag(deps: MetricsJobDeps, onLagPushed: () => void = () => undefined) {
  const { config, logger, metrics, withOffsets } = deps;
  const read = async (): Promise<void> => {
    const report = await withTimeout(
      withOffsets((reader) => consumerGroupLag({ reader, kafka: config.kafka })),
      READ_TIMEOUT_MS,
      () => new TimeoutError(`reading consumer-group offsets timed out after ${READ_TIMEOUT_MS} ms`),
    );
    await pushConsumerLag({
      url: config.pushgateway.url,
      timeoutMs: config.metrics.queryTimeoutMs,
      job: config.service.name,
      stage: stageLabel(config.service.stage),
      functionName: config.runtime.functionName,
      lags: report.lags,
    });
    onLagPushed();
  };
  return createLagOnScrape({
    read,
    metrics,
    logger,
    token: config.metrics.token,
    maxAgeMs: LAG_ON_SCRAPE_MAX_AGE_MS,
    timeoutMs: LAG_ON_SCRAPE_TIMEOUT_MS,
  });
}
