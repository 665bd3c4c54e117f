/**
 * The metrics function: an EventBridge schedule runs the minute's lag and prune, an HTTP
 * API event asks for GET /metrics; both are src/use-cases/metrics-job.ts. A scrape reads
 * the lag first when it is due (src/use-cases/scrape-lag.ts).
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context, ScheduledEvent } from 'aws-lambda';
import { createMetricsJob, createScrapeLag } from '../../src/use-cases';
import type { ScheduledRunReport } from '../../src/use-cases';
import { accessLog } from '../middleware/access-log';
import { pushMetrics } from '../middleware/push-metrics';
import type { HandlerDeps } from './deps';

type Event = APIGatewayProxyEventV2 | ScheduledEvent;
type Result = APIGatewayProxyStructuredResultV2 | ScheduledRunReport;

function isHttpEvent(event: Event): event is APIGatewayProxyEventV2 {
  return typeof (event as Partial<APIGatewayProxyEventV2>).requestContext?.http?.method === 'string';
}

export function createMetricsHandler(deps: HandlerDeps) {
  const { config, metrics, pusher, logger } = deps;
  const job = createMetricsJob(deps);
  const scrapeLag = createScrapeLag(deps, () => job.dropReusedResponse());
  const handle = async (event: Event): Promise<Result> => {
    if (!isHttpEvent(event)) return job.runScheduled();
    const request = { method: event.requestContext.http.method, authorization: event.headers?.authorization };
    await scrapeLag.beforeScrape(request);
    return job.serveMetrics(request);
  };
  return middy<Event, Result, Error, Context>()
    .use(pushMetrics<Event, Result>({ metrics, pusher, logger, recordHttp: true }))
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(accessLog<Event, Result>({ logger, readable: config.service.logFormat === 'pretty' }))
    .handler(handle);
}
