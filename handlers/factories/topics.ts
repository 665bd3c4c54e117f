/**
 * The topics function: invoked by CloudFormation only, for serverless.yml's `ServiceTopics`
 * custom resource. Creates the service's missing topics from inside the VPC and answers
 * CloudFormation in every case (src/provisioning/topics-resource.ts).
 */
import type { Context } from 'aws-lambda';
import { ensureServiceTopics } from '../../src/kafka';
import { handleTopicsRequest } from '../../src/provisioning';
import type { CustomResourceRequest, CustomResourceResponse } from '../../src/provisioning';
import type { HandlerDeps } from './deps';

/** Left for answering CloudFormation after the work's budget. */
const ANSWER_MARGIN_MS = 5_000;

export function createTopicsHandler(deps: Pick<HandlerDeps, 'config' | 'logger'>) {
  const { config, logger } = deps;
  return (request: CustomResourceRequest, context: Context): Promise<CustomResourceResponse> =>
    handleTopicsRequest({
      request,
      physicalResourceId: `${config.service.name}-${config.service.stage}-topics`,
      ensure: () => ensureServiceTopics({ config, logger, clientId: `${config.service.name}-topics` }),
      budgetMs: context.getRemainingTimeInMillis() - ANSWER_MARGIN_MS,
      log: (message, extra) => logger.info(message, extra),
    });
}
