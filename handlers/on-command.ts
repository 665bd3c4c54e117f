/** The onCommand function: commands, answered on the events topic (src/commands). */
import { createConsumerHandler } from './factories/consumer';
import { startFunction } from './factories/deps';

export const handler = startFunction((deps) => createConsumerHandler('onCommand', deps));
