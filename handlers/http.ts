/** The HTTP function: the time payload, health and the Kafka admin routes (handlers/factories/http.ts). */
import { defaultDeps } from './factories/deps';
import { createHttpHandler } from './factories/http';

export const handler = createHttpHandler(defaultDeps());
