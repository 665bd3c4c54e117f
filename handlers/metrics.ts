/** The metrics function: consumer-group lag and the fleet's metrics (src/use-cases/metrics-job.ts). */
import { startFunction } from './factories/deps';
import { createMetricsHandler } from './factories/metrics';

export const handler = startFunction((deps) => createMetricsHandler(deps));
