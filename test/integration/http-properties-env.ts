/**
 * Environment for http-properties.test.ts, in a module of its own so it is set before the
 * handler (which reads its configuration when loaded) is imported.
 */
import { uniqueName } from '../helpers/names';

process.env.KAFKA_BROKERS = '127.0.0.1:9092';
process.env.KAFKA_TOPIC_REQUESTS = uniqueName('prop-requests');
process.env.KAFKA_TOPIC_EVENTS = uniqueName('prop-events');
process.env.KAFKA_TOPIC_COMMANDS = uniqueName('prop-commands');
process.env.KAFKA_TOPIC_DLQ = uniqueName('prop-dlq');
process.env.ADMIN_TOKEN = 'property-test-admin-token-0123';
process.env.LOG_LEVEL = 'SILENT';

export const propertyTopics = {
  requests: process.env.KAFKA_TOPIC_REQUESTS,
  events: process.env.KAFKA_TOPIC_EVENTS,
  commands: process.env.KAFKA_TOPIC_COMMANDS,
  dlq: process.env.KAFKA_TOPIC_DLQ,
};
export const propertyToken = process.env.ADMIN_TOKEN;
