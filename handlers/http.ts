/** The HTTP function: the time payload, health and the Kafka admin routes (handlers/factories/http.ts). */
import { startFunction } from './factories/deps';
import { createHttpHandler } from './factories/http';

export const handler = startFunction((deps) => createHttpHandler(deps));
