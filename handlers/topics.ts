/** The topics function: the service's topics, for CloudFormation (handlers/factories/topics.ts). */
import { startFunction } from './factories/deps';
import { createTopicsHandler } from './factories/topics';

export const handler = startFunction((deps) => createTopicsHandler(deps));
