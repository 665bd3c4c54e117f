export { createKafka, saslOptions } from './client';
export type { KafkaSettings } from './client';
export { resolveBrokers, getBootstrapBrokersFromAws } from './brokers';
export type { BootstrapBrokers, GetBootstrapBrokers } from './brokers';
export { ensureTopics, serviceTopics } from './topics';
export type { EnsureTopicsResult } from './topics';
