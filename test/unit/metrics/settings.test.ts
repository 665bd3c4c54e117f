/**
 * The metrics settings: a group age that cannot be shorter than a live container's push
 * interval, per-caller series off by default, and the optional METRICS_TOKEN.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config';
import { ConfigError } from '../../../src/errors';
import { stageLabel } from '../../../src/metrics';
import { createMetrics } from '../../../src/metrics/container-metrics';

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('metrics settings', () => {
  it('refuses a group age that does not exceed the push interval by a safe margin, naming both variables', () => {
    // Prepare
    const env = { METRICS_GROUP_MAX_AGE_SECONDS: '60', METRICS_PUSH_INTERVAL_MS: '300000' };
    // Act
    const error = configError(env);
    // Assess
    expect(error.message).toContain('METRICS_GROUP_MAX_AGE_SECONDS');
    expect(error.message).toContain('METRICS_PUSH_INTERVAL_MS');
  });

  it('refuses a group age just under twice the interval plus a minute, accepts it exactly', () => {
    expect(configError({ METRICS_GROUP_MAX_AGE_SECONDS: '139', METRICS_PUSH_INTERVAL_MS: '40000' }).message).toMatch(
      /METRICS_GROUP_MAX_AGE_SECONDS.*METRICS_PUSH_INTERVAL_MS/,
    );
    expect(loadConfig({ METRICS_GROUP_MAX_AGE_SECONDS: '140', METRICS_PUSH_INTERVAL_MS: '40000' }).metrics.groupMaxAgeSeconds).toBe(140);
    expect(loadConfig({}).metrics.groupMaxAgeSeconds).toBe(900);
  });

  it('refuses a fleet label cap below the per-container cap', () => {
    expect(configError({ METRICS_MAX_LABEL_VALUES: '50', METRICS_FLEET_MAX_LABEL_VALUES: '20' }).message).toMatch(
      /METRICS_FLEET_MAX_LABEL_VALUES.*METRICS_MAX_LABEL_VALUES/,
    );
  });

  it('keeps per-caller series off unless METRICS_PER_CALLER=on', async () => {
    // Prepare
    const off = createMetrics({ perCaller: loadConfig({}).metrics.perCaller });
    const on = createMetrics({ perCaller: loadConfig({ METRICS_PER_CALLER: 'on' }).metrics.perCaller });
    // Act
    off.callerRequests.inc({ caller: '203.0.113.7' });
    on.callerRequests.inc({ caller: '203.0.113.7' });
    // Assess
    expect(await off.registry.metrics()).not.toContain('203.0.113.7');
    expect((await on.callerRequests.get()).values).toEqual([{ labels: { caller: '203.0.113.7' }, value: 1 }]);
  });

  it('reads METRICS_TOKEN and refuses a short one or one with whitespace', () => {
    expect(loadConfig({ METRICS_TOKEN: 'a-metrics-token-of-32-characters' }).metrics.token).toBe('a-metrics-token-of-32-characters');
    expect(loadConfig({}).metrics.token).toBeUndefined();
    expect(configError({ METRICS_TOKEN: 'short' }).message).toContain('METRICS_TOKEN');
    expect(configError({ METRICS_TOKEN: 'has a space in the middle of it' }).message).toContain('METRICS_TOKEN');
  });
});

describe('stageLabel', () => {
  it('is STAGE on AWS, and tells two local checkouts apart by their path', () => {
    expect(stageLabel('prod', '/srv/a')).toBe('prod');
    expect(stageLabel('dev', '/srv/a')).toBe('dev');
    expect(stageLabel('local', '/home/me/checkout-a')).toMatch(/^local-[0-9a-f]{8}$/);
    expect(stageLabel('local', '/home/me/checkout-a')).not.toBe(stageLabel('local', '/home/me/checkout-b'));
    expect(stageLabel('local', '/home/me/checkout-a')).toBe(stageLabel('local', '/home/me/checkout-a'));
  });
});
