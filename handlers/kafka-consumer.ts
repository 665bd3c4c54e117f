/**
 * What the five Kafka-triggered functions share: the container's config, logger, metrics,
 * producer and memory of processed ids (made once per execution environment), and the
 * middy chain around a consumer from src/. The handler itself stays thin: decode the MSK
 * (or self-managed Kafka) event, process its records, return the partial batch response
 * (`{ batchItemFailures: [{ itemIdentifier: { partition: "<topic>-<partition>", offset } }] }`,
 * AWS's format for Kafka event sources; see src/kafka/msk-event.ts).
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { Context, MSKEvent, SelfManagedKafkaEvent } from 'aws-lambda';
import type { Config } from '../src/config';
import { getConfig } from '../src/config';
import type { Consumer, ConsumerDeps } from '../src/consumers';
import { createProcessedIds } from '../src/consumers';
import { BatchRedeliveryError } from '../src/consumers';
import { decodeKafkaEvent, kafkaBatchResponse, sharedProducer } from '../src/kafka';
import type { KafkaBatchResponse, RecordPublisher } from '../src/kafka';
import { createLogger } from '../src/logger';
import { containerMetrics, containerPusher, sendObserver } from '../src/metrics';
import type { ServiceMetrics } from '../src/metrics';
import { errorEvents } from './middleware/error-events';
import { pushMetrics } from './middleware/push-metrics';

export type KafkaLambdaEvent = MSKEvent | SelfManagedKafkaEvent;

export interface KafkaConsumerHandlerOptions {
  /** The function's name in the consumer table (src/consumers/functions.ts). */
  functionName: string;
  build: (deps: ConsumerDeps & { config: Config }) => Consumer;
  /**
   * Publish an `error` event when the invocation fails unexpectedly. Off for onError
   * itself: its own failure would feed it the events it fails on.
   */
  publishErrorEvents: boolean;
  /**
   * The event source mapping has FunctionResponseTypes [ReportBatchItemFailures] (our
   * serverless.yml sets it). Without it Lambda ignores `batchItemFailures` and commits the
   * whole batch, so failed records are signalled by failing the invocation instead (the
   * whole batch is delivered again; processed ids keep effects from repeating).
   */
  reportBatchItemFailures?: boolean;
  /** Injected by tests (a Config from loadConfig); the container's getConfig() otherwise. */
  config?: Config;
  /** Injected by tests; the container's shared producer otherwise. */
  publisher?: RecordPublisher;
  metrics?: ServiceMetrics;
}

export function kafkaConsumerHandler(options: KafkaConsumerHandlerOptions) {
  const config = options.config ?? getConfig();
  const logger = createLogger(config);
  // Persistent: injectLambdaContext's resetKeys clears appended keys after each invocation.
  logger.appendPersistentKeys({ consumer: options.functionName });
  const metrics = options.metrics ?? containerMetrics(config);
  const producer = options.publisher ?? sharedProducer({ config, logger, onSend: sendObserver(metrics) });
  const consumer = options.build({ config, publisher: producer, logger, metrics, processed: createProcessedIds() });
  const reportBatchItemFailures = options.reportBatchItemFailures ?? true;

  async function consumeKafkaEvent(event: KafkaLambdaEvent): Promise<KafkaBatchResponse> {
    const { records } = decodeKafkaEvent(event);
    const result = await consumer.processRecords(records);
    if (result.failed.length > 0 && !reportBatchItemFailures) {
      const partitions = new Set(result.failed.map((r) => `${r.topic}-${r.partition}`)).size;
      throw new BatchRedeliveryError(`${partitions} partition(s) failed; the batch will be delivered again`);
    }
    return kafkaBatchResponse(result.failed);
  }

  const handler = middy<KafkaLambdaEvent, KafkaBatchResponse, Error, Context>()
    .use(pushMetrics({ metrics, pusher: containerPusher({ config, metrics, logger }), logger }))
    .use(injectLambdaContext(logger, { resetKeys: true }));
  if (options.publishErrorEvents) {
    handler.use(
      errorEvents<KafkaLambdaEvent, KafkaBatchResponse>({
        publisher: () => producer,
        topic: config.kafka.topics.events,
        service: config.service.name,
        source: `${config.service.name}/${options.functionName}`,
        logger,
        http: false,
      }),
    );
  }
  return handler.handler(consumeKafkaEvent);
}
