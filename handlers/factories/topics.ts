/**
 * The topics function: invoked by CloudFormation only, for serverless.yml's `ServiceTopics`
 * custom resource. Creates the service's missing topics, and grows those with fewer
 * partitions than asked for, from inside the VPC, and answers CloudFormation in every case
 * (src/provisioning/topics-resource.ts).
 */
import type { Context } from 'aws-lambda';
import { ensureServiceTopics } from '../../src/kafka';
import { handleTopicsRequest } from '../../src/provisioning';
import type { CustomResourceRequest, CustomResourceResponse, SendResponse } from '../../src/provisioning';
import type { HandlerDeps } from './deps';

export function createTopicsHandler(deps: Pick<HandlerDeps, 'config' | 'logger'>, options: { sendResponse?: SendResponse } = {}) {
  const { config, logger } = deps;
  return (request: CustomResourceRequest, context: Context): Promise<CustomResourceResponse> =>
    handleTopicsRequest({
      request,
      physicalResourceId: `${config.service.name}-${config.service.stage}-topics`,
      ensure: () => ensureServiceTopics({ config, logger, clientId: `${config.service.name}-topics` }),
      remainingMs: () => context.getRemainingTimeInMillis(),
      region: config.runtime.region,
      logger,
      ...(options.sendResponse ? { sendResponse: options.sendResponse } : {}),
    });
}
