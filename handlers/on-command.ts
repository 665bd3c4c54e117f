/** The onCommand function: commands (our envelope or the second guide's shape) answered on the events topic by src/commands. */
import { createCommandConsumer } from '../src/commands';
import { kafkaConsumerHandler } from './kafka-consumer';

export const handler = kafkaConsumerHandler({
  functionName: 'onCommand',
  publishErrorEvents: true,
  build: (deps) => createCommandConsumer({ ...deps, name: 'onCommand' }),
});
