export { createAdminTokenSource } from './admin-token';
export { readJsonBody } from './body';
export { buildPublishRequest } from './publish';
export { buildTimePayload, timeRequestRecord, timeResponseRecord } from './time';
export { AdminTokenUnavailableError } from './errors';
export type { AdminTokenSource } from './admin-token';
