export { createMetricsJob } from './metrics-job';
export type { MetricsJobDeps, ScheduledRunReport, TextAnswer } from './metrics-job';
