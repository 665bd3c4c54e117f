/**
 * One Kafka client and one producer per container (per Lambda execution environment),
 * created on first use (the handlers do so at module load) and reused by every
 * invocation after it. The producer starts connecting when it is created.
 */
import type { Kafka } from 'kafkajs';
import type { Config } from '../config';
import type { Logger } from '../logger';
import { explainConnectionFailure, resolveKafka } from './client';
import { createContainerProducer } from './producer';
import type { ContainerProducer, SendObserver } from './producer';

let kafkaClient: Promise<Kafka> | undefined;
let producer: ContainerProducer | undefined;

/** The container's kafkajs client; MSK bootstrap brokers and the SASL password's secret are read once. */
export function containerKafka(params: { config: Config; logger?: Logger }): Promise<Kafka> {
  kafkaClient ??= resolveKafka({ kafka: params.config.kafka, ...(params.logger ? { logger: params.logger } : {}) }).catch(
    (error: unknown) => {
      // A failed MSK lookup or secret read is retried by the next invocation, not cached.
      kafkaClient = undefined;
      throw error;
    },
  );
  return kafkaClient;
}

export function containerProducer(params: { config: Config; logger?: Logger; onSend?: SendObserver }): ContainerProducer {
  const { config, logger, onSend } = params;
  const options: Parameters<typeof createContainerProducer>[0] = {
    kafka: () => containerKafka({ config, ...(logger ? { logger } : {}) }),
    sendTimeoutMs: config.kafka.sendTimeoutMs,
    connectTimeoutMs: config.kafka.connectTimeoutMs,
    explain: (error) => explainConnectionFailure(error, config.kafka),
  };
  if (logger) options.logger = logger;
  if (onSend) options.onSend = onSend;
  if (!producer) {
    producer = createContainerProducer(options);
    // The connection starts now, when the handler module is loaded (Lambda's init phase),
    // with its own budget; the first invocation finds it ready or on its way.
    void producer.connect();
  }
  return producer;
}
