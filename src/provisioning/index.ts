export { handleTopicsRequest } from './topics-resource';
export type { CustomResourceRequest, CustomResourceResponse } from './topics-resource';
export type { SendResponse } from './cloudformation-response';
