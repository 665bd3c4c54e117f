/**
 * The Kafka-triggered functions, one factory driven by the consumer table
 * (src/consumers/functions.ts): each row names the consumer it runs and whether it
 * publishes error events. Decode the MSK (or self-managed Kafka) event, process its
 * records, answer the partial batch response (`batchItemFailures`, AWS's format for Kafka
 * event sources; src/kafka/msk-event.ts).
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { Context, MSKEvent, SelfManagedKafkaEvent } from 'aws-lambda';
import { createCommandConsumer } from '../../src/commands';
import { BatchRedeliveryError, consumerFunction, createEventConsumer, createProcessedIds } from '../../src/consumers';
import type { Consumer, ConsumerDeps, ConsumerFunction, ConsumerName } from '../../src/consumers';
import { decodeKafkaEvent, kafkaBatchResponse } from '../../src/kafka';
import { startConsumerCountersAtZero } from '../../src/metrics';
import type { KafkaBatchResponse, RecordPublisher } from '../../src/kafka';
import { errorEvents } from '../middleware/error-events';
import { pushMetrics } from '../middleware/push-metrics';
import type { HandlerDeps } from './deps';

export type KafkaLambdaEvent = MSKEvent | SelfManagedKafkaEvent;

/**
 * What the function keeps of its time for after the batch: the metrics push
 * (PUSHGATEWAY_TIMEOUT_MS, 300 ms at most) and the batch response. The batch's waits for Kafka end
 * this long before the function's timeout, so it answers with what is done.
 */
export const RESPONSE_MARGIN_MS = 500;

export type ConsumerHandlerDeps = Pick<HandlerDeps, 'config' | 'logger' | 'metrics' | 'pusher'> & { producer: () => RecordPublisher };

export interface ConsumerHandlerOptions {
  /** The consumer the function runs; the table's own by default (tests plant others). */
  build?: (deps: ConsumerDeps & { config: HandlerDeps['config'] }) => Consumer;
  /**
   * The event source mapping has FunctionResponseTypes [ReportBatchItemFailures] (our
   * serverless.yml sets it). Without it Lambda ignores `batchItemFailures` and commits the
   * whole batch, so failed records fail the invocation instead (the whole batch is
   * delivered again; processed ids keep effects from repeating).
   */
  reportBatchItemFailures?: boolean;
}

/** The consumer a row's handler names: commands are answered by src/commands, events by src/consumers. */
export function tableConsumer(fn: ConsumerFunction) {
  return (deps: ConsumerDeps & { config: HandlerDeps['config'] }): Consumer => {
    switch (fn.handler.kind) {
      case 'commands':
        return createCommandConsumer({ ...deps, name: fn.name });
      case 'events':
        return createEventConsumer({ ...deps, fn });
    }
  };
}

export function createConsumerHandler(name: ConsumerName, deps: ConsumerHandlerDeps, options: ConsumerHandlerOptions = {}) {
  const fn = consumerFunction(name);
  const { config, logger, metrics } = deps;
  // Persistent: injectLambdaContext's resetKeys clears appended keys after each invocation.
  logger.appendPersistentKeys({ consumer: name });
  const build = options.build ?? tableConsumer(fn);
  const consumer = build({ config, publisher: deps.producer(), logger, metrics, processed: createProcessedIds() });
  const reportBatchItemFailures = options.reportBatchItemFailures ?? true;
  startConsumerCountersAtZero(metrics, {
    topic: config.kafka.topics[fn.topic],
    eventTypes: 'only' in fn.eventTypes ? fn.eventTypes.only : undefined,
  });

  async function consumeKafkaEvent(event: KafkaLambdaEvent, context: Context): Promise<KafkaBatchResponse> {
    const { records } = decodeKafkaEvent(event);
    const result = await consumer.processRecords(records, {
      remainingTimeMs: () => context.getRemainingTimeInMillis() - RESPONSE_MARGIN_MS,
    });
    if (result.failed.length > 0 && !reportBatchItemFailures) {
      const partitions = new Set(result.failed.map((r) => `${r.topic}-${r.partition}`)).size;
      throw new BatchRedeliveryError(`${partitions} partition(s) failed; the batch will be delivered again`);
    }
    return kafkaBatchResponse(result.failed);
  }

  const handler = middy<KafkaLambdaEvent, KafkaBatchResponse, Error, Context>()
    .use(pushMetrics({ metrics, pusher: deps.pusher, logger }))
    .use(injectLambdaContext(logger, { resetKeys: true }));
  // Off for the function that consumes error events: it would feed on its own failures.
  if (fn.errorEvents) {
    handler.use(
      errorEvents<KafkaLambdaEvent, KafkaBatchResponse>({
        publisher: deps.producer,
        topic: config.kafka.topics.events,
        service: config.service.name,
        source: `${config.service.name}/${name}`,
        logger,
        http: false,
      }),
    );
  }
  return handler.handler(consumeKafkaEvent);
}
