export { createCommandConsumer } from './consumer';
