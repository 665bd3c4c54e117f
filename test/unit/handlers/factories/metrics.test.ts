/** GET /metrics behind the optional METRICS_TOKEN (compared in constant time). */
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { defaultDeps } from '../../../../handlers/factories/deps';
import { createMetricsHandler } from '../../../../handlers/factories/metrics';
import { loadConfig } from '../../../../src/config';
import { createMetrics } from '../../../../src/metrics/container-metrics';
import { httpEvent, lambdaContext } from '../../../helpers/lambda';

type Result = APIGatewayProxyStructuredResultV2;
const TOKEN = 'a-metrics-token-of-32-characters';

function handlerWith(env: Record<string, string>) {
  // Port 9 (discard) on loopback: nothing answers, so an authorized read gets 503.
  const config = loadConfig({ PUSHGATEWAY_URL: 'http://127.0.0.1:9', LOG_LEVEL: 'SILENT', PUSHGATEWAY_QUERY_TIMEOUT_MS: '200', ...env });
  const pusher = { pushIfDue: () => Promise.resolve('skipped' as const) };
  return createMetricsHandler(defaultDeps({ config, metrics: createMetrics(), pusher }));
}

async function get(handler: ReturnType<typeof handlerWith>, headers: Record<string, string> = {}): Promise<Result> {
  return (await handler(httpEvent('GET /metrics', { headers }), lambdaContext('metrics'))) as Result;
}

describe('GET /metrics with METRICS_TOKEN', () => {
  it('answers 401 without a bearer token and 403 with a wrong one', async () => {
    // Prepare
    const handler = handlerWith({ METRICS_TOKEN: TOKEN });
    // Act
    const missing = await get(handler);
    const wrong = await get(handler, { authorization: `Bearer ${TOKEN.slice(0, -1)}x` });
    // Assess
    expect(missing.statusCode).toBe(401);
    expect(missing.headers?.['www-authenticate']).toBe('Bearer');
    expect(wrong.statusCode).toBe(403);
  });

  it('lets the right token through (the read itself then fails: 503)', async () => {
    const response = await get(handlerWith({ METRICS_TOKEN: TOKEN }), { authorization: `Bearer ${TOKEN}` });
    expect(response.statusCode).toBe(503);
  });

  it('is public when no token is set', async () => {
    const response = await get(handlerWith({}));
    expect(response.statusCode).toBe(503);
    expect(response.body).toContain('the Pushgateway could not be read');
  });

  it('with METRICS_PUBLIC=off and no token configured, refuses everyone without reading the Pushgateway', async () => {
    // Act
    const response = await get(handlerWith({ METRICS_PUBLIC: 'off' }), { authorization: 'Bearer anything-at-all-0123456789' });
    // Assess
    expect(response.statusCode).toBe(503);
    expect(response.body).toBe('metrics unavailable: a token is required and none is configured\n');
  });

  it('with METRICS_PUBLIC=off and a token, asks for the token as without METRICS_PUBLIC', async () => {
    const handler = handlerWith({ METRICS_PUBLIC: 'off', METRICS_TOKEN: TOKEN });
    expect((await get(handler)).statusCode).toBe(401);
    expect((await get(handler, { authorization: `Bearer ${TOKEN}` })).statusCode).toBe(503);
  });
});
