/**
 * The kafkajs client: brokers, TLS/SASL (SCRAM or MSK IAM through OAUTHBEARER), bounded
 * connection timeouts, and kafkajs' own log lines routed into our structured logger.
 */
import { Kafka, logLevel as KafkaLogLevel } from 'kafkajs';
import type { KafkaConfig, LogEntry, SASLOptions } from 'kafkajs';
import type { Config } from '../config';
import type { Logger } from '../logger';

export type KafkaSettings = Config['kafka'];

/** An MSK IAM token, from aws-msk-iam-sasl-signer-js (loaded only when KAFKA_AUTH=iam). */
async function mskIamToken(region: string): Promise<{ value: string }> {
  const { generateAuthToken } = await import('aws-msk-iam-sasl-signer-js');
  const { token } = await generateAuthToken({ region });
  return { value: token };
}

export function saslOptions(kafka: Pick<KafkaSettings, 'auth' | 'sasl' | 'region'>): SASLOptions | undefined {
  switch (kafka.auth) {
    case 'scram':
      if (!kafka.sasl) return undefined;
      return { mechanism: 'scram-sha-512', username: kafka.sasl.username, password: kafka.sasl.password };
    case 'iam':
      return { mechanism: 'oauthbearer', oauthBearerProvider: () => mskIamToken(kafka.region) };
    default:
      return undefined;
  }
}

// The producer bounds its retries on purpose (see producer.ts); kafkajs warns about that
// on every producer it creates, which says nothing new, so it is logged at debug.
const EXPECTED_WARNINGS = new Set(['Limiting retries for the idempotent producer may invalidate EoS guarantees']);

function logCreator(logger: Logger | undefined) {
  return () =>
    ({ namespace, level, log }: LogEntry) => {
      if (!logger) return;
      // kafkajs' own timestamp and logger name would clash with the structured logger's keys.
      const { message, timestamp: _timestamp, logger: _name, ...extra } = log;
      const line = { kafkajs: namespace, ...extra };
      if (level === KafkaLogLevel.ERROR) logger.error(message, line);
      else if (level === KafkaLogLevel.WARN && !EXPECTED_WARNINGS.has(message)) logger.warn(message, line);
      else logger.debug(message, line);
    };
}

export function createKafka(params: {
  kafka: KafkaSettings;
  brokers: string[];
  logger?: Logger;
  clientId?: string;
}): Kafka {
  const { kafka, brokers, logger } = params;
  const sasl = saslOptions(kafka);
  const config: KafkaConfig = {
    clientId: params.clientId ?? kafka.clientId,
    brokers,
    ssl: kafka.auth !== 'none',
    connectionTimeout: kafka.connectTimeoutMs,
    authenticationTimeout: kafka.connectTimeoutMs,
    requestTimeout: Math.max(kafka.sendTimeoutMs, 1000),
    logLevel: KafkaLogLevel.WARN,
    logCreator: logCreator(logger),
    retry: { initialRetryTime: 100, maxRetryTime: 1000, retries: 3 },
  };
  if (sasl) config.sasl = sasl;
  return new Kafka(config);
}
