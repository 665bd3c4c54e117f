/**
 * What the plugin reads: each function's `msk` and `kafka` events (with the failure
 * handling properties this plugin adds to them), `custom.offlineMsk`, and its own
 * environment variables. Nothing else of the service: not its environment, not its code.
 */
import { readFileSync } from 'node:fs';
import { compileFilterPatterns } from './filter';
import type { Destination } from './failure';
import { parseDestination } from './failure';
import type { KafkaEventSource } from './event';
import { MAPPING_DEFAULTS } from './mapping';
import type { StartingPosition } from './kafka-source';

/** The parts of serverless' `service` object this plugin reads. */
export interface ServiceLike {
  service?: string | { name?: string };
  provider: { region?: string; stage?: string; timeout?: number };
  custom?: Record<string, unknown>;
  getAllFunctions(): string[];
  getFunction(key: string): { name?: string; timeout?: number; events?: unknown[] };
}

/** The JSON schema of the properties this plugin adds to `msk` and `kafka` events. */
export const EVENT_PROPERTIES = {
  functionResponseTypes: { type: 'array', items: { enum: ['ReportBatchItemFailures'] }, maxItems: 1 },
  maximumRetryAttempts: { type: 'integer', minimum: -1, maximum: 10000 },
  maximumRecordAgeInSeconds: { anyOf: [{ const: -1 }, { type: 'integer', minimum: 60, maximum: 604800 }] },
  bisectBatchOnFunctionError: { type: 'boolean' },
  destinations: {
    type: 'object',
    properties: {
      onFailure: {
        anyOf: [
          { type: 'string', pattern: '^(kafka://[a-zA-Z0-9._-]+|arn:aws[a-z-]*:(sqs|sns|s3):.+)$' },
          { $ref: '#/definitions/awsCfFunction' },
        ],
      },
    },
    required: ['onFailure'],
    additionalProperties: false,
  },
} as const;

/** Properties AWS accepts on Kafka event source mappings in provisioned mode only. */
const PROVISIONED_ONLY = [
  'functionResponseTypes',
  'maximumRetryAttempts',
  'maximumRecordAgeInSeconds',
  'bisectBatchOnFunctionError',
  'destinations',
  'onFailureDestination',
] as const;

export interface MappingDefinition {
  functionKey: string;
  functionName: string;
  functionArn: string;
  eventType: 'msk' | 'kafka';
  topic: string;
  groupId: string;
  batchSize: number;
  batchingWindowMs: number;
  startingPosition: StartingPosition;
  startingPositionTimestamp: number | undefined;
  filterPatterns: unknown[];
  reportBatchItemFailures: boolean;
  maximumRetryAttempts: number;
  maximumRecordAgeSeconds: number;
  bisectBatchOnFunctionError: boolean;
  destination: Destination | undefined;
  /** Where the consumer connects. */
  brokers: string[];
  /** How it connects: TLS and SASL, from the event's authentication and the plugin's options. */
  connection: Connection;
  /** What the event says about its source. */
  source: KafkaEventSource;
  timeoutSeconds: number;
  maxRecordsPerPartition: number;
}

export type SaslMechanism = 'plain' | 'scram-sha-256' | 'scram-sha-512';
const SASL_MECHANISMS: readonly SaslMechanism[] = ['plain', 'scram-sha-256', 'scram-sha-512'];

export interface SaslOptions {
  mechanism: SaslMechanism;
  username: string;
  password: string;
}

/** The local stand-in for an event's SASL secret: its mechanism may come from the event. */
export interface SaslCredentials {
  mechanism: SaslMechanism | undefined;
  username: string;
  password: string;
}

/** TLS to the brokers: PEM files for a private CA and for a client certificate (mutual TLS). */
export interface TlsOptions {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

/** How one mapping connects: `ssl` false is plaintext; `{}` is TLS trusting Node's public roots. */
export interface Connection {
  ssl: false | TlsOptions;
  sasl: SaslOptions | undefined;
}

export interface PluginOptions {
  /** Overrides every event's brokers. */
  brokers: string[] | undefined;
  ssl: false | TlsOptions;
  sasl: SaslCredentials | undefined;
  accountId: string | undefined;
  maxRecordsPerPartition: number | undefined;
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** Credentials of a function's own for its mappings (functionCredentials). */
  functions?: Record<string, { sasl: SaslCredentials }>;
}

type Dict = Record<string, unknown>;

function isDict(v: unknown): v is Dict {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function brokerList(value: unknown): string[] | undefined {
  if (typeof value === 'string') {
    const list = value
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
    return list.length > 0 ? list : undefined;
  }
  if (Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'string' && v.length > 0)) return value as string[];
  return undefined;
}

/** The longest backoff the options accept: a quarter hour, far below what one timer holds (2^31-1 ms). */
export const MAX_BACKOFF_MS = 900_000;
/** AWS's bounds for what feeds a timer: MaximumBatchingWindowInSeconds and a function's timeout. */
const MAX_BATCHING_WINDOW_SECONDS = 300;
const MAX_FUNCTION_TIMEOUT_SECONDS = 900;

/** Whether a number lies within [min, max] (and is whole, when asked). */
function within(value: number, bounds: { min: number; max: number; whole?: boolean }): boolean {
  return Number.isFinite(value) && value >= bounds.min && value <= bounds.max && (!bounds.whole || Number.isInteger(value));
}

function backoffMs(value: unknown, where: string, problems: string[]): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number' && within(value, { min: 1, max: MAX_BACKOFF_MS, whole: true })) return value;
  problems.push(`${where}: expected whole milliseconds from 1 to ${MAX_BACKOFF_MS} (15 minutes), got ${JSON.stringify(value)}`);
  return undefined;
}

function positiveInt(value: unknown, where: string, problems: string[]): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number' && Number.isInteger(value) && value > 0) return value;
  problems.push(`${where}: expected a positive integer, got ${JSON.stringify(value)}`);
  return undefined;
}

/**
 * `custom.offlineMsk` and the environment (OFFLINE_MSK_BROKERS overrides the brokers).
 * Throws one error naming every problem.
 */
export function readPluginOptions(service: ServiceLike, env: Record<string, string | undefined>): PluginOptions {
  const raw = service.custom?.offlineMsk;
  const options: Dict = isDict(raw) ? raw : {};
  const problems: string[] = [];
  const known = new Set(['brokers', 'ssl', 'sasl', 'accountId', 'maxRecordsPerPartition', 'initialBackoffMs', 'maxBackoffMs', 'functions']);
  for (const key of Object.keys(options)) if (!known.has(key)) problems.push(`custom.offlineMsk.${key}: unknown option`);
  const fromEnv = env.OFFLINE_MSK_BROKERS;
  const brokers = brokerList(fromEnv) ?? brokerList(options.brokers);
  if (fromEnv === undefined && options.brokers !== undefined && options.brokers !== '' && brokerList(options.brokers) === undefined) {
    problems.push('custom.offlineMsk.brokers: expected host:port, a comma-separated list or an array of them');
  }
  const sasl = readSasl(options.sasl, problems);
  const functions = functionCredentials(options.functions, service, problems);
  const ssl = readTls(options.ssl, problems);
  if (options.accountId !== undefined && !(typeof options.accountId === 'string' && /^\d{12}$/.test(options.accountId))) {
    problems.push('custom.offlineMsk.accountId: expected 12 digits');
  }
  const maxRecordsPerPartition = positiveInt(options.maxRecordsPerPartition, 'custom.offlineMsk.maxRecordsPerPartition', problems);
  const initialBackoffMs =
    backoffMs(options.initialBackoffMs, 'custom.offlineMsk.initialBackoffMs', problems) ?? MAPPING_DEFAULTS.initialBackoffMs;
  const maxBackoffMs = backoffMs(options.maxBackoffMs, 'custom.offlineMsk.maxBackoffMs', problems) ?? MAPPING_DEFAULTS.maxBackoffMs;
  if (problems.length > 0) throw new Error(`offline-msk: invalid options:\n  ${problems.join('\n  ')}`);
  return {
    brokers,
    ssl,
    sasl,
    accountId: typeof options.accountId === 'string' ? options.accountId : undefined,
    maxRecordsPerPartition,
    initialBackoffMs,
    maxBackoffMs: Math.max(maxBackoffMs, initialBackoffMs),
    ...(functions ? { functions } : {}),
  };
}

/**
 * custom.offlineMsk.functions: `{ <function>: { sasl: { mechanism, username, password } } }`.
 * Lambda's event source mapping reads with the function's execution role; these let each
 * function's mappings (and their on-failure destination writes) log in as a principal of
 * their own, in place of custom.offlineMsk.sasl.
 */
function functionCredentials(value: unknown, service: ServiceLike, problems: string[]): PluginOptions['functions'] {
  if (value === undefined) return undefined;
  const where = 'custom.offlineMsk.functions';
  if (!isDict(value)) {
    problems.push(`${where}: expected { <function>: { sasl: { mechanism, username, password } } }`);
    return undefined;
  }
  const names = new Set(service.getAllFunctions());
  const out: NonNullable<PluginOptions['functions']> = {};
  for (const [name, own] of Object.entries(value)) {
    if (!names.has(name)) {
      problems.push(`${where}.${name}: the service has no such function`);
      continue;
    }
    if (!isDict(own)) {
      problems.push(`${where}.${name}: expected { sasl: { mechanism, username, password } }`);
      continue;
    }
    for (const key of Object.keys(own))
      if (key !== 'sasl') problems.push(`${where}.${name}.${key}: unknown option (a function takes sasl only)`);
    const sasl = readSasl(own.sasl, problems, `${where}.${name}.sasl`);
    if (sasl) out[name] = { sasl };
  }
  return out;
}

const NOT_IAM = 'MSK IAM authentication is not offered locally';

function readSasl(value: unknown, problems: string[], where = 'custom.offlineMsk.sasl'): SaslCredentials | undefined {
  if (value === undefined) return undefined;
  if (!isDict(value)) {
    problems.push(`${where}: expected { mechanism: plain | scram-sha-256 | scram-sha-512, username, password }`);
    return undefined;
  }
  const before = problems.length;
  for (const key of Object.keys(value))
    if (!['mechanism', 'username', 'password'].includes(key)) problems.push(`${where}.${key}: unknown option`);
  const { mechanism, username, password } = value;
  if (mechanism !== undefined && !SASL_MECHANISMS.includes(mechanism as SaslMechanism)) {
    const iam = typeof mechanism === 'string' && /^(aws|iam|oauthbearer|aws_msk_iam)$/i.test(mechanism);
    problems.push(
      `${where}.mechanism: expected plain, scram-sha-256 or scram-sha-512, got ${JSON.stringify(mechanism)}${iam ? ` (${NOT_IAM})` : ''}`,
    );
  }
  if (typeof username !== 'string' || username.length === 0) problems.push(`${where}.username: required (a non-empty string)`);
  if (typeof password !== 'string' || password.length === 0) problems.push(`${where}.password: required (a non-empty string)`);
  if (problems.length > before) return undefined;
  return { mechanism: mechanism as SaslMechanism | undefined, username: username as string, password: password as string };
}

/** A PEM file the plugin can read now, so a wrong path stops the start with its name rather than a TLS error later. */
function pemFile(value: unknown, where: string, problems: string[]): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') {
    problems.push(`${where}: expected the path of a PEM file`);
    return undefined;
  }
  let text: string;
  try {
    text = readFileSync(value, 'utf8');
  } catch (error) {
    problems.push(`${where}: cannot read ${value}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    return undefined;
  }
  if (!text.includes('-----BEGIN ')) problems.push(`${where}: ${value} is not a PEM file (no -----BEGIN line)`);
  return value;
}

function readTls(value: unknown, problems: string[]): false | TlsOptions {
  const where = 'custom.offlineMsk.ssl';
  if (value === undefined || value === false) return false;
  if (value === true) return {};
  if (!isDict(value)) {
    problems.push(`${where}: expected true, false or { caFile, certFile, keyFile }`);
    return false;
  }
  for (const key of Object.keys(value))
    if (!['caFile', 'certFile', 'keyFile'].includes(key)) problems.push(`${where}.${key}: unknown option`);
  const caFile = pemFile(value.caFile, `${where}.caFile`, problems);
  const certFile = pemFile(value.certFile, `${where}.certFile`, problems);
  const keyFile = pemFile(value.keyFile, `${where}.keyFile`, problems);
  const given = (v: unknown) => v !== undefined && v !== '';
  if (given(value.certFile) !== given(value.keyFile))
    problems.push(`${where}: certFile and keyFile go together (a client certificate and its private key)`);
  return { ...(caFile ? { caFile } : {}), ...(certFile ? { certFile } : {}), ...(keyFile ? { keyFile } : {}) };
}

const SASL_ACCESS: Record<string, SaslMechanism> = {
  saslPlainAuth: 'plain',
  saslScram256Auth: 'scram-sha-256',
  saslScram512Auth: 'scram-sha-512',
};

/**
 * How a mapping connects. The event says which authentication AWS uses (a `kafka` event's
 * `accessConfigurations`, an `msk` event's `saslScram512`); the secrets they name live in
 * Secrets Manager, which is not local, so their content comes from the plugin's options
 * (`sasl` for a SASL secret, `ssl.certFile`/`keyFile` for a client certificate, `ssl.caFile`
 * for a server root CA). An event that names no authentication connects as the options say.
 * Lambda uses SASL over TLS only, so an event naming a SASL secret always gets TLS.
 */
function eventConnection(
  e: Dict,
  eventType: 'msk' | 'kafka',
  options: PluginOptions,
  where: string,
  problems: string[],
  checkSecrets: boolean,
): Connection {
  const declared: { sasl?: { mechanism: SaslMechanism; property: string }; clientCertificate?: boolean; rootCa?: boolean } = {};
  if (eventType === 'kafka' && isDict(e.accessConfigurations)) {
    const access = e.accessConfigurations;
    const saslKeys = Object.keys(access).filter((k) => k in SASL_ACCESS);
    if (saslKeys.length + (access.clientCertificateTlsAuth !== undefined ? 1 : 0) > 1) {
      problems.push(
        `${where}.accessConfigurations: ${[...saslKeys, ...(access.clientCertificateTlsAuth !== undefined ? ['clientCertificateTlsAuth'] : [])].join(', ')}: one authentication method per event, as AWS accepts`,
      );
    }
    const key = saslKeys[0];
    if (key) declared.sasl = { mechanism: SASL_ACCESS[key]!, property: `accessConfigurations.${key}` };
    if (access.clientCertificateTlsAuth !== undefined) declared.clientCertificate = true;
    if (access.serverRootCaCertificate !== undefined) declared.rootCa = true;
  }
  if (eventType === 'msk' && e.saslScram512 !== undefined) declared.sasl = { mechanism: 'scram-sha-512', property: 'saslScram512' };
  const tls = options.ssl === false ? {} : options.ssl;
  if (!declared.sasl && !declared.clientCertificate && !declared.rootCa) {
    if (options.sasl && options.sasl.mechanism === undefined && checkSecrets) {
      problems.push(`${where}: names no SASL secret, so custom.offlineMsk.sasl needs its mechanism`);
    }
    return { ssl: options.ssl, sasl: options.sasl ? { ...options.sasl, mechanism: options.sasl.mechanism ?? 'scram-sha-512' } : undefined };
  }
  const before = problems.length;
  if (checkSecrets) {
    if (declared.sasl) {
      const { mechanism, property } = declared.sasl;
      if (!options.sasl) {
        problems.push(
          `${where}.${property}: a ${mechanism} secret, which is not local: give its username and password as custom.offlineMsk.sasl`,
        );
      } else if (options.sasl.mechanism !== undefined && options.sasl.mechanism !== mechanism) {
        problems.push(
          `${where}.${property}: the event authenticates with ${mechanism}, custom.offlineMsk.sasl.mechanism says ${options.sasl.mechanism}`,
        );
      }
    }
    if (declared.clientCertificate && !(tls.certFile && tls.keyFile)) {
      problems.push(
        `${where}.accessConfigurations.clientCertificateTlsAuth: a client certificate secret, which is not local: give custom.offlineMsk.ssl.certFile and keyFile`,
      );
    }
    if (declared.rootCa && !tls.caFile) {
      problems.push(
        `${where}.accessConfigurations.serverRootCaCertificate: a CA certificate secret, which is not local: give custom.offlineMsk.ssl.caFile`,
      );
    }
  }
  const sasl =
    declared.sasl && options.sasl && problems.length === before
      ? { mechanism: declared.sasl.mechanism, username: options.sasl.username, password: options.sasl.password }
      : undefined;
  return { ssl: tls, sasl };
}

/** What a connection is, for the start-up line (never a secret). */
export function describeConnection(c: Connection): string {
  const tls =
    c.ssl === false ? '' : [c.ssl.caFile ? 'private CA' : '', c.ssl.certFile ? 'client certificate' : ''].filter(Boolean).join(', ');
  const protocol = c.sasl ? (c.ssl === false ? 'SASL_PLAINTEXT' : 'SASL_SSL') : c.ssl === false ? 'PLAINTEXT' : 'SSL';
  const details = [c.sasl?.mechanism ?? '', tls].filter(Boolean).join(', ');
  return details ? `${protocol} ${details}` : protocol;
}

/**
 * What feeds a timer, within AWS's bounds: the batching window (serverless.yml gives
 * seconds; unset is AWS's default of 500 ms for Kafka) and the function's timeout.
 * A problem with the timeout is named once per function, however many events it has.
 */
function timerSettings(
  e: Dict,
  timeoutWhere: string,
  timeoutSeconds: number,
  where: string,
  problems: string[],
): { batchingWindowMs: number; timeoutSeconds: number } | undefined {
  const window = e.maximumBatchingWindow;
  if (window !== undefined && !(typeof window === 'number' && within(window, { min: 0, max: MAX_BATCHING_WINDOW_SECONDS }))) {
    problems.push(`${where}.maximumBatchingWindow: 0..${MAX_BATCHING_WINDOW_SECONDS} (seconds), got ${JSON.stringify(window)}`);
    return undefined;
  }
  if (!within(timeoutSeconds, { min: 1, max: MAX_FUNCTION_TIMEOUT_SECONDS })) {
    const problem = `${timeoutWhere}: 1..${MAX_FUNCTION_TIMEOUT_SECONDS} (seconds, Lambda's longest), got ${JSON.stringify(timeoutSeconds)}`;
    if (!problems.includes(problem)) problems.push(problem);
    return undefined;
  }
  return { batchingWindowMs: typeof window === 'number' ? window * 1000 : MAPPING_DEFAULTS.batchingWindowMs, timeoutSeconds };
}

function serviceName(service: ServiceLike): string {
  return typeof service.service === 'string' ? service.service : (service.service?.name ?? 'service');
}

/** The account of an MSK cluster ARN (`arn:aws:kafka:<region>:<account>:cluster/…`). */
function accountOf(arn: unknown): string | undefined {
  return typeof arn === 'string' ? /^arn:aws[a-z-]*:kafka:[^:]*:(\d{12}):/.exec(arn)?.[1] : undefined;
}

/** One `msk` or `kafka` event of a function, and where serverless.yml has it. */
interface KafkaEvent {
  functionKey: string;
  fn: ReturnType<ServiceLike['getFunction']>;
  eventType: 'msk' | 'kafka';
  e: Dict;
  where: string;
}

/**
 * Every `msk` and `kafka` event not disabled, in the order serverless.yml lists them; one
 * that is not an object is a problem. Lazy, so the problems of every event are named in
 * that order too.
 */
function* kafkaEvents(service: ServiceLike, problems: string[]): Generator<KafkaEvent> {
  for (const functionKey of service.getAllFunctions()) {
    const fn = service.getFunction(functionKey);
    for (const [index, raw] of (fn.events ?? []).entries()) {
      if (!isDict(raw)) continue;
      const eventType = 'msk' in raw ? 'msk' : 'kafka' in raw ? 'kafka' : undefined;
      if (!eventType) continue;
      const e = raw[eventType];
      const where = `functions.${functionKey}.events[${index}].${eventType}`;
      if (!isDict(e)) problems.push(`${where}: expected an object`);
      else if (e.enabled !== false) yield { functionKey, fn, eventType, e, where };
    }
  }
}

/** The event's topic and filter patterns, checked as Lambda checks them. */
function topicAndFilters(e: Dict, where: string, problems: string[]): { topic: string; filterPatterns: unknown[] } | undefined {
  if (typeof e.topic !== 'string' || e.topic.length === 0) {
    problems.push(`${where}.topic: required`);
    return undefined;
  }
  const filterPatterns = Array.isArray(e.filterPatterns) ? (e.filterPatterns as unknown[]) : [];
  try {
    compileFilterPatterns(filterPatterns);
  } catch (error) {
    problems.push(`${where}.${error instanceof Error ? error.message : String(error)}`);
    return undefined;
  }
  return { topic: e.topic, filterPatterns };
}

/** Whether the event uses failure handling without provisioned mode, which AWS refuses. */
function needsProvisionedMode(e: Dict, where: string, problems: string[]): boolean {
  if (e.provisionedPollerConfig !== undefined) return false;
  const needs = PROVISIONED_ONLY.filter((p) => e[p] !== undefined);
  if (needs.length === 0) return false;
  problems.push(`${where}: ${needs.join(', ')} need provisioned mode (provisionedPollerConfig), as on AWS`);
  return true;
}

/** The event's on-failure destination (`{ destination: undefined }` when it has none), or undefined after naming a problem. */
function onFailureDestination(
  e: Dict,
  topic: string,
  where: string,
  problems: string[],
): { destination: Destination | undefined } | undefined {
  const destinations = e.destinations;
  if (destinations !== undefined && e.onFailureDestination !== undefined) {
    problems.push(`${where}: destinations.onFailure and onFailureDestination say the same thing; keep one`);
    return undefined;
  }
  const onFailure = isDict(destinations) ? destinations.onFailure : e.onFailureDestination;
  if (destinations !== undefined && !isDict(destinations)) {
    problems.push(`${where}.destinations: expected { onFailure }`);
    return undefined;
  }
  if (onFailure === undefined) return { destination: undefined };
  let destination: Destination;
  try {
    destination = parseDestination(onFailure);
  } catch (error) {
    problems.push(`${where}.destinations.onFailure: ${error instanceof Error ? error.message : String(error)}`);
    return undefined;
  }
  if (destination.kind === 'kafka' && destination.topic === topic) {
    problems.push(`${where}.destinations.onFailure: the destination cannot be the source topic (Lambda refuses it to prevent a loop)`);
    return undefined;
  }
  return { destination };
}

/** How often a failing record is retried and how old it may grow, within AWS's bounds. */
function retryLimits(
  e: Dict,
  where: string,
  problems: string[],
): { maximumRetryAttempts: number; maximumRecordAgeSeconds: number } | undefined {
  const maximumRetryAttempts = e.maximumRetryAttempts ?? MAPPING_DEFAULTS.maximumRetryAttempts;
  if (
    typeof maximumRetryAttempts !== 'number' ||
    !Number.isInteger(maximumRetryAttempts) ||
    maximumRetryAttempts < -1 ||
    maximumRetryAttempts > 10000
  ) {
    problems.push(`${where}.maximumRetryAttempts: -1 (unlimited) or 0..10000`);
    return undefined;
  }
  const maximumRecordAge = e.maximumRecordAgeInSeconds ?? MAPPING_DEFAULTS.maximumRecordAgeSeconds;
  if (
    typeof maximumRecordAge !== 'number' ||
    !(maximumRecordAge === -1 || (Number.isInteger(maximumRecordAge) && maximumRecordAge >= 60 && maximumRecordAge <= 604800))
  ) {
    problems.push(`${where}.maximumRecordAgeInSeconds: -1 (unlimited) or 60..604800`);
    return undefined;
  }
  return { maximumRetryAttempts, maximumRecordAgeSeconds: maximumRecordAge };
}

/** Where the event's consumer connects, and what the event says of its source. */
function eventSource(event: KafkaEvent, options: PluginOptions): { brokers: string[]; source: KafkaEventSource } {
  const { e, eventType } = event;
  const eventBrokers = eventType === 'kafka' ? brokerList(e.bootstrapServers) : undefined;
  const brokers = options.brokers ?? eventBrokers ?? ['127.0.0.1:9092'];
  const source: KafkaEventSource =
    eventType === 'msk'
      ? { kind: 'msk', eventSourceArn: typeof e.arn === 'string' ? e.arn : JSON.stringify(e.arn), bootstrapServers: brokers }
      : { kind: 'self-managed', bootstrapServers: brokers };
  return { brokers, source };
}

/** Everything of a mapping its checks produced. */
type Checked = NonNullable<ReturnType<typeof topicAndFilters>> &
  NonNullable<ReturnType<typeof onFailureDestination>> &
  NonNullable<ReturnType<typeof retryLimits>> &
  NonNullable<ReturnType<typeof timerSettings>> & { connection: Connection };

/** The mapping definition of one event whose every part was checked. */
function mappingDefinition(service: ServiceLike, options: PluginOptions, event: KafkaEvent, checked: Checked): MappingDefinition {
  const { functionKey, fn, eventType, e } = event;
  const functionName = fn.name ?? `${serviceName(service)}-${service.provider.stage ?? 'dev'}-${functionKey}`;
  const account = options.accountId ?? accountOf(e.arn) ?? '123456789012';
  const batchSize = typeof e.batchSize === 'number' ? e.batchSize : MAPPING_DEFAULTS.batchSize;
  return {
    functionKey,
    functionName,
    functionArn: `arn:aws:lambda:${service.provider.region ?? 'us-east-1'}:${account}:function:${functionName}`,
    eventType,
    topic: checked.topic,
    // Lambda names the group after the mapping's UUID when none is given; a stable name resumes across restarts.
    groupId: typeof e.consumerGroupId === 'string' && e.consumerGroupId.length > 0 ? e.consumerGroupId : `${functionName}-${checked.topic}`,
    batchSize,
    batchingWindowMs: checked.batchingWindowMs,
    startingPosition: (typeof e.startingPosition === 'string' ? e.startingPosition : 'TRIM_HORIZON') as StartingPosition,
    startingPositionTimestamp: typeof e.startingPositionTimestamp === 'number' ? e.startingPositionTimestamp : undefined,
    filterPatterns: checked.filterPatterns,
    reportBatchItemFailures: Array.isArray(e.functionResponseTypes) && e.functionResponseTypes.includes('ReportBatchItemFailures'),
    maximumRetryAttempts: checked.maximumRetryAttempts,
    maximumRecordAgeSeconds: checked.maximumRecordAgeSeconds,
    bisectBatchOnFunctionError: e.bisectBatchOnFunctionError === true,
    destination: checked.destination,
    ...eventSource(event, options),
    connection: checked.connection,
    timeoutSeconds: checked.timeoutSeconds,
    maxRecordsPerPartition: options.maxRecordsPerPartition ?? Math.max(MAPPING_DEFAULTS.maxRecordsPerPartition, batchSize * 2),
  };
}

/** One event's mapping, or undefined after naming its first problem (checked in the order AWS would refuse them). */
function readMapping(
  service: ServiceLike,
  options: PluginOptions,
  mode: 'offline' | 'package',
  event: KafkaEvent,
  problems: string[],
): MappingDefinition | undefined {
  const { functionKey, fn, eventType, e, where } = event;
  const target = topicAndFilters(e, where, problems);
  if (!target || needsProvisionedMode(e, where, problems)) return undefined;
  const failure = onFailureDestination(e, target.topic, where, problems);
  const retries = failure && retryLimits(e, where, problems);
  if (!failure || !retries) return undefined;
  const timeoutWhere = fn.timeout !== undefined ? `functions.${functionKey}.timeout` : 'provider.timeout';
  const timers = timerSettings(e, timeoutWhere, fn.timeout ?? service.provider.timeout ?? 6, where, problems);
  if (!timers) return undefined;
  const before = problems.length;
  const own = options.functions?.[functionKey];
  const connection = eventConnection(e, eventType, own ? { ...options, sasl: own.sasl } : options, where, problems, mode === 'offline');
  if (problems.length > before) return undefined;
  return mappingDefinition(service, options, event, { ...target, ...failure, ...retries, ...timers, connection });
}

/**
 * Every `msk` and `kafka` event of the service as a mapping definition. Throws one error
 * naming every event it cannot run as AWS would (bad filter patterns, missing topic,
 * failure handling without provisioned mode, a destination that is the source topic…).
 */
export function readMappings(service: ServiceLike, options: PluginOptions, mode: 'offline' | 'package' = 'offline'): MappingDefinition[] {
  const problems: string[] = [];
  const mappings: MappingDefinition[] = [];
  for (const event of kafkaEvents(service, problems)) {
    const mapping = readMapping(service, options, mode, event, problems);
    if (mapping) mappings.push(mapping);
  }
  if (problems.length > 0) throw new Error(`offline-msk: cannot run these events:\n  ${problems.join('\n  ')}`);
  return mappings;
}
