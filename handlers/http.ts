/**
 * The HTTP function behind API Gateway (HTTP API, payload format 2.0): the time
 * payload, health, and the Kafka admin routes.
 */
import middy from '@middy/core';
import httpRouterHandler from '@middy/http-router';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { getConfig } from '../src/config';
import { buildTimePayload } from '../src/http/time';
import { hostInfo } from '../src/runtime';

const config = getConfig();
const host = hostInfo(config.runtime);

function json(statusCode: number, body: unknown): APIGatewayProxyStructuredResultV2 {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

const getTime = (event: APIGatewayProxyEventV2, context: Context): Promise<APIGatewayProxyStructuredResultV2> => {
  const payload = buildTimePayload({
    sourceIp: event.requestContext.http.sourceIp,
    forwardedFor: event.headers['x-forwarded-for'],
    requestId: context.awsRequestId,
    host,
  });
  return Promise.resolve(json(200, payload));
};

const getHealth = (): Promise<APIGatewayProxyStructuredResultV2> => Promise.resolve(json(200, { status: 'healthy' }));

export const handler = middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>().handler(
  httpRouterHandler([
    { method: 'GET', path: '/', handler: getTime },
    { method: 'GET', path: '/healthz', handler: getHealth },
  ]),
);
