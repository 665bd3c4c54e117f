/**
 * The HTTP function behind API Gateway (HTTP API, payload format 2.0): the time payload,
 * health, and the Kafka admin routes. A thin layer: it turns the event into plain values,
 * calls src/, and turns the result back into a response.
 */
import { performance } from 'node:perf_hooks';
import middy from '@middy/core';
import httpErrorHandler from '@middy/http-error-handler';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import httpRouterHandler from '@middy/http-router';
import type { Route } from '@middy/http-router';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { getConfig } from '../src/config';
import { CONSUMER_FUNCTIONS, consumerGroupId, consumerGroupLag, consumerTopic, defaultEventHandlers } from '../src/consumers';
import type { LagReport } from '../src/consumers';
import { ValidationError } from '../src/errors';
import { correlationIdSchema } from '../src/events';
import {
  AdminTokenUnavailableError,
  authorizeAdmin,
  buildPublishRequest,
  buildTimePayload,
  createAdminTokenSource,
  readJsonBody,
  timeRequestRecords,
} from '../src/http';
import { KafkaUnavailableError, createClusterStatusReader, serviceTopics, sharedKafka, sharedProducer } from '../src/kafka';
import type { StatusSnapshot } from '../src/kafka';

import { createLogger } from '../src/logger';
import { containerMetrics, containerPusher, sendObserver } from '../src/metrics';
import { hostInfo } from '../src/runtime';
import { errorEvents } from './middleware/error-events';
import { pushMetrics } from './middleware/push-metrics';

type Event = APIGatewayProxyEventV2;
type Result = APIGatewayProxyStructuredResultV2;

const config = getConfig();
const logger = createLogger(config);
const host = hostInfo(config.runtime);
const source = `${config.service.name}/${config.runtime.functionName}`;
const metrics = containerMetrics(config);
const pusher = containerPusher({ config, metrics, logger });
const producer = sharedProducer({ config, logger, onSend: sendObserver(metrics) });
// The admin token: ADMIN_TOKEN locally; on AWS read from its secret with a short cache,
// so a rotation takes effect without a redeploy.
const adminToken = createAdminTokenSource({ token: config.admin.token, secretArn: config.admin.tokenSecretArn, region: config.kafka.region });
function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): Result {
  return { statusCode, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) };
}

/** The caller's X-Correlation-Id when it is well-formed, else this request's id. */
function correlationIdOf(event: Event, context: Context): string {
  const given = correlationIdSchema.safeParse(event.headers['x-correlation-id']);
  return given.success ? given.data : context.awsRequestId;
}

async function getTime(event: Event, context: Context): Promise<Result> {
  const started = performance.now();
  const correlationId = correlationIdOf(event, context);
  const payload = buildTimePayload({
    sourceIp: event.requestContext.http.sourceIp,
    forwardedFor: event.headers['x-forwarded-for'],
    requestId: context.awsRequestId,
    host,
  });
  const records = timeRequestRecords({
    payload,
    method: event.requestContext.http.method,
    endpoint: event.rawPath,
    statusCode: 200,
    responseTimeMs: performance.now() - started,
    topics: config.kafka.topics,
    source,
    correlationId,
  });
  try {
    // Awaited before answering: Lambda freezes the container after the response, so a
    // send left in flight could be lost. The producer bounds the wait.
    await producer.send(records);
  } catch (error) {
    // The time is still the answer; the lost events are counted by the producer and logged.
    logger.warn('time request events not published', {
      error: error instanceof Error ? error.message : String(error),
      correlation_id: correlationId,
    });
  }
  return json(200, payload, { 'x-correlation-id': correlationId });
}

function getHealth(): Promise<Result> {
  return Promise.resolve(json(200, { status: 'healthy' }));
}

const STATUS_TIMEOUT_MS = 1500;
/** A public route must not let callers churn broker connections: the cluster is read at most this often. */
const STATUS_CACHE_MS = 5000;
const clusterStatus = createClusterStatusReader({
  kafka: () => sharedKafka({ config, logger }),
  topics: serviceTopics(config.kafka.topics),
  lag: (reader) => consumerGroupLag({ reader, kafka: config.kafka }),
  timeoutMs: STATUS_TIMEOUT_MS,
  cacheMs: STATUS_CACHE_MS,
});
const consumerTopics = [...new Set(CONSUMER_FUNCTIONS.map((fn) => consumerTopic(config.kafka, fn)))];
const consumerHandlers = defaultEventHandlers().types();

/** Lag per consumer group and topic (summed over partitions); why it could not be read only for admins. */
function lagView(lag: StatusSnapshot<LagReport>['lag'], admin: boolean): Record<string, unknown> {
  if ('error' in lag) return admin ? { error: lag.error } : { error: 'not readable' };
  const byGroup: Record<string, { topic: string; lag: number }> = {};
  for (const { group, topic, lag: n } of lag.lags) {
    const entry = (byGroup[group] ??= { topic, lag: 0 });
    entry.lag += n;
  }
  const failures = admin ? lag.failures : lag.failures.map(({ group, topic }) => ({ group, topic }));
  return { groups: byGroup, failures };
}

/**
 * The original guide's fields first (`kafka_producer`, `kafka_consumer`, `consumer_topics`,
 * `consumer_handlers`), then this service's detail. Broker hosts and error messages (which
 * name hosts) only for admin callers; the route itself stays public.
 */
async function getKafkaStatus(event: Event): Promise<Result> {
  // The route is public: a token that cannot be read only withholds the admin view.
  const token = await adminToken.get().catch((error: unknown) => {
    logger.warn('admin token not read; answering without the admin view', { error: error instanceof Error ? error.message : String(error) });
    return undefined;
  });
  const admin = token !== undefined && authorizeAdmin({ authorization: event.headers.authorization, token }).allowed;
  // A fresh container connects its producer here, so the answer says what a send would find.
  const [connected, snapshot] = await Promise.all([producer.connect({ timeoutMs: STATUS_TIMEOUT_MS }), clusterStatus.read()]);
  const { cluster } = snapshot;
  return json(200, {
    kafka_producer: connected ? 'connected' : 'disconnected',
    // The consumers are event source mappings: they run while the brokers answer.
    kafka_consumer: cluster.reachable ? 'running' : 'unavailable',
    consumer_topics: consumerTopics,
    consumer_handlers: consumerHandlers,
    ...(admin ? { producer: producer.state() } : {}),
    cluster: admin ? cluster : { reachable: cluster.reachable, topics: cluster.topics },
    checked_at: new Date(snapshot.readAt).toISOString(),
    consumer_functions: CONSUMER_FUNCTIONS.map((fn) => ({
      function: fn.name,
      topic: consumerTopic(config.kafka, fn),
      consumer_group: consumerGroupId(config.kafka, fn),
      event_types: fn.eventTypes,
    })),
    consumer_lag: lagView(snapshot.lag, admin),
  });
}

/** Why an admin route refuses this request (401, 403, or 503 when the token cannot be read), or nothing. */
async function denied(event: Event): Promise<Result | undefined> {
  let token: string | undefined;
  try {
    token = await adminToken.get();
  } catch (error) {
    if (!(error instanceof AdminTokenUnavailableError)) throw error;
    logger.error('admin token not read', { error: error.message });
    return json(503, { error: 'the admin token could not be read; try again shortly' }, { 'retry-after': '1' });
  }
  const decision = authorizeAdmin({ authorization: event.headers.authorization, token });
  if (decision.allowed) return undefined;
  const headers: Record<string, string> = decision.status === 401 ? { 'www-authenticate': 'Bearer' } : {};
  return json(decision.status, { error: decision.message }, headers);
}

async function postPublish(event: Event): Promise<Result> {
  const refusal = await denied(event);
  if (refusal) return refusal;
  let request;
  try {
    const body = readJsonBody({
      body: event.body,
      isBase64Encoded: event.isBase64Encoded,
      maxBytes: config.http.maxBodyBytes,
    });
    request = buildPublishRequest({ body, topics: config.kafka.topics, source });
  } catch (error) {
    if (error instanceof ValidationError) return json(400, { error: error.message, details: error.details });
    throw error;
  }
  try {
    const [ack] = await producer.send([request.record]);
    logger.info('event published', { event_id: request.event.id, event_type: request.event.event_type, ...ack });
    // As the guide answers; every in-sync replica has the event by now (acks=all).
    return json(200, {
      status: 'success',
      message: `Event '${request.event.event_type}' published to Kafka`,
      event: request.event,
      id: request.event.id,
      topic: ack?.topic,
      partition: ack?.partition,
      offset: ack?.offset,
    });
  } catch (error) {
    if (error instanceof KafkaUnavailableError) {
      const written = error.outcome === 'not_sent' ? 'it was not written' : 'it may have been written';
      return json(
        503,
        {
          error: `Kafka did not acknowledge the event in time; ${written}`,
          outcome: error.outcome,
          id: request.event.id,
          retry: 'retry with the same id: the consumers drop a second copy of an id, so a retry never runs twice',
        },
        { 'retry-after': '1' },
      );
    }
    throw error;
  }
}

async function postFlush(event: Event): Promise<Result> {
  const refusal = await denied(event);
  if (refusal) return refusal;
  try {
    const { settled } = await producer.flush();
    return json(200, { status: 'success', message: 'Kafka producer flushed', settled });
  } catch (error) {
    if (error instanceof KafkaUnavailableError) return json(503, { error: error.message });
    throw error;
  }
}

const routes: Array<Route<Event, Result>> = [
  { method: 'GET', path: '/', handler: getTime },
  { method: 'GET', path: '/healthz', handler: getHealth },
  { method: 'GET', path: '/kafka/status', handler: getKafkaStatus },
  { method: 'POST', path: '/kafka/publish', handler: postPublish },
  { method: 'POST', path: '/kafka/flush', handler: postFlush },
];

export const handler = middy<Event, Result>()
  // First, so its `after`/`onError` run last and record the final status.
  .use(pushMetrics<Event, Result>({ metrics, pusher, logger, recordHttp: true }))
  .use(httpHeaderNormalizer())
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .before((request) => {
    logger.appendKeys({ correlation_id: correlationIdOf(request.event, request.context) });
  })
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
  .handler(httpRouterHandler(routes));
