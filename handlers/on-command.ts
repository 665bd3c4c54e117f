/** The onCommand function: commands, answered on the events topic (src/commands). */
import { createConsumerHandler } from './factories/consumer';
import { defaultDeps } from './factories/deps';

export const handler = createConsumerHandler('onCommand', defaultDeps());
