/**
 * What every function is built from. `defaultDeps()` gives the container's own (config from
 * the environment, one metrics registry, pusher, Kafka client and producer per execution
 * environment); tests and benchmarks pass their own config, producer or clock instead.
 * The metrics, the producer and the Kafka connection are made on first use, so a function
 * that never produces never connects.
 */
import type { Context } from 'aws-lambda';
import type { Config } from '../../src/config';
import { getConfig } from '../../src/config';
import { ServiceError, errorMessage } from '../../src/errors';
import { containerKafka, containerProducer, withOffsetReader } from '../../src/kafka';
import type { ContainerProducer, WithOffsets } from '../../src/kafka';
import { createLogger } from '../../src/logger';
import type { Logger } from '../../src/logger';
import { containerMetrics, containerPusher, sendObserver } from '../../src/metrics';
import type { MetricsPusher, ServiceMetrics } from '../../src/metrics';

export interface HandlerDeps {
  config: Config;
  logger: Logger;
  metrics: ServiceMetrics;
  pusher: Pick<MetricsPusher, 'pushIfDue'>;
  /** The container's producer, made on the first call. */
  producer: () => ContainerProducer;
  /** The container's Kafka client, made on the first call. */
  kafka: () => ReturnType<typeof containerKafka>;
  /** Runs `use` with a connected offset reader of the container's Kafka client. */
  withOffsets: WithOffsets;
  /** Milliseconds since the epoch. */
  now: () => number;
}

export function defaultDeps(overrides: Partial<HandlerDeps> = {}): HandlerDeps {
  const config = overrides.config ?? getConfig();
  const logger = overrides.logger ?? createLogger(config);
  // Made on first use: a function that never counts or produces makes neither.
  let metrics = overrides.metrics;
  let pusher = overrides.pusher;
  let producer: ContainerProducer | undefined;
  const deps: HandlerDeps = {
    config,
    logger,
    get metrics() {
      return (metrics ??= containerMetrics(config));
    },
    get pusher() {
      return (pusher ??= containerPusher({ config, metrics: deps.metrics, logger }));
    },
    producer: overrides.producer ?? (() => (producer ??= containerProducer({ config, logger, onSend: sendObserver(deps.metrics) }))),
    kafka: overrides.kafka ?? (() => containerKafka({ config, logger })),
    withOffsets: overrides.withOffsets ?? ((use) => deps.kafka().then((kafka) => withOffsetReader(kafka, use))),
    now: overrides.now ?? Date.now,
  };
  return deps;
}

/** Why every invocation of a function that could not start fails. */
export class FunctionStartError extends ServiceError {}

/** What API Gateway answers when the function behind a route fails. */
const API_GATEWAY_FAILURE = {
  statusCode: 500,
  headers: { 'content-type': 'application/json' },
  body: '{"message":"Internal Server Error"}',
};

function isHttpApiEvent(event: unknown): boolean {
  return typeof (event as { requestContext?: { http?: { method?: unknown } } } | null)?.requestContext?.http?.method === 'string';
}

/**
 * A function's handler, made from its dependencies when the module loads. When that
 * fails (a configuration src/config.ts refuses, say), the reason is logged once, then
 * every invocation fails as it would if Lambda could not start the function: an HTTP
 * request is answered as API Gateway answers it, 500 {"message":"Internal Server Error"}
 * (no detail, no stack), any other event fails, so its event source retries it.
 * `serverless offline` would otherwise answer every request 200 with the error and a
 * stack trace of local paths.
 */
export function startFunction<H extends (event: never, context: Context) => Promise<unknown>>(make: (deps: HandlerDeps) => H): H {
  try {
    return make(defaultDeps());
  } catch (error) {
    const reason = errorMessage(error);
    // Its own configuration is what failed: the defaults, as JSON.
    const logger = createLogger({ service: { name: 'simple-time-service', stage: 'unknown', logLevel: 'ERROR', logFormat: 'json' } });
    logger.error('the function could not start; every invocation fails until this is fixed', { error: reason });
    const failed = (event: unknown): Promise<unknown> =>
      isHttpApiEvent(event)
        ? Promise.resolve({ ...API_GATEWAY_FAILURE })
        : Promise.reject(new FunctionStartError(`the function could not start: ${reason}`));
    // A stand-in with the handler's call signature (event, context) => Promise: its
    // answers are API Gateway's or a rejection, never the handler's own result type.
    return failed as unknown as H;
  }
}
