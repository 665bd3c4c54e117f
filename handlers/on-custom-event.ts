/** The onCustomEvent function: Kafka records from its topic (src/consumers/functions.ts), handled by src/consumers. */
import { consumerFunction, createEventConsumer } from '../src/consumers';
import { kafkaConsumerHandler } from './kafka-consumer';

export const handler = kafkaConsumerHandler({
  functionName: 'onCustomEvent',
  publishErrorEvents: true,
  build: (deps) => createEventConsumer({ ...deps, fn: consumerFunction('onCustomEvent') }),
});
