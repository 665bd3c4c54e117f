export { createCommandConsumer } from './command-consumer';
