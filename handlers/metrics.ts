/** The metrics function: consumer-group lag and the fleet's metrics (src/use-cases/metrics-job.ts). */
import { defaultDeps } from './factories/deps';
import { createMetricsHandler } from './factories/metrics';

export const handler = createMetricsHandler(defaultDeps());
