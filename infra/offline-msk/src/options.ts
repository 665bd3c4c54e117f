/**
 * What the plugin reads: each function's `msk` and `kafka` events (with the failure
 * handling properties this plugin adds to them), `custom.offlineMsk`, and its own
 * environment variables. Nothing else of the service: not its environment, not its code.
 */
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
        anyOf: [{ type: 'string', pattern: '^(kafka://[a-zA-Z0-9._-]+|arn:aws[a-z-]*:(sqs|sns|s3):.+)$' }, { $ref: '#/definitions/awsCfFunction' }],
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
  /** What the event says about its source. */
  source: KafkaEventSource;
  timeoutSeconds: number;
  maxRecordsPerPartition: number;
}

export type SaslOptions = { username: string; password: string } & (
  | { mechanism: 'plain' }
  | { mechanism: 'scram-sha-256' }
  | { mechanism: 'scram-sha-512' }
);

export interface PluginOptions {
  /** Overrides every event's brokers. */
  brokers: string[] | undefined;
  ssl: boolean;
  sasl: SaslOptions | undefined;
  accountId: string | undefined;
  maxRecordsPerPartition: number | undefined;
  initialBackoffMs: number;
  maxBackoffMs: number;
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
  const known = new Set(['brokers', 'ssl', 'sasl', 'accountId', 'maxRecordsPerPartition', 'initialBackoffMs', 'maxBackoffMs']);
  for (const key of Object.keys(options)) if (!known.has(key)) problems.push(`custom.offlineMsk.${key}: unknown option`);
  const fromEnv = env.OFFLINE_MSK_BROKERS;
  const brokers = brokerList(fromEnv) ?? brokerList(options.brokers);
  if (fromEnv === undefined && options.brokers !== undefined && options.brokers !== '' && brokerList(options.brokers) === undefined) {
    problems.push('custom.offlineMsk.brokers: expected host:port, a comma-separated list or an array of them');
  }
  let sasl: SaslOptions | undefined;
  if (options.sasl !== undefined) {
    const s = options.sasl;
    if (
      isDict(s) &&
      (s.mechanism === 'plain' || s.mechanism === 'scram-sha-256' || s.mechanism === 'scram-sha-512') &&
      typeof s.username === 'string' &&
      typeof s.password === 'string'
    ) {
      sasl = { mechanism: s.mechanism, username: s.username, password: s.password };
    } else {
      problems.push('custom.offlineMsk.sasl: expected { mechanism: plain | scram-sha-256 | scram-sha-512, username, password }');
    }
  }
  if (options.ssl !== undefined && typeof options.ssl !== 'boolean') problems.push('custom.offlineMsk.ssl: expected true or false');
  if (options.accountId !== undefined && !(typeof options.accountId === 'string' && /^\d{12}$/.test(options.accountId))) {
    problems.push('custom.offlineMsk.accountId: expected 12 digits');
  }
  const maxRecordsPerPartition = positiveInt(options.maxRecordsPerPartition, 'custom.offlineMsk.maxRecordsPerPartition', problems);
  const initialBackoffMs = positiveInt(options.initialBackoffMs, 'custom.offlineMsk.initialBackoffMs', problems) ?? MAPPING_DEFAULTS.initialBackoffMs;
  const maxBackoffMs = positiveInt(options.maxBackoffMs, 'custom.offlineMsk.maxBackoffMs', problems) ?? MAPPING_DEFAULTS.maxBackoffMs;
  if (problems.length > 0) throw new Error(`offline-msk: invalid options:\n  ${problems.join('\n  ')}`);
  return {
    brokers,
    ssl: options.ssl === true,
    sasl,
    accountId: typeof options.accountId === 'string' ? options.accountId : undefined,
    maxRecordsPerPartition,
    initialBackoffMs,
    maxBackoffMs: Math.max(maxBackoffMs, initialBackoffMs),
  };
}

function serviceName(service: ServiceLike): string {
  return typeof service.service === 'string' ? service.service : (service.service?.name ?? 'service');
}

/** The account of an MSK cluster ARN (`arn:aws:kafka:<region>:<account>:cluster/…`). */
function accountOf(arn: unknown): string | undefined {
  return typeof arn === 'string' ? /^arn:aws[a-z-]*:kafka:[^:]*:(\d{12}):/.exec(arn)?.[1] : undefined;
}

/**
 * Every `msk` and `kafka` event of the service as a mapping definition. Throws one error
 * naming every event it cannot run as AWS would (bad filter patterns, missing topic,
 * failure handling without provisioned mode, a destination that is the source topic…).
 */
export function readMappings(service: ServiceLike, options: PluginOptions): MappingDefinition[] {
  const mappings: MappingDefinition[] = [];
  const problems: string[] = [];
  const providerTimeout = service.provider.timeout ?? 6;
  const region = service.provider.region ?? 'us-east-1';
  for (const functionKey of service.getAllFunctions()) {
    const fn = service.getFunction(functionKey);
    const functionName = fn.name ?? `${serviceName(service)}-${service.provider.stage ?? 'dev'}-${functionKey}`;
    (fn.events ?? []).forEach((raw, index) => {
      if (!isDict(raw)) return;
      const eventType = 'msk' in raw ? 'msk' : 'kafka' in raw ? 'kafka' : undefined;
      if (!eventType) return;
      const e = raw[eventType];
      const where = `functions.${functionKey}.events[${index}].${eventType}`;
      if (!isDict(e)) {
        problems.push(`${where}: expected an object`);
        return;
      }
      if (e.enabled === false) return;
      if (typeof e.topic !== 'string' || e.topic.length === 0) {
        problems.push(`${where}.topic: required`);
        return;
      }
      const topic = e.topic;
      const filterPatterns = Array.isArray(e.filterPatterns) ? (e.filterPatterns as unknown[]) : [];
      try {
        compileFilterPatterns(filterPatterns);
      } catch (error) {
        problems.push(`${where}.${error instanceof Error ? error.message : String(error)}`);
        return;
      }
      if (e.provisionedPollerConfig === undefined) {
        const needs = PROVISIONED_ONLY.filter((p) => e[p] !== undefined);
        if (needs.length > 0) {
          problems.push(`${where}: ${needs.join(', ')} need provisioned mode (provisionedPollerConfig), as on AWS`);
          return;
        }
      }
      let destination: Destination | undefined;
      const destinations = e.destinations;
      if (destinations !== undefined && e.onFailureDestination !== undefined) {
        problems.push(`${where}: destinations.onFailure and onFailureDestination say the same thing; keep one`);
        return;
      }
      const onFailure = isDict(destinations) ? destinations.onFailure : e.onFailureDestination;
      if (destinations !== undefined && !isDict(destinations)) {
        problems.push(`${where}.destinations: expected { onFailure }`);
        return;
      }
      if (onFailure !== undefined) {
        try {
          destination = parseDestination(onFailure);
        } catch (error) {
          problems.push(`${where}.destinations.onFailure: ${error instanceof Error ? error.message : String(error)}`);
          return;
        }
        if (destination.kind === 'kafka' && destination.topic === topic) {
          problems.push(`${where}.destinations.onFailure: the destination cannot be the source topic (Lambda refuses it to prevent a loop)`);
          return;
        }
      }
      const maximumRetryAttempts = e.maximumRetryAttempts ?? MAPPING_DEFAULTS.maximumRetryAttempts;
      if (typeof maximumRetryAttempts !== 'number' || !Number.isInteger(maximumRetryAttempts) || maximumRetryAttempts < -1 || maximumRetryAttempts > 10000) {
        problems.push(`${where}.maximumRetryAttempts: -1 (unlimited) or 0..10000`);
        return;
      }
      const maximumRecordAge = e.maximumRecordAgeInSeconds ?? MAPPING_DEFAULTS.maximumRecordAgeSeconds;
      if (typeof maximumRecordAge !== 'number' || !(maximumRecordAge === -1 || (Number.isInteger(maximumRecordAge) && maximumRecordAge >= 60 && maximumRecordAge <= 604800))) {
        problems.push(`${where}.maximumRecordAgeInSeconds: -1 (unlimited) or 60..604800`);
        return;
      }
      const eventBrokers = eventType === 'kafka' ? brokerList(e.bootstrapServers) : undefined;
      const brokers = options.brokers ?? eventBrokers ?? ['127.0.0.1:9092'];
      const source: KafkaEventSource =
        eventType === 'msk'
          ? { kind: 'msk', eventSourceArn: typeof e.arn === 'string' ? e.arn : JSON.stringify(e.arn), bootstrapServers: brokers }
          : { kind: 'self-managed', bootstrapServers: brokers };
      const account = options.accountId ?? accountOf(e.arn) ?? '123456789012';
      const batchSize = typeof e.batchSize === 'number' ? e.batchSize : MAPPING_DEFAULTS.batchSize;
      mappings.push({
        functionKey,
        functionName,
        functionArn: `arn:aws:lambda:${region}:${account}:function:${functionName}`,
        eventType,
        topic,
        // Lambda names the group after the mapping's UUID when none is given; a stable name resumes across restarts.
        groupId: typeof e.consumerGroupId === 'string' && e.consumerGroupId.length > 0 ? e.consumerGroupId : `${functionName}-${topic}`,
        batchSize,
        // serverless.yml gives seconds; unset means AWS's default of 500 ms for Kafka.
        batchingWindowMs: typeof e.maximumBatchingWindow === 'number' ? e.maximumBatchingWindow * 1000 : MAPPING_DEFAULTS.batchingWindowMs,
        startingPosition: (typeof e.startingPosition === 'string' ? e.startingPosition : 'TRIM_HORIZON') as StartingPosition,
        startingPositionTimestamp: typeof e.startingPositionTimestamp === 'number' ? e.startingPositionTimestamp : undefined,
        filterPatterns,
        reportBatchItemFailures: Array.isArray(e.functionResponseTypes) && e.functionResponseTypes.includes('ReportBatchItemFailures'),
        maximumRetryAttempts,
        maximumRecordAgeSeconds: maximumRecordAge,
        bisectBatchOnFunctionError: e.bisectBatchOnFunctionError === true,
        destination,
        brokers,
        source,
        timeoutSeconds: fn.timeout ?? providerTimeout,
        maxRecordsPerPartition: options.maxRecordsPerPartition ?? Math.max(MAPPING_DEFAULTS.maxRecordsPerPartition, batchSize * 2),
      });
    });
  }
  if (problems.length > 0) throw new Error(`offline-msk: cannot run these events:\n  ${problems.join('\n  ')}`);
  return mappings;
}
