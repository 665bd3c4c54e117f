/** The onHttpResponse function: http_response events from the events topic (src/consumers). */
import { createConsumerHandler } from './factories/consumer';
import { defaultDeps } from './factories/deps';

export const handler = createConsumerHandler('onHttpResponse', defaultDeps());
