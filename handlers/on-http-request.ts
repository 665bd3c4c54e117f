/** The onHttpRequest function: http_request events from the requests topic (src/consumers). */
import { createConsumerHandler } from './factories/consumer';
import { startFunction } from './factories/deps';

export const handler = startFunction((deps) => createConsumerHandler('onHttpRequest', deps));
