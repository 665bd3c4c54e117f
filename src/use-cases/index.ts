export { createAdminAccess } from './admin-access';
export type { JsonResponse } from './response';
export { createMetricsJob } from './metrics-job';
export type { ScheduledRunReport } from './metrics-job';
export { createScrapeLag } from './scrape-lag';
export { createPublishUseCases } from './publish';
export { createStatusUseCase } from './status';
export { createTimeUseCase } from './time';
