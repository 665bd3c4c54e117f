/** The onError function: error events from the events topic (src/consumers). */
import { createConsumerHandler } from './factories/consumer';
import { startFunction } from './factories/deps';

export const handler = startFunction((deps) => createConsumerHandler('onError', deps));
