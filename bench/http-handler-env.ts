/**
 * The environment for bench/http-handler.ts, set in a module of its own because the
 * handler reads its configuration when it is loaded: this import must come first.
 */
const suffix = Date.now().toString(36);
process.env.KAFKA_BROKERS ??= '127.0.0.1:9092';
process.env.KAFKA_TOPIC_REQUESTS = `bench-requests-${suffix}`;
process.env.KAFKA_TOPIC_EVENTS = `bench-events-${suffix}`;
process.env.LOG_LEVEL = 'ERROR';
