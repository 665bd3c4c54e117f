export { handleTopicsRequest } from './topics-resource';
export type { CustomResourceRequest, CustomResourceResponse, TopicsResult } from './topics-resource';
