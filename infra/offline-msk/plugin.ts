/**
 * The local MSK event source for `serverless offline`: reads every function's `msk` and
 * `kafka` events from the service, and runs one event source mapping per event against
 * the real broker (src/kafka/event-source), invoking the function through
 * serverless-offline's Lambda API. Loaded lazily by ./index.cjs when offline starts.
 */
import net from 'node:net';
import type { Kafka } from 'kafkajs';
import { loadConfig } from '../../src/config';
import { createKafka } from '../../src/kafka/client';
import { createLogger } from '../../src/logger';
import { compileFilterPatterns } from '../../src/kafka/filter-patterns';
import { MAPPING_DEFAULTS, startKafkaEventSource } from '../../src/kafka/event-source';
import type { EventSourceLog, RunningEventSource, StartingPosition } from '../../src/kafka/event-source';
import type { KafkaEventSource } from '../../src/kafka/msk-event';
import { createOfflineInvoker } from './invoke';

/** The parts of serverless' `service` object this plugin reads. */
export interface ServiceLike {
  service?: string | { name?: string };
  provider: { environment?: Record<string, unknown>; timeout?: number };
  custom?: Record<string, unknown>;
  getAllFunctions(): string[];
  getFunction(key: string): { name?: string; timeout?: number; events?: unknown[] };
}

/** serverless' log utils (the third plugin constructor argument). */
export interface PluginLog {
  debug(message: string): void;
  info(message: string): void;
  notice(message: string): void;
  warning(message: string): void;
  error(message: string): void;
}

export interface MappingDefinition {
  functionKey: string;
  functionName: string;
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
  /** Where the consumer connects. */
  brokers: string[];
  /** What the event says about its source. */
  source: KafkaEventSource;
  invokeTimeoutMs: number;
}

export interface OfflineOptions {
  host: string;
  lambdaPort: number;
}

type Dict = Record<string, unknown>;

function isDict(v: unknown): v is Dict {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function brokerList(value: unknown): string[] | undefined {
  if (typeof value === 'string') {
    const list = value
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
    return list.length > 0 ? list : undefined;
  }
  if (Array.isArray(value) && value.every((v) => typeof v === 'string') && value.length > 0) return value;
  return undefined;
}

/** Provider environment entries that are plain values (CloudFormation refs are left out). */
export function serviceEnvironment(service: ServiceLike, env: NodeJS.ProcessEnv): Record<string, string | undefined> {
  const provider: Record<string, string> = {};
  for (const [k, v] of Object.entries(service.provider.environment ?? {})) {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') provider[k] = String(v);
  }
  return { ...env, ...provider };
}

/** serverless-offline's own precedence: its defaults, then custom['serverless-offline'], then the CLI. */
export function offlineOptions(service: ServiceLike, cliOptions: Dict): OfflineOptions {
  const custom = isDict(service.custom?.['serverless-offline']) ? service.custom['serverless-offline'] : {};
  const merged = { host: 'localhost', lambdaPort: 3002, ...custom, ...cliOptions };
  const lambdaPort = Number(merged.lambdaPort);
  if (!Number.isInteger(lambdaPort) || lambdaPort <= 0) throw new Error(`offline-msk: invalid lambdaPort ${String(merged.lambdaPort)}`);
  return { host: String(merged.host), lambdaPort };
}

/**
 * Every `msk` and `kafka` event of the service as a mapping definition. Throws one error
 * naming every event it cannot run (bad filter patterns, missing topic...).
 */
export function readMappings(service: ServiceLike, env: Record<string, string | undefined>): MappingDefinition[] {
  const options = isDict(service.custom?.offlineMsk) ? service.custom.offlineMsk : {};
  const overrideBrokers = brokerList(options.brokers);
  const defaultResponseTypes: unknown[] = Array.isArray(options.functionResponseTypes) ? options.functionResponseTypes : [];
  const mappings: MappingDefinition[] = [];
  const problems: string[] = [];
  const providerTimeout = service.provider.timeout ?? 6;
  for (const functionKey of service.getAllFunctions()) {
    const fn = service.getFunction(functionKey);
    const functionName = fn.name ?? functionKey;
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
      const filterPatterns = Array.isArray(e.filterPatterns) ? (e.filterPatterns as unknown[]) : [];
      try {
        compileFilterPatterns(filterPatterns);
      } catch (error) {
        problems.push(`${where}.${error instanceof Error ? error.message : String(error)}`);
        return;
      }
      const eventBrokers = eventType === 'kafka' ? brokerList(e.bootstrapServers) : undefined;
      const brokers = overrideBrokers ?? eventBrokers ?? brokerList(env.KAFKA_BROKERS) ?? ['127.0.0.1:9092'];
      const source: KafkaEventSource =
        eventType === 'msk'
          ? { kind: 'msk', eventSourceArn: typeof e.arn === 'string' ? e.arn : JSON.stringify(e.arn), bootstrapServers: brokers }
          : { kind: 'self-managed', bootstrapServers: brokers };
      const startingPosition = (typeof e.startingPosition === 'string' ? e.startingPosition : 'TRIM_HORIZON') as StartingPosition;
      const timeoutSeconds = fn.timeout ?? providerTimeout;
      mappings.push({
        functionKey,
        functionName,
        eventType,
        topic: e.topic,
        // Lambda names the group after the mapping's UUID when none is given; a stable name resumes across restarts.
        groupId: typeof e.consumerGroupId === 'string' && e.consumerGroupId.length > 0 ? e.consumerGroupId : `${functionName}-${e.topic}`,
        batchSize: typeof e.batchSize === 'number' ? e.batchSize : MAPPING_DEFAULTS.batchSize,
        // serverless.yml gives seconds; unset means AWS's default of 500 ms for Kafka.
        batchingWindowMs:
          typeof e.maximumBatchingWindow === 'number' ? e.maximumBatchingWindow * 1000 : MAPPING_DEFAULTS.batchingWindowMs,
        startingPosition,
        startingPositionTimestamp: typeof e.startingPositionTimestamp === 'number' ? e.startingPositionTimestamp : undefined,
        filterPatterns,
        // The event's functionResponseTypes, else custom.offlineMsk.functionResponseTypes (for
        // services that set FunctionResponseTypes through resources.extensions instead).
        reportBatchItemFailures: (Array.isArray(e.functionResponseTypes) ? e.functionResponseTypes : defaultResponseTypes).includes(
          'ReportBatchItemFailures',
        ),
        maximumRetryAttempts:
          typeof e.maximumRetryAttempts === 'number'
            ? e.maximumRetryAttempts
            : typeof options.maximumRetryAttempts === 'number'
              ? options.maximumRetryAttempts
              : MAPPING_DEFAULTS.maximumRetryAttempts,
        brokers,
        source,
        invokeTimeoutMs: timeoutSeconds * 1000 + 5_000,
      });
    });
  }
  if (problems.length > 0) throw new Error(`offline-msk: cannot run these events:\n  ${problems.join('\n  ')}`);
  return mappings;
}

function eventSourceLog(log: PluginLog): EventSourceLog {
  const line = (message: string, extra?: Record<string, unknown>) =>
    extra === undefined ? `offline-msk: ${message}` : `offline-msk: ${message} ${JSON.stringify(extra)}`;
  return {
    debug: (m, x) => log.debug(line(m, x)),
    info: (m, x) => log.info(line(m, x)),
    warn: (m, x) => log.warning(line(m, x)),
    error: (m, x) => log.error(line(m, x)),
  };
}

/** Waits until serverless-offline's Lambda API accepts connections. */
export async function waitForPort(host: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host, port });
      socket.setTimeout(500);
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('timeout', () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() >= deadline) throw new Error(`offline-msk: nothing listens on ${host}:${port} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export interface RunningOfflineMsk {
  readonly sources: readonly RunningEventSource[];
  stop(): Promise<void>;
}

/** Starts one event source mapping per `msk`/`kafka` event. */
export async function startOfflineMsk(params: {
  service: ServiceLike;
  cliOptions: Dict;
  log: PluginLog;
  env?: NodeJS.ProcessEnv;
  waitForLambdaApiMs?: number;
}): Promise<RunningOfflineMsk> {
  const env = serviceEnvironment(params.service, params.env ?? process.env);
  const mappings = readMappings(params.service, env);
  const offline = offlineOptions(params.service, params.cliOptions);
  const log = eventSourceLog(params.log);
  if (mappings.length === 0) {
    params.log.info('offline-msk: no msk or kafka events');
    return { sources: [], stop: () => Promise.resolve() };
  }
  if (params.waitForLambdaApiMs) await waitForPort(offline.host, offline.lambdaPort, params.waitForLambdaApiMs);

  const clients = new Map<string, Kafka>();
  const kafkaFor = (brokers: string[]): Kafka => {
    const key = brokers.join(',');
    let kafka = clients.get(key);
    if (!kafka) {
      const config = loadConfig({ ...env, KAFKA_BROKERS: key });
      kafka = createKafka({ kafka: config.kafka, brokers, clientId: 'offline-msk', logger: createLogger(config) });
      clients.set(key, kafka);
    }
    return kafka;
  };

  const started = await Promise.allSettled(
    mappings.map((m) =>
      startKafkaEventSource({
        kafka: kafkaFor(m.brokers),
        topic: m.topic,
        groupId: m.groupId,
        startingPosition: m.startingPosition,
        startingPositionTimestamp: m.startingPositionTimestamp,
        log,
        invoke: createOfflineInvoker({ ...offline, functionName: m.functionName, timeoutMs: m.invokeTimeoutMs }),
        settings: {
          functionName: m.functionName,
          batchSize: m.batchSize,
          batchingWindowMs: m.batchingWindowMs,
          source: m.source,
          filter: compileFilterPatterns(m.filterPatterns),
          reportBatchItemFailures: m.reportBatchItemFailures,
          maximumRetryAttempts: m.maximumRetryAttempts,
          initialBackoffMs: MAPPING_DEFAULTS.initialBackoffMs,
          maxBackoffMs: MAPPING_DEFAULTS.maxBackoffMs,
          maxBufferedRecords: Math.max(1_000, m.batchSize * 4),
          maxEventBytes: MAPPING_DEFAULTS.maxEventBytes,
        },
      }),
    ),
  );
  const sources = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = started.flatMap((r, i) => (r.status === 'rejected' ? [`${mappings[i]!.functionName}: ${String(r.reason)}`] : []));
  const stop = async () => {
    await Promise.all(sources.map((s) => s.stop()));
    params.log.notice(`offline-msk: stopped ${sources.length} event source mapping(s)`);
  };
  if (failed.length > 0) {
    await stop();
    throw new Error(`offline-msk: could not start:\n  ${failed.join('\n  ')}`);
  }
  for (const m of mappings) {
    params.log.notice(
      `offline-msk: ${m.eventType} ${m.topic} -> ${m.functionName} (group ${m.groupId}, batchSize ${m.batchSize}, ` +
        `window ${m.batchingWindowMs} ms, ${m.startingPosition}, ${m.filterPatterns.length} filter pattern(s)` +
        `${m.reportBatchItemFailures ? ', ReportBatchItemFailures' : ''})`,
    );
  }
  params.log.notice(`offline-msk: ${sources.length} event source mapping(s) running`);
  return { sources, stop };
}
