/**
 * What every function is built from. `defaultDeps()` gives the container's own (config from
 * the environment, one metrics registry, pusher, Kafka client and producer per execution
 * environment); tests and benchmarks pass their own config, producer or clock instead.
 * The metrics, the producer and the Kafka connection are made on first use, so a function
 * that never produces never connects.
 */
import type { Config } from '../../src/config';
import { getConfig } from '../../src/config';
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
