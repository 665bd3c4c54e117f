/**
 * What every function is built from. `defaultDeps()` gives the container's own (config from
 * the environment, one metrics registry, pusher, Kafka client and producer per execution
 * environment); tests and benchmarks pass their own config, producer or clock instead.
 * The producer and the Kafka connection are made on first use, so a function that never
 * produces never connects.
 */
import type { Config } from '../../src/config';
import { getConfig } from '../../src/config';
import { sharedKafka, sharedProducer, withOffsetReader } from '../../src/kafka';
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
  /** Runs `use` with a connected offset reader of the container's Kafka client. */
  withOffsets: WithOffsets;
  /** Milliseconds since the epoch. */
  now: () => number;
}

export function defaultDeps(overrides: Partial<HandlerDeps> = {}): HandlerDeps {
  const config = overrides.config ?? getConfig();
  const logger = overrides.logger ?? createLogger(config);
  const metrics = overrides.metrics ?? containerMetrics(config);
  const pusher = overrides.pusher ?? containerPusher({ config, metrics, logger });
  let producer: ContainerProducer | undefined;
  return {
    config,
    logger,
    metrics,
    pusher,
    producer: overrides.producer ?? (() => (producer ??= sharedProducer({ config, logger, onSend: sendObserver(metrics) }))),
    withOffsets: overrides.withOffsets ?? ((use) => sharedKafka({ config, logger }).then((kafka) => withOffsetReader(kafka, use))),
    now: overrides.now ?? Date.now,
  };
}
