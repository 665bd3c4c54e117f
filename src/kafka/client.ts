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
import { ConfigError, errorMessage } from '../errors';
import type { Logger } from '../logger';
import { createSecretSource } from '../secrets';
import type { ReadSecret } from '../secrets';
import { resolveBrokers } from './brokers';
import type { GetBootstrapBrokers } from './brokers';
import { registerBoundedGzip } from './gzip';

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
    throw new ConfigError([`${variable}=${file}: cannot be read (${errorMessage(error)})`]);
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
  if (keyFile !== undefined)
    options.key = pemFile('KAFKA_SSL_KEY_FILE', keyFile, /-----BEGIN [A-Z ]*PRIVATE KEY-----/, 'private key', read);
  return Object.keys(options).length > 0 ? options : true;
}

/** An error and the errors it wraps (kafkajs: `cause`, `originalError`), outermost first. */
function errorChain(error: unknown): Array<Error & { code?: unknown; name: string }> {
  const chain: Array<Error & { code?: unknown }> = [];
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 6; depth++) {
    chain.push(current);
    const e = current as Error & { cause?: unknown; originalError?: unknown };
    current = e.cause ?? e.originalError;
  }
  return chain;
}

/** Node's codes for a broker certificate this client cannot trust. */
const UNTRUSTED_CERTIFICATE = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
]);
const EXPIRED_CERTIFICATE = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);
/** The TLS alerts a broker sends when it does not accept the client's certificate (or its absence). */
const CLIENT_CERTIFICATE_ALERT =
  /(?:sslv3|tlsv1|tlsv13) alert (bad certificate|certificate required|unknown ca|certificate unknown|unsupported certificate)/i;

/**
 * Why a connection was refused, in words that name the cause and what to change, when it
 * was refused for its credentials or certificates: a failure that trying again soon will
 * not heal. Undefined for anything else (a broker down or restarting, a timeout).
 */
export function explainConnectionFailure(
  error: unknown,
  kafka: Pick<KafkaSettings, 'auth' | 'sasl' | 'tls'> & Partial<Pick<KafkaSettings, 'saslSecret'>>,
): string | undefined {
  for (const e of errorChain(error)) {
    const code = typeof e.code === 'string' ? e.code : '';
    const detail = e.message.replace(/^Connection error: /, '');
    if (e.name === 'KafkaJSSASLAuthenticationError' || /^SASL .* authentication failed/i.test(e.message)) {
      const reason = detail.replace(/^SASL [^:]*authentication failed: /i, '');
      if (kafka.auth === 'scram') {
        const password = kafka.saslSecret
          ? `the password in the secret of KAFKA_SASL_PASSWORD_SECRET_ARN=${kafka.saslSecret.passwordSecretArn}`
          : 'KAFKA_SASL_PASSWORD';
        return `Kafka refused the SCRAM-SHA-512 login of user "${kafka.sasl?.username ?? kafka.saslSecret?.username ?? ''}" (${reason}): check KAFKA_SASL_USERNAME and ${password}`;
      }
      if (kafka.auth === 'iam') {
        return `Kafka refused the IAM login (${reason}): check that the function's role may kafka-cluster:Connect to the cluster, and AWS_REGION`;
      }
      return `Kafka refused the login (${reason})`;
    }
    if (UNTRUSTED_CERTIFICATE.has(code)) {
      const fix = kafka.tls.caFile
        ? `it is not signed by the CA in KAFKA_SSL_CA_FILE=${kafka.tls.caFile}`
        : 'set KAFKA_SSL_CA_FILE to the CA that signed it';
      return `the broker's TLS certificate is not trusted (${detail}): ${fix}`;
    }
    if (EXPIRED_CERTIFICATE.has(code)) return `the broker's TLS certificate has expired or is not valid yet (${detail})`;
    if (code === 'ERR_TLS_CERT_ALTNAME_INVALID')
      return `the broker's TLS certificate does not name the address it was reached at (${detail})`;
    const alert = CLIENT_CERTIFICATE_ALERT.exec(e.message);
    if (alert) {
      const what = alert[0];
      return kafka.tls.certFile
        ? `the broker refused the client certificate (${what}): check KAFKA_SSL_CERT_FILE=${kafka.tls.certFile} and KAFKA_SSL_KEY_FILE, and that the broker trusts its CA`
        : `the broker refused the TLS handshake for want of a client certificate (${what}): set KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE`;
    }
  }
  return undefined;
}

/** kafkajs' log lines about refused credentials or certificates: the caller explains those once (explainConnectionFailure). */
const REFUSED_CONNECTION =
  /SASL .*authentication failed|Authentication failed|invalid credentials|certificate|alert (?:bad|unknown|handshake)/i;

// The producer bounds its retries on purpose (see producer/instance.ts); kafkajs warns about that
// on every producer it creates, which says nothing new, so it is logged at debug.
const EXPECTED_WARNINGS = new Set(['Limiting retries for the idempotent producer may invalidate EoS guarantees']);

/**
 * Errors kafkajs retries by itself and that heal without anyone acting: a broker restarting
 * or not up yet, a group coordinator or transaction coordinator loading, a leader election.
 * kafkajs logs each retry at ERROR (and a consumer crash with its stack); read as failures,
 * they bury the ones that matter, so they are logged once per cause at WARN.
 */
const RETRIABLE_CAUSES: ReadonlyArray<[cause: string, pattern: RegExp]> = [
  [
    'connection refused or lost',
    /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|Connection (?:error|timeout)|Closed connection|connection (?:is )?closed|Failed to connect|not connected/i,
  ],
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
      const {
        message: given,
        timestamp: _timestamp,
        logger: _name,
        stack: _stack,
        ...extra
      } = log as LogEntry['log'] & { stack?: unknown };
      // kafkajs sometimes logs an Error object as the message; only its text is kept.
      const raw: unknown = given;
      const message = typeof raw === 'string' ? raw : errorMessage(raw);
      const line = { kafkajs: namespace, ...extra };
      if (level === KafkaLogLevel.ERROR || level === KafkaLogLevel.WARN) {
        const error = typeof extra.error === 'string' ? extra.error : '';
        if (REFUSED_CONNECTION.test(`${message} ${error}`)) {
          // Three lines a connection attempt, every attempt: the producer's one error says it.
          logger.debug(message, { ...line, refused: true });
          return;
        }
        if (level === KafkaLogLevel.WARN && EXPECTED_WARNINGS.has(message)) {
          logger.debug(message, line);
          return;
        }
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

/**
 * The SCRAM password out of its secret's string: MSK's SCRAM secrets hold
 * `{"username": "...", "password": "..."}` (docs.aws.amazon.com/msk/latest/developerguide/msk-password-tutorial.html);
 * any other string is the password itself. A secret for another user is refused.
 */
export function scramPasswordSecret(username: string): (secretString: string) => string {
  return (secretString) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(secretString);
    } catch {
      parsed = undefined;
    }
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
      const { username: user, password } = parsed as { username?: unknown; password?: unknown };
      if (typeof password !== 'string' || password === '') throw new Error('holds a JSON object without a "password" string');
      if (user !== undefined && user !== username) throw new Error(`is for another user than KAFKA_SASL_USERNAME=${username}`);
      return password;
    }
    if (secretString === '') throw new Error('is empty');
    return secretString;
  };
}

/**
 * The settings with the SCRAM password read from its secret (KAFKA_SASL_PASSWORD_SECRET_ARN)
 * when there is one; as given otherwise. Read once per client: a client made after a
 * rotation uses the new password.
 */
export async function withSaslPassword(kafka: KafkaSettings, readSecret?: ReadSecret): Promise<KafkaSettings> {
  if (kafka.saslSecret === undefined) return kafka;
  const { username, passwordSecretArn } = kafka.saslSecret;
  const password = await createSecretSource({
    what: 'the Kafka SASL password',
    plain: undefined,
    secretArn: passwordSecretArn,
    region: kafka.region,
    decode: scramPasswordSecret(username),
    ...(readSecret ? { readSecret } : {}),
  }).get();
  // A secret source with an ARN either yields a value or throws.
  return { ...kafka, sasl: { username, password: password! } };
}

/** A client for the configured cluster: its brokers found (MSK) and its SASL password read first, both bounded. */
export async function resolveKafka(params: {
  kafka: KafkaSettings;
  logger?: Logger;
  clientId?: string;
  getBootstrapBrokers?: GetBootstrapBrokers;
  readSecret?: ReadSecret;
}): Promise<Kafka> {
  const { logger, clientId } = params;
  const [brokers, kafka] = await Promise.all([
    resolveBrokers(params.kafka, ...(params.getBootstrapBrokers ? [params.getBootstrapBrokers] : [])),
    withSaslPassword(params.kafka, params.readSecret),
  ]);
  return createKafka({ kafka, brokers, ...(logger ? { logger } : {}), ...(clientId ? { clientId } : {}) });
}

export function createKafka(params: { kafka: KafkaSettings; brokers: string[]; logger?: Logger; clientId?: string }): Kafka {
  const { kafka, brokers, logger } = params;
  if (kafka.auth === 'scram' && kafka.sasl === undefined && kafka.saslSecret !== undefined) {
    throw new ConfigError(['KAFKA_SASL_PASSWORD_SECRET_ARN: the password is read from its secret before a client is made (resolveKafka)']);
  }
  registerBoundedGzip();
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
