import middy from '@middy/core';
import httpErrorHandler from '@middy/http-error-handler';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { pushMetrics } from '../../../../handlers/middleware/push-metrics';
import { createMetrics } from '../../../../src/metrics/container-metrics';
import { httpEvent } from '../../../helpers/lambda';

type Result = APIGatewayProxyStructuredResultV2;

const context = { awsRequestId: 'req-1', getRemainingTimeInMillis: () => 10_000 } as Context;

function fakePusher() {
  const calls: string[] = [];
  return { calls, pusher: { pushIfDue: () => Promise.resolve(void calls.push('push') as never) } };
}

async function samples(metrics: ReturnType<typeof createMetrics>) {
  const { values } = await metrics.httpRequests.get();
  return values.map((v) => ({ ...v.labels, value: v.value }));
}

describe('pushMetrics middleware', () => {
  it('records the request by route template, method and status, then pushes', async () => {
    // Prepare
    const metrics = createMetrics();
    const { calls, pusher } = fakePusher();
    const handler = middy<APIGatewayProxyEventV2, Result>()
      .use(pushMetrics({ metrics, pusher, recordHttp: true }))
      .handler(() => Promise.resolve({ statusCode: 201, body: '' }));
    // Act
    const response = await handler(httpEvent('GET /kafka/status'), context);
    // Assess
    expect(response.statusCode).toBe(201);
    expect(await samples(metrics)).toEqual([{ route: '/kafka/status', method: 'GET', status: '201', value: 1 }]);
    expect((await metrics.httpRequestDuration.get()).values.find((v) => v.metricName?.endsWith('_count'))?.value).toBe(1);
    expect(calls).toEqual(['push']);
  });

  it('records the status http-error-handler answered with, and still pushes when the handler fails', async () => {
    // Prepare
    const metrics = createMetrics();
    const { calls, pusher } = fakePusher();
    const handler = middy<APIGatewayProxyEventV2, Result>()
      .use(pushMetrics({ metrics, pusher, recordHttp: true }))
      .use(httpErrorHandler({ logger: false }))
      .handler(() => Promise.reject(new Error('boom')));
    // Act
    const response = await handler(httpEvent('POST /kafka/publish'), context);
    // Assess
    expect(response.statusCode).toBe(500);
    expect(await samples(metrics)).toEqual([{ route: '/kafka/publish', method: 'POST', status: '500', value: 1 }]);
    expect(calls).toEqual(['push']);
  });

  it('lets an unhandled error through unchanged, counted as 500', async () => {
    // Prepare
    const metrics = createMetrics();
    const { calls, pusher } = fakePusher();
    const handler = middy<APIGatewayProxyEventV2, Result>()
      .use(pushMetrics({ metrics, pusher, recordHttp: true }))
      .handler(() => Promise.reject(new Error('boom')));
    // Act
    const outcome = handler(httpEvent('$default'), context);
    // Assess
    await expect(outcome).rejects.toThrow('boom');
    expect(await samples(metrics)).toEqual([{ route: '$default', method: 'GET', status: '500', value: 1 }]);
    expect(calls).toEqual(['push']);
  });

  it('only pushes for events that are not HTTP, or without recordHttp', async () => {
    // Prepare
    const metrics = createMetrics();
    const { calls, pusher } = fakePusher();
    const kafkaHandler = middy<{ eventSource: string }, void>()
      .use(pushMetrics({ metrics, pusher, recordHttp: true }))
      .handler(() => Promise.resolve());
    const httpHandler = middy<APIGatewayProxyEventV2, Result>()
      .use(pushMetrics({ metrics, pusher }))
      .handler(() => Promise.resolve({ statusCode: 200 }));
    // Act
    await kafkaHandler({ eventSource: 'aws:kafka' }, context);
    await httpHandler(httpEvent('GET /'), context);
    // Assess
    expect(await samples(metrics)).toEqual([]);
    expect(calls).toEqual(['push', 'push']);
  });

  it('validates its options', () => {
    // Prepare
    const metrics = createMetrics();
    // Act / Assess
    expect(() => pushMetrics({ metrics, pusher: {} as never })).toThrow(/pusher/);
    expect(() => pushMetrics({ metrics, pusher: fakePusher().pusher, recordHttp: 'yes' as never })).toThrow(/recordHttp/);
    expect(() => pushMetrics({ metrics: {} as never, pusher: fakePusher().pusher, recordHttp: true })).toThrow(/metrics/);
  });
});
