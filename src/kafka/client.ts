/**
 * The kafkajs client: brokers, TLS (public roots or a CA of our own, client certificates),
 * SASL (SCRAM or MSK IAM through OAUTHBEARER), bounded
 * connection timeouts, and kafkajs' own log lines routed into our structured logger.
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { Kafka, logLevel as KafkaLogLevel } from 'kafkajs';
import type { KafkaConfig, LogEntry, SASLOptions } from 'kafkajs';
import type { Config } from '../config';
import { ConfigError } from '../errors';
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

/** A PEM file named by a variable, with what it must hold; a clear error naming the variable otherwise. */
function pemFile(variable: string, file: string, holds: RegExp, what: string, read: (file: string) => string): string {
  let text: string;
  try {
    text = read(file);
  } catch (error) {
    throw new ConfigError([`${variable}=${file}: cannot be read (${error instanceof Error ? error.message : String(error)})`]);
  }
  if (!holds.test(text)) throw new ConfigError([`${variable}=${file}: holds no ${what} in PEM form`]);
  return text;
}

/**
 * TLS for kafkajs: none with KAFKA_AUTH=none; otherwise the brokers' certificates are
 * checked against Node's public roots (right for MSK), or against the CA of
 * KAFKA_SSL_CA_FILE instead (a local or private CA); with KAFKA_SSL_CERT_FILE and
 * KAFKA_SSL_KEY_FILE the client presents that certificate (mutual TLS).
 */
export function tlsOptions(
  kafka: Pick<KafkaSettings, 'auth' | 'tls'>,
  read: (file: string) => string = (file) => readFileSync(file, 'utf8'),
): boolean | ConnectionOptions {
  if (kafka.auth === 'none') return false;
  const { caFile, certFile, keyFile } = kafka.tls;
  const options: ConnectionOptions = {};
  if (caFile !== undefined) options.ca = pemFile('KAFKA_SSL_CA_FILE', caFile, /-----BEGIN CERTIFICATE-----/, 'certificate', read);
  if (certFile !== undefined) options.cert = pemFile('KAFKA_SSL_CERT_FILE', certFile, /-----BEGIN CERTIFICATE-----/, 'certificate', read);
  if (keyFile !== undefined) options.key = pemFile('KAFKA_SSL_KEY_FILE', keyFile, /-----BEGIN [A-Z ]*PRIVATE KEY-----/, 'private key', read);
  return Object.keys(options).length > 0 ? options : true;
}

// The producer bounds its retries on purpose (see producer.ts); kafkajs warns about that
// on every producer it creates, which says nothing new, so it is logged at debug.
const EXPECTED_WARNINGS = new Set(['Limiting retries for the idempotent producer may invalidate EoS guarantees']);

/**
 * Errors kafkajs retries by itself and that heal without anyone acting: a broker restarting
 * or not up yet, a group coordinator or transaction coordinator loading, a leader election.
 * kafkajs logs each retry at ERROR (and a consumer crash with its stack); read as failures,
 * they bury the ones that matter, so they are logged once per cause at WARN.
 */
const RETRIABLE_CAUSES: ReadonlyArray<[cause: string, pattern: RegExp]> = [
  ['connection refused or lost', /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|Connection (?:error|timeout)|Closed connection|connection (?:is )?closed|Failed to connect|not connected/i],
  ['coordinator loading', /coordinator is loading/i],
  ['coordinator not available', /coordinator is not available|not the correct coordinator|GroupCoordinatorNotFound/i],
  ['leader not available', /no leader for this topic-partition|leader not available|not the leader|leadership election/i],
  ['rebalancing', /group is rebalancing|re-joining the group/i],
  ['request timed out', /Request .* timed out|request timed out/i],
  ['topic-partition not known yet', /does not host this topic-partition/i],
  ['consumer restarting', /^Restarting the consumer in/i],
];

/** Repeats of one cause within this window go to debug. */
const CAUSE_WINDOW_MS = 60_000;
/** Causes are a short fixed list, but the map is bounded anyway. */
const MAX_CAUSES = 100;

function retriableCause(namespace: string, text: string): string | undefined {
  const found = RETRIABLE_CAUSES.find(([, pattern]) => pattern.test(text));
  return found ? `${namespace}:${found[0]}` : undefined;
}

/**
 * Routes kafkajs' log lines into the structured logger: never with a stack (kafkajs puts
 * one in `stack` for connection errors and consumer crashes), retriable errors once per
 * cause and minute at WARN (repeats at debug), other errors at ERROR.
 */
function logCreator(logger: Logger | undefined) {
  const lastLogged = new Map<string, number>();
  return () =>
    ({ namespace, level, log }: LogEntry) => {
      if (!logger) return;
      // kafkajs' own timestamp and logger name would clash with the structured logger's keys.
      const { message: given, timestamp: _timestamp, logger: _name, stack: _stack, ...extra } = log as LogEntry['log'] & { stack?: unknown };
      // kafkajs sometimes logs an Error object as the message; only its text is kept.
      const raw: unknown = given;
      const message = typeof raw === 'string' ? raw : raw instanceof Error ? raw.message : String(raw);
      const line = { kafkajs: namespace, ...extra };
      if (level === KafkaLogLevel.ERROR || level === KafkaLogLevel.WARN) {
        if (level === KafkaLogLevel.WARN && EXPECTED_WARNINGS.has(message)) {
          logger.debug(message, line);
          return;
        }
        const error = typeof extra.error === 'string' ? extra.error : '';
        const cause = retriableCause(namespace, `${message} ${error}`);
        if (cause === undefined) {
          if (level === KafkaLogLevel.ERROR) logger.error(message, line);
          else logger.warn(message, line);
          return;
        }
        const at = Date.now();
        const last = lastLogged.get(cause);
        if (last !== undefined && at - last < CAUSE_WINDOW_MS) {
          logger.debug(message, { ...line, retriable: true });
          return;
        }
        if (lastLogged.size >= MAX_CAUSES) lastLogged.clear();
        lastLogged.set(cause, at);
        logger.warn(message, { ...line, retriable: true, repeats_logged_at: 'debug' });
        return;
      }
      logger.debug(message, line);
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
    ssl: tlsOptions(kafka),
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
