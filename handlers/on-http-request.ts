/** The onHttpRequest function: http_request events from the requests topic (src/consumers). */
import { createConsumerHandler } from './factories/consumer';
import { defaultDeps } from './factories/deps';

export const handler = createConsumerHandler('onHttpRequest', defaultDeps());
