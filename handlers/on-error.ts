/**
 * The onError function: error events from the events topic, handled by src/consumers. It
 * publishes no error event of its own when it fails (it would consume it).
 */
import { consumerFunction, createEventConsumer } from '../src/consumers';
import { kafkaConsumerHandler } from './kafka-consumer';

export const handler = kafkaConsumerHandler({
  functionName: 'onError',
  publishErrorEvents: false,
  build: (deps) => createEventConsumer({ ...deps, fn: consumerFunction('onError') }),
});
