/**
 * Environment for http-properties.test.ts, in a module of its own so it is set before the
 * handler (which reads its configuration when loaded) is imported.
 */
const suffix = `${Date.now().toString(36)}-${process.pid}`;
process.env.KAFKA_BROKERS = '127.0.0.1:9092';
process.env.KAFKA_TOPIC_REQUESTS = `prop-requests-${suffix}`;
process.env.KAFKA_TOPIC_EVENTS = `prop-events-${suffix}`;
process.env.KAFKA_TOPIC_COMMANDS = `prop-commands-${suffix}`;
process.env.KAFKA_TOPIC_DLQ = `prop-dlq-${suffix}`;
process.env.ADMIN_TOKEN = 'property-test-admin-token-0123';
process.env.LOG_LEVEL = 'SILENT';

export const propertyTopics = {
  requests: process.env.KAFKA_TOPIC_REQUESTS,
  events: process.env.KAFKA_TOPIC_EVENTS,
  commands: process.env.KAFKA_TOPIC_COMMANDS,
  dlq: process.env.KAFKA_TOPIC_DLQ,
};
export const propertyToken = process.env.ADMIN_TOKEN;
