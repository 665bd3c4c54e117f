import middy from '@middy/core';
import httpErrorHandler from '@middy/http-error-handler';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { accessLog } from '../../../../handlers/middleware/access-log';
import { httpEvent } from '../../../helpers/lambda';

type Result = APIGatewayProxyStructuredResultV2;

const context = { awsRequestId: 'req-1', getRemainingTimeInMillis: () => 10_000 } as Context;

function fakeLogger() {
  const lines: Array<{ level: string; message: string; fields: Record<string, unknown> }> = [];
  const at =
    (level: string) =>
    (message: string, fields: Record<string, unknown> = {}) =>
      void lines.push({ level, message, fields });
  return { lines, logger: { info: at('INFO'), debug: at('DEBUG') } };
}

function handler(readable: boolean, answer: () => Promise<Result>) {
  const { lines, logger } = fakeLogger();
  const h = middy<APIGatewayProxyEventV2, Result>()
    .use(accessLog<APIGatewayProxyEventV2, Result>({ logger, readable }))
    .use(httpErrorHandler({ logger: false }))
    .handler(answer);
  return { lines, h };
}

describe('accessLog middleware', () => {
  it('logs one line per request with method, path, status and duration; fields only in JSON', async () => {
    // Prepare
    const json = handler(false, () => Promise.resolve({ statusCode: 403, body: '' }));
    const readable = handler(true, () => Promise.resolve({ statusCode: 200, body: '' }));

    // Act
    await json.h(httpEvent('POST /kafka/publish'), context);
    await readable.h(httpEvent('GET /kafka/status'), context);

    // Assess
    expect(json.lines).toEqual([
      {
        level: 'INFO',
        message: expect.stringMatching(/^POST \/kafka\/publish 403 in \d+ ms$/) as unknown,
        fields: { method: 'POST', path: '/kafka/publish', status: 403, duration_ms: expect.any(Number) as unknown },
      },
    ]);
    expect(readable.lines).toEqual([
      { level: 'INFO', message: expect.stringMatching(/^GET \/kafka\/status 200 in \d+ ms$/) as unknown, fields: {} },
    ]);
  });

  it('logs a successful scrape of GET /metrics and a probe of GET /healthz at debug, a refused one at info', async () => {
    const ok = handler(true, () => Promise.resolve({ statusCode: 200, body: '' }));
    const refused = handler(true, () => Promise.resolve({ statusCode: 401, body: '' }));
    await ok.h(httpEvent('GET /metrics'), context);
    await ok.h(httpEvent('GET /healthz'), context);
    await refused.h(httpEvent('GET /metrics'), context);
    expect(ok.lines.map((l) => l.level)).toEqual(['DEBUG', 'DEBUG']);
    expect(refused.lines.map((l) => l.level)).toEqual(['INFO']);
  });

  it('logs the status http-error-handler answered a failure with', async () => {
    const failing = handler(true, () => Promise.reject(new Error('boom')));
    await failing.h(httpEvent('GET /'), context);
    expect(failing.lines).toEqual([
      expect.objectContaining({ level: 'INFO', message: expect.stringMatching(/^GET \/ 500 in \d+ ms$/) as unknown }),
    ]);
  });

  it('says nothing for an event that is not an HTTP request (the schedule)', async () => {
    const { lines, logger } = fakeLogger();
    const h = middy<unknown, unknown>()
      .use(accessLog({ logger, readable: true }))
      .handler(() => Promise.resolve({ ok: true }));
    await h({ source: 'aws.events' }, context);
    expect(lines).toEqual([]);
  });
});
