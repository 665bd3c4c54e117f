/** When a scrape of GET /metrics reads consumer-group lag: at most one read at a time, once per max age, bounded. */
import { describe, expect, it } from 'vitest';
import { createLagOnScrape } from '../../../src/metrics/lag-on-scrape';
import { createMetrics } from '../../../src/metrics/container-metrics';

const GET = { method: 'GET', authorization: undefined };

function setup(params: { read?: () => Promise<void>; token?: string } = {}) {
  let clock = 0;
  let reads = 0;
  const warnings: string[] = [];
  const metrics = createMetrics();
  const lag = createLagOnScrape({
    read: () => {
      reads += 1;
      return params.read?.() ?? Promise.resolve();
    },
    metrics,
    logger: { warn: (message: string) => void warnings.push(message) },
    token: params.token,
    maxAgeMs: 5000,
    timeoutMs: 50,
    now: () => clock,
  });
  return { lag, metrics, warnings, reads: () => reads, advance: (ms: number) => (clock += ms) };
}

describe('lag read at the scrape', () => {
  it('reads on a scrape, not again within the max age, and again after it', async () => {
    const { lag, reads, advance } = setup();
    expect(await lag.beforeScrape(GET)).toBe('done');
    advance(4999);
    expect(await lag.beforeScrape(GET)).toBe('done');
    expect(reads()).toBe(1);
    advance(1);
    expect(await lag.beforeScrape(GET)).toBe('done');
    expect(reads()).toBe(2);
  });

  it('shares one read between concurrent scrapes (one admin connection)', async () => {
    let finish: () => void = () => undefined;
    const { lag, reads } = setup({ read: () => new Promise<void>((resolve) => (finish = resolve)) });
    const scrapes = [lag.beforeScrape(GET), lag.beforeScrape(GET), lag.beforeScrape(GET)];
    finish();
    expect(await Promise.all(scrapes)).toEqual(['done', 'done', 'done']);
    expect(reads()).toBe(1);
  });

  it('answers after its timeout when the read is slow, and never throws when it fails', async () => {
    const slow = setup({ read: () => new Promise<void>(() => undefined) });
    expect(await slow.lag.beforeScrape(GET)).toBe('timeout');
    const failing = setup({ read: () => Promise.reject(new Error('coordinator not available')) });
    expect(await failing.lag.beforeScrape(GET)).toBe('failed');
    expect(failing.warnings).toHaveLength(1);
    expect((await failing.metrics.metricsTasks.get()).values).toEqual([{ labels: { task: 'lag_on_scrape', outcome: 'error' }, value: 1 }]);
  });

  it('starts no read for a caller GET /metrics refuses, nor for another method', async () => {
    const { lag, reads } = setup({ token: 'metrics-token-0123456789' });
    expect(await lag.beforeScrape(GET)).toBe('not_allowed');
    expect(await lag.beforeScrape({ method: 'POST', authorization: 'Bearer metrics-token-0123456789' })).toBe('not_allowed');
    expect(await lag.beforeScrape({ method: 'GET', authorization: 'Bearer metrics-token-0123456789' })).toBe('done');
    expect(reads()).toBe(1);
  });
});
