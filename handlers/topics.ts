/**
 * The topics function: invoked by CloudFormation only, for the `ServiceTopics` custom
 * resource of serverless.yml, on every deploy that changes it. Creates the service's
 * topics that do not exist yet (src/kafka/topics.ts, idempotent), from inside the VPC with
 * its own role (CreateTopic and DescribeTopic on the four topics), and answers
 * CloudFormation in every case (src/provisioning/topics-resource.ts).
 */
import type { Context } from 'aws-lambda';
import { getConfig } from '../src/config';
import { createKafka, ensureTopics, resolveBrokers, serviceTopics } from '../src/kafka';
import { createLogger } from '../src/logger';
import { handleTopicsRequest } from '../src/provisioning';
import type { CustomResourceRequest, CustomResourceResponse, TopicsResult } from '../src/provisioning';

/** Left for answering CloudFormation after the work's budget. */
const ANSWER_MARGIN_MS = 5_000;

export async function handler(request: CustomResourceRequest, context: Context): Promise<CustomResourceResponse> {
  const config = getConfig();
  const logger = createLogger(config);
  const ensure = async (): Promise<TopicsResult> => {
    const brokers = await resolveBrokers(config.kafka);
    const admin = createKafka({ kafka: config.kafka, brokers, logger, clientId: `${config.service.name}-topics` }).admin();
    await admin.connect();
    try {
      return await ensureTopics({
        admin,
        topics: serviceTopics(config.kafka.topics),
        partitions: config.kafka.topicPartitions,
        replicationFactor: config.kafka.topicReplicationFactor,
      });
    } finally {
      await admin.disconnect();
    }
  };
  return handleTopicsRequest({
    request,
    physicalResourceId: `${config.service.name}-${config.service.stage}-topics`,
    ensure,
    budgetMs: context.getRemainingTimeInMillis() - ANSWER_MARGIN_MS,
    log: (message, extra) => logger.info(message, extra),
  });
}
