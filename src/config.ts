/**
 * The only reader of process.env. Reads once, validates, and names every missing or
 * bad variable in one error. Defaults are the original service's (docs/compatibility.md).
 */
import * as z from './zod';
import { ADMIN_TOKEN_PATTERN, BEARER_TOKEN_MIN_LENGTH, METRICS_TOKEN_PATTERN } from './bearer';
import { ConfigError } from './errors';

const int = (max = Number.MAX_SAFE_INTEGER, min = 1) => z.coerce.number().check(z.int(), z.gte(min), z.lte(max));
const withDefault = <T extends z.ZodMiniType>(schema: T, fallback: z.output<T>) => z._default(schema, fallback as never);
const positiveInt = (fallback: number, max?: number, min?: number) => withDefault(int(max, min), fallback);
const nonEmpty = () => z.string().check(z.minLength(1));
/** A Secrets Manager secret's ARN (`<NAME>_SECRET_ARN`: where a function reads a value kept out of its configuration). */
const secretArn = () =>
  z.string().check(z.regex(/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/, 'a Secrets Manager secret ARN'));
const topicName = (fallback: string) =>
  withDefault(
    z.string().check(z.regex(/^[a-zA-Z0-9._-]{1,249}$/, 'a Kafka topic name: letters, digits, ".", "_", "-", at most 249')),
    fallback,
  );

/** The longest any wait fed by configuration may be: the consumer functions' timeout. */
export const MAX_WAIT_MS = 30_000;

const envSchema = z.object({
  SERVICE_NAME: withDefault(nonEmpty(), 'simple-time-service'),
  STAGE: withDefault(nonEmpty(), 'local'),
  LOG_LEVEL: withDefault(z.enum(['DEBUG', 'INFO', 'WARN', 'ERROR', 'SILENT']), 'INFO'),
  // json: one JSON object a line (AWS); pretty: one readable line (npm start sets it).
  LOG_FORMAT: withDefault(z.enum(['json', 'pretty']), 'json'),

  KAFKA_BROKERS: z.pipe(
    z.pipe(
      withDefault(z.string(), 'localhost:9092'),
      z.transform((s: string) =>
        s
          .split(',')
          .map((b) => b.trim())
          .filter((b) => b.length > 0),
      ),
    ),
    z.array(z.string().check(z.regex(/^[^\s:]+:\d{1,5}$/, 'host:port'))).check(z.minLength(1)),
  ),
  MSK_CLUSTER_ARN: z.optional(z.string().check(z.regex(/^arn:aws[a-z-]*:kafka:[a-z0-9-]+:\d{12}:cluster\/.+$/, 'an MSK cluster ARN'))),
  KAFKA_AUTH: withDefault(z.enum(['none', 'tls', 'scram', 'iam']), 'none'),
  KAFKA_SASL_USERNAME: z.optional(z.string()),
  KAFKA_SASL_PASSWORD: z.optional(z.string()),
  // On AWS: the secret holding the password (MSK's SCRAM secret, or a plain string), read before a client connects.
  KAFKA_SASL_PASSWORD_SECRET_ARN: z.optional(secretArn()),
  // PEM files: the CA to trust instead of Node's public roots (a local or private CA), and
  // a client certificate and key for mutual TLS (KAFKA_AUTH=tls).
  KAFKA_SSL_CA_FILE: z.optional(nonEmpty()),
  KAFKA_SSL_CERT_FILE: z.optional(nonEmpty()),
  KAFKA_SSL_KEY_FILE: z.optional(nonEmpty()),
  AWS_REGION: withDefault(z.string(), 'us-east-1'),
  KAFKA_CLIENT_ID: withDefault(nonEmpty(), 'simple-time-service'),

  KAFKA_TOPIC_EVENTS: topicName('simple-time-service-events'),
  KAFKA_TOPIC_REQUESTS: topicName('simple-time-service-requests'),
  KAFKA_TOPIC_COMMANDS: topicName('simple-time-service-commands'),
  KAFKA_TOPIC_DLQ: topicName('simple-time-service-dlq'),
  KAFKA_TOPIC_PARTITIONS: positiveInt(3, 10_000),
  KAFKA_TOPIC_REPLICATION_FACTOR: positiveInt(2, 32_767),
  KAFKA_CONSUMER_GROUP: withDefault(nonEmpty(), 'simple-time-service-group'),
  KAFKA_AUTO_OFFSET_RESET: withDefault(z.enum(['earliest', 'latest']), 'earliest'),
  // Timers: Node's overflow past 2^31-1 ms (they fire at once), and no function runs longer
  // than 30 s, so no wait may either.
  // A new connection's own budget: broker discovery, TCP, TLS and the IAM or SCRAM
  // handshake, which on AWS take far longer than a send (BENCHMARKS.md, first connection).
  KAFKA_CONNECT_TIMEOUT_MS: positiveInt(5000, MAX_WAIT_MS),
  KAFKA_SEND_TIMEOUT_MS: positiveInt(1000, MAX_WAIT_MS),

  PUSHGATEWAY_URL: withDefault(z.url(), 'http://localhost:9091'),
  PUSHGATEWAY_TIMEOUT_MS: positiveInt(300, 300),
  METRICS_PUSH_INTERVAL_MS: positiveInt(10_000, 300_000, 0),
  METRICS_GROUP_MAX_AGE_SECONDS: positiveInt(900, 30 * 24 * 3600, 60),
  METRICS_MAX_LABEL_VALUES: positiveInt(20, 1000),
  METRICS_FLEET_MAX_LABEL_VALUES: positiveInt(100, 10_000),
  METRICS_PER_CALLER: withDefault(z.enum(['on', 'off']), 'off'),
  METRICS_PUBLIC: withDefault(z.enum(['on', 'off']), 'on'),
  METRICS_ANSWER_REUSE_MS: positiveInt(5000, 60_000, 0),
  METRICS_TOKEN: z.optional(z.string().check(z.regex(METRICS_TOKEN_PATTERN, 'at least 16 characters of A-Z a-z 0-9 . _ ~ + / = -'))),
  METRICS_TOKEN_SECRET_ARN: z.optional(secretArn()),
  PUSHGATEWAY_QUERY_TIMEOUT_MS: positiveInt(2000, 5000),

  ADMIN_TOKEN: z.optional(z.string()),
  ADMIN_TOKEN_SECRET_ARN: z.optional(secretArn()),

  // Set by the Lambda runtime (and by serverless-offline); read here so nothing else reads env.
  AWS_LAMBDA_FUNCTION_NAME: withDefault(z.string(), 'local'),
  AWS_LAMBDA_FUNCTION_VERSION: withDefault(z.string(), '$LATEST'),
  AWS_LAMBDA_FUNCTION_MEMORY_SIZE: z.optional(int()),
  AWS_LAMBDA_LOG_STREAM_NAME: z.optional(z.string()),
  AWS_EXECUTION_ENV: z.optional(z.string()),
  // host:port of the Lambda Runtime API: set in a Lambda runtime, which freezes between invocations.
  AWS_LAMBDA_RUNTIME_API: z.optional(z.string().check(z.regex(/^[^\s/:]+:\d{1,5}$/, 'host:port'))),
  HTTP_MAX_BODY_BYTES: positiveInt(65_536, 1_048_576),
});

/** Every environment variable this module reads (docs/configuration.md documents them). */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(envSchema.shape);

export type KafkaAuth = 'none' | 'tls' | 'scram' | 'iam';

export interface Topics {
  events: string;
  requests: string;
  commands: string;
  dlq: string;
}

export interface Config {
  service: { name: string; stage: string; logLevel: string; logFormat: 'json' | 'pretty' };
  kafka: {
    brokers: string[];
    mskClusterArn: string | undefined;
    auth: KafkaAuth;
    /** The SCRAM credentials; with a password secret, filled in by src/kafka's resolveKafka before a client is made. */
    sasl: { username: string; password: string } | undefined;
    /** KAFKA_SASL_PASSWORD_SECRET_ARN: the SCRAM password is read from this secret (and KAFKA_SASL_PASSWORD is ignored). */
    saslSecret: { username: string; passwordSecretArn: string } | undefined;
    /** PEM files for TLS (paths): a CA to trust, and a client certificate and key. */
    tls: { caFile: string | undefined; certFile: string | undefined; keyFile: string | undefined };
    region: string;
    clientId: string;
    topics: Topics;
    topicPartitions: number;
    topicReplicationFactor: number;
    consumerGroup: string;
    autoOffsetReset: 'earliest' | 'latest';
    connectTimeoutMs: number;
    sendTimeoutMs: number;
  };
  pushgateway: { url: string; timeoutMs: number };
  metrics: { pushIntervalMs: number; groupMaxAgeSeconds: number; maxLabelValues: number; queryTimeoutMs: number } & {
    fleetMaxLabelValues: number;
    perCaller: boolean;
    token: string | undefined;
    tokenSecretArn: string | undefined;
    public: boolean;
    answerReuseMs: number;
  };
  admin: { token: string | undefined; tokenSecretArn: string | undefined };
  http: { maxBodyBytes: number };
  runtime: {
    functionName: string;
    functionVersion: string;
    memoryMb: number | undefined;
    region: string;
    executionEnv: string | undefined;
    logStreamName: string | undefined;
    /** The Lambda Runtime API (host:port): set on Lambda, unset under serverless offline and in tests. */
    runtimeApi: string | undefined;
  };
}

type Env = z.output<typeof envSchema>;

/** The environment's variables, each parsed, or one error naming every bad one. */
function parseEnv(env: Record<string, string | undefined>): Env {
  // An empty variable means "not set", as in a shell `FOO= cmd`.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`));
  }
  return parsed.data;
}

/** Kafka's authentication and TLS variables that do not fit together. */
function kafkaAuthProblems(e: Env): string[] {
  const problems: string[] = [];
  if (e.KAFKA_AUTH === 'scram' && (!e.KAFKA_SASL_USERNAME || (!e.KAFKA_SASL_PASSWORD && !e.KAFKA_SASL_PASSWORD_SECRET_ARN))) {
    problems.push('KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD (or KAFKA_SASL_PASSWORD_SECRET_ARN): required when KAFKA_AUTH=scram');
  }
  if (e.KAFKA_AUTH === 'none' && e.KAFKA_SSL_CA_FILE !== undefined) {
    problems.push('KAFKA_SSL_CA_FILE: only with KAFKA_AUTH=tls, scram or iam (KAFKA_AUTH=none connects without TLS)');
  }
  if ((e.KAFKA_SSL_CERT_FILE === undefined) !== (e.KAFKA_SSL_KEY_FILE === undefined)) {
    problems.push('KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE: both or neither (a client certificate and its key)');
  } else if (e.KAFKA_SSL_CERT_FILE !== undefined && e.KAFKA_AUTH !== 'tls') {
    problems.push('KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE: only with KAFKA_AUTH=tls (mutual TLS)');
  }
  return problems;
}

/** An admin token that is too short, or could never match a bearer token. */
function adminTokenProblems(e: Env): string[] {
  const problems: string[] = [];
  if (e.ADMIN_TOKEN !== undefined && e.ADMIN_TOKEN.length < BEARER_TOKEN_MIN_LENGTH) {
    problems.push(`ADMIN_TOKEN: at least ${BEARER_TOKEN_MIN_LENGTH} characters`);
  }
  if (e.ADMIN_TOKEN !== undefined && !ADMIN_TOKEN_PATTERN.test(e.ADMIN_TOKEN)) {
    // A bearer token is one word of printable ASCII: this one could never match.
    problems.push('ADMIN_TOKEN: printable ASCII without spaces or control characters (it is sent as a bearer token)');
  }
  return problems;
}

/** Metrics settings that contradict each other. */
function metricsProblems(e: Env): string[] {
  const problems: string[] = [];
  // A live container's group must never look stale between two of its pushes (src/fleet-metrics/src/push.ts).
  const minAge = Math.max(2 * Math.ceil(e.METRICS_PUSH_INTERVAL_MS / 1000), 60) + 60;
  if (e.METRICS_GROUP_MAX_AGE_SECONDS < minAge) {
    problems.push(
      `METRICS_GROUP_MAX_AGE_SECONDS: ${e.METRICS_GROUP_MAX_AGE_SECONDS} s is too short for METRICS_PUSH_INTERVAL_MS=${e.METRICS_PUSH_INTERVAL_MS}: at least twice the push interval (and a minute) plus 60 s, here ${minAge} s`,
    );
  }
  if (e.METRICS_FLEET_MAX_LABEL_VALUES < e.METRICS_MAX_LABEL_VALUES) {
    problems.push("METRICS_FLEET_MAX_LABEL_VALUES: at least METRICS_MAX_LABEL_VALUES (a fleet cap below one container's)");
  }
  return problems;
}

/** Topic variables naming the same topic. */
function topicProblems(e: Env): string[] {
  const topicVariables = {
    KAFKA_TOPIC_REQUESTS: e.KAFKA_TOPIC_REQUESTS,
    KAFKA_TOPIC_EVENTS: e.KAFKA_TOPIC_EVENTS,
    KAFKA_TOPIC_COMMANDS: e.KAFKA_TOPIC_COMMANDS,
    KAFKA_TOPIC_DLQ: e.KAFKA_TOPIC_DLQ,
  };
  const byName = new Map<string, string[]>();
  for (const [variable, topic] of Object.entries(topicVariables)) byName.set(topic, [...(byName.get(topic) ?? []), variable]);
  // DLQ = events dead-letters a poison record into its own source forever; events =
  // commands has onCommand answer its own answers forever.
  return [...byName]
    .filter(([, variables]) => variables.length > 1)
    .map(([topic, variables]) => `${variables.join(' and ')}: the four topics must be distinct (all are ${topic})`);
}

function kafkaConfig(e: Env): Config['kafka'] {
  return {
    brokers: e.KAFKA_BROKERS,
    mskClusterArn: e.MSK_CLUSTER_ARN,
    auth: e.KAFKA_AUTH,
    // A secret wins over a plain password, as ADMIN_TOKEN_SECRET_ARN does over ADMIN_TOKEN.
    sasl:
      e.KAFKA_SASL_USERNAME && e.KAFKA_SASL_PASSWORD && !e.KAFKA_SASL_PASSWORD_SECRET_ARN
        ? { username: e.KAFKA_SASL_USERNAME, password: e.KAFKA_SASL_PASSWORD }
        : undefined,
    saslSecret:
      e.KAFKA_SASL_USERNAME && e.KAFKA_SASL_PASSWORD_SECRET_ARN
        ? { username: e.KAFKA_SASL_USERNAME, passwordSecretArn: e.KAFKA_SASL_PASSWORD_SECRET_ARN }
        : undefined,
    tls: { caFile: e.KAFKA_SSL_CA_FILE, certFile: e.KAFKA_SSL_CERT_FILE, keyFile: e.KAFKA_SSL_KEY_FILE },
    region: e.AWS_REGION,
    clientId: e.KAFKA_CLIENT_ID,
    topics: {
      events: e.KAFKA_TOPIC_EVENTS,
      requests: e.KAFKA_TOPIC_REQUESTS,
      commands: e.KAFKA_TOPIC_COMMANDS,
      dlq: e.KAFKA_TOPIC_DLQ,
    },
    topicPartitions: e.KAFKA_TOPIC_PARTITIONS,
    topicReplicationFactor: e.KAFKA_TOPIC_REPLICATION_FACTOR,
    consumerGroup: e.KAFKA_CONSUMER_GROUP,
    autoOffsetReset: e.KAFKA_AUTO_OFFSET_RESET,
    connectTimeoutMs: e.KAFKA_CONNECT_TIMEOUT_MS,
    sendTimeoutMs: e.KAFKA_SEND_TIMEOUT_MS,
  };
}

function metricsConfig(e: Env): Config['metrics'] {
  return {
    pushIntervalMs: e.METRICS_PUSH_INTERVAL_MS,
    groupMaxAgeSeconds: e.METRICS_GROUP_MAX_AGE_SECONDS,
    maxLabelValues: e.METRICS_MAX_LABEL_VALUES,
    fleetMaxLabelValues: e.METRICS_FLEET_MAX_LABEL_VALUES,
    perCaller: e.METRICS_PER_CALLER === 'on',
    token: e.METRICS_TOKEN,
    tokenSecretArn: e.METRICS_TOKEN_SECRET_ARN,
    public: e.METRICS_PUBLIC === 'on',
    answerReuseMs: e.METRICS_ANSWER_REUSE_MS,
    queryTimeoutMs: e.PUSHGATEWAY_QUERY_TIMEOUT_MS,
  };
}

function runtimeConfig(e: Env): Config['runtime'] {
  return {
    functionName: e.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: e.AWS_LAMBDA_FUNCTION_VERSION,
    memoryMb: e.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    region: e.AWS_REGION,
    executionEnv: e.AWS_EXECUTION_ENV,
    logStreamName: e.AWS_LAMBDA_LOG_STREAM_NAME,
    runtimeApi: e.AWS_LAMBDA_RUNTIME_API,
  };
}

/** Validates an environment (process.env by default) into a typed Config. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const e = parseEnv(env);
  const problems = [...kafkaAuthProblems(e), ...adminTokenProblems(e), ...metricsProblems(e), ...topicProblems(e)];
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    service: { name: e.SERVICE_NAME, stage: e.STAGE, logLevel: e.LOG_LEVEL, logFormat: e.LOG_FORMAT },
    kafka: kafkaConfig(e),
    pushgateway: { url: e.PUSHGATEWAY_URL.replace(/\/+$/, ''), timeoutMs: e.PUSHGATEWAY_TIMEOUT_MS },
    metrics: metricsConfig(e),
    admin: { token: e.ADMIN_TOKEN, tokenSecretArn: e.ADMIN_TOKEN_SECRET_ARN },
    http: { maxBodyBytes: e.HTTP_MAX_BODY_BYTES },
    runtime: runtimeConfig(e),
  };
}

let cached: Config | undefined;

/** The container's configuration, read from process.env on first use. */
export function getConfig(): Config {
  cached ??= loadConfig();
  return cached;
}
