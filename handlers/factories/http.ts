/**
 * The HTTP function behind API Gateway (HTTP API, payload format 2.0): it turns each route's
 * event into a plain request, calls its use case (src/use-cases) and turns the answer into
 * a response.
 */
import middy from '@middy/core';
import httpErrorHandler from '@middy/http-error-handler';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import httpRouterHandler from '@middy/http-router';
import type { Route } from '@middy/http-router';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { correlationIdSchema } from '../../src/events';
import { createAdminAccess, createPublishUseCases, createStatusUseCase, createTimeUseCase } from '../../src/use-cases';
import type { JsonResponse } from '../../src/use-cases';
import { accessLog } from '../middleware/access-log';
import { errorEvents } from '../middleware/error-events';
import { pushMetrics } from '../middleware/push-metrics';
import type { HandlerDeps } from './deps';

type Event = APIGatewayProxyEventV2;
type Result = APIGatewayProxyStructuredResultV2;

function response({ statusCode, body, headers }: JsonResponse): Result {
  return { statusCode, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) };
}

/** A route whose use case's answer becomes the response. */
function route(
  method: Route<Event, Result>['method'],
  path: string,
  useCase: (event: Event, context: Context) => Promise<JsonResponse>,
): Route<Event, Result> {
  return { method, path, handler: async (event: Event, context: Context) => response(await useCase(event, context)) };
}

/** The caller's X-Correlation-Id when it is well-formed, else this request's id. */
function correlationIdOf(event: Event, context: Context): string {
  const given = correlationIdSchema.safeParse(event.headers['x-correlation-id']);
  return given.success ? given.data : context.awsRequestId;
}

export function createHttpHandler(deps: HandlerDeps) {
  const { config, logger, metrics, pusher } = deps;
  const source = `${config.service.name}/${config.runtime.functionName}`;
  // The container's producer starts connecting now, before the first request needs it.
  const producer = deps.producer();
  const admin = createAdminAccess({ config, logger });
  const getTime = createTimeUseCase({ config, logger, producer: deps.producer, source });
  const getStatus = createStatusUseCase({ config, producer: deps.producer, kafka: deps.kafka, admin, now: deps.now, logger });
  const { publish, flush } = createPublishUseCases({ config, logger, producer: deps.producer, admin, source });

  const routes: Array<Route<Event, Result>> = [
    route('GET', '/', (event, context) =>
      getTime({
        sourceIp: event.requestContext.http.sourceIp,
        forwardedFor: event.headers['x-forwarded-for'],
        requestId: context.awsRequestId,
        method: event.requestContext.http.method,
        path: event.rawPath,
        correlationId: correlationIdOf(event, context),
      }),
    ),
    route('GET', '/healthz', () => Promise.resolve({ statusCode: 200, body: { status: 'healthy' }, headers: {} })),
    route('GET', '/kafka/status', (event) => getStatus({ authorization: event.headers.authorization })),
    route('POST', '/kafka/publish', (event) =>
      publish({ authorization: event.headers.authorization, body: event.body, isBase64Encoded: event.isBase64Encoded }),
    ),
    route('POST', '/kafka/flush', (event) => flush({ authorization: event.headers.authorization })),
  ];

  return (
    middy<Event, Result>()
      // First, so its `after`/`onError` run last and record the final status.
      .use(pushMetrics<Event, Result>({ metrics, pusher, logger, recordHttp: true }))
      .use(httpHeaderNormalizer())
      .use(injectLambdaContext(logger, { resetKeys: true }))
      .before((request) => {
        logger.appendKeys({ correlation_id: correlationIdOf(request.event, request.context) });
      })
      .use(accessLog<Event, Result>({ logger, readable: config.service.logFormat === 'pretty' }))
      .use(httpErrorHandler({ logger: false, fallbackMessage: JSON.stringify({ error: 'internal error' }) }))
      .use(
        errorEvents<Event, Result>({
          publisher: () => producer,
          topic: config.kafka.topics.events,
          service: config.service.name,
          source,
          logger,
          http: true,
        }),
      )
      .handler(httpRouterHandler(routes))
  );
}
