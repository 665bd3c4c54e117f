export { createMetricsJob } from './metrics-job';
export type { ScheduledRunReport } from './metrics-job';
