/**
 * GET /metrics's bearer token kept out of the configuration: METRICS_TOKEN_SECRET_ARN names
 * its secret, read at run time (src/secrets.ts) by the metrics function; METRICS_TOKEN is
 * the plain value for `serverless offline`.
 */
import { describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../../src/config';
import { createLogger } from '../../../src/logger';
import type { ReadSecret } from '../../../src/secrets';
import { createMetricsJob } from '../../../src/use-cases';

const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:simple-time-service/prod/metrics-token-AbCdEf';
const TOKEN = 'a-metrics-token-of-32-characters';

function job(env: Record<string, string>, readSecret?: ReadSecret) {
  // Port 9 (discard) on loopback: nothing answers, so an authorized read gets 503.
  const config = loadConfig({ PUSHGATEWAY_URL: 'http://127.0.0.1:9', LOG_LEVEL: 'SILENT', PUSHGATEWAY_QUERY_TIMEOUT_MS: '200', ...env });
  return createMetricsJob({
    config,
    logger: createLogger(config),
    // Only its counter of tasks is used.
    metrics: { metricsTasks: { inc: () => undefined } } as unknown as Parameters<typeof createMetricsJob>[0]['metrics'],
    withOffsets: () => Promise.reject(new Error('not used')),
    now: Date.now,
    ...(readSecret ? { readSecret } : {}),
  });
}

describe('GET /metrics with its token in a secret', () => {
  it('reads the token from METRICS_TOKEN_SECRET_ARN: 401 without it, 403 with another, through with it', async () => {
    const readSecret = vi.fn<ReadSecret>().mockResolvedValue(TOKEN);
    const metrics = job({ METRICS_TOKEN_SECRET_ARN: ARN, AWS_REGION: 'eu-west-1' }, readSecret);
    expect((await metrics.serveMetrics({ method: 'GET', authorization: undefined })).statusCode).toBe(401);
    expect((await metrics.serveMetrics({ method: 'GET', authorization: 'Bearer another-token-of-32-characters' })).statusCode).toBe(403);
    // Through: the Pushgateway behind it does not answer here.
    expect((await metrics.serveMetrics({ method: 'GET', authorization: `Bearer ${TOKEN}` })).statusCode).toBe(503);
    expect(readSecret).toHaveBeenCalledTimes(1);
    expect(readSecret.mock.calls[0]![0]).toMatchObject({ secretArn: ARN, region: 'eu-west-1' });
  });

  it('answers 503, never public, when the secret cannot be read', async () => {
    const metrics = job({ METRICS_TOKEN_SECRET_ARN: ARN }, () => Promise.reject(new Error('AccessDeniedException')));
    const answer = await metrics.serveMetrics({ method: 'GET', authorization: undefined });
    expect(answer.statusCode).toBe(503);
    expect(answer.headers['retry-after']).toBe('1');
    expect(answer.body).toBe('the metrics token could not be read; try again shortly\n');
  });

  it('uses METRICS_TOKEN as it is without a secret, and is public with neither', async () => {
    expect((await job({ METRICS_TOKEN: TOKEN }).serveMetrics({ method: 'GET', authorization: undefined })).statusCode).toBe(401);
    expect((await job({}).serveMetrics({ method: 'GET', authorization: undefined })).statusCode).toBe(503);
  });
});
