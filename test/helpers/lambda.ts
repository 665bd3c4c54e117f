/** Lambda events and contexts for invoking handlers in-process (tests and benchmarks). */
import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2, Context, ScheduledEvent } from 'aws-lambda';

export interface HttpEventOverrides {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  rawQueryString?: string;
  body?: string;
  isBase64Encoded?: boolean;
  sourceIp?: string;
}

/** An API Gateway HTTP API (payload 2.0) event for a route key such as "GET /kafka/status". */
export function httpEvent(routeKey: string, overrides: HttpEventOverrides = {}): APIGatewayProxyEventV2 {
  const space = routeKey.indexOf(' ');
  const method = overrides.method ?? (space > 0 ? routeKey.slice(0, space) : 'GET');
  const path = overrides.path ?? (space > 0 ? routeKey.slice(space + 1) : '/');
  const event: APIGatewayProxyEventV2 = {
    version: '2.0',
    routeKey,
    rawPath: path,
    rawQueryString: overrides.rawQueryString ?? '',
    headers: overrides.headers ?? {},
    isBase64Encoded: overrides.isBase64Encoded ?? false,
    requestContext: {
      accountId: '123456789012',
      apiId: 'local',
      domainName: '127.0.0.1',
      domainPrefix: '127',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: overrides.sourceIp ?? '127.0.0.1', userAgent: 'test' },
      requestId: randomUUID(),
      routeKey,
      stage: '$default',
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    },
  };
  if (overrides.body !== undefined) event.body = overrides.body;
  return event;
}

/** An EventBridge schedule event, as `schedule: rate(1 minute)` sends. */
export function scheduledEvent(): ScheduledEvent {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: '123456789012',
    time: new Date().toISOString(),
    region: 'us-east-1',
    resources: [],
    detail: {},
  };
}

export function lambdaContext(functionName = 'test'): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
    memoryLimitInMB: '256',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => 10_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
