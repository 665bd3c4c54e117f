/**
 * The local event source mappings for `serverless offline`: one per `msk` and `kafka`
 * event of the service, each consuming its topic from the broker with its consumer group,
 * invoking the function in the serverless process (./invoke.ts), and writing what Lambda
 * gives up on to the event's on-failure destination. Loaded by ./plugin.ts when offline
 * starts, so packaging never loads kafkajs.
 */
import { Kafka, logLevel } from 'kafkajs';
import type { Producer } from 'kafkajs';
import { compileFilterPatterns } from './filter';
import type { Destination, FailureContext } from './failure';
import { invocationRecord, kafkaDestinationMessages } from './failure';
import { startKafkaEventSource } from './kafka-source';
import type { RunningEventSource } from './kafka-source';
import type { PluginLog } from './log';
import { eventSourceLog, kafkaLogCreator, line } from './log';
import type { Failure } from './mapping';
import { MAPPING_DEFAULTS } from './mapping';
import { createInvoker } from './invoke';
import type { Invoker } from './invoke';
import type { MappingDefinition, PluginOptions, ServiceLike } from './options';
import { readMappings, readPluginOptions } from './options';

export interface ServerlessLike {
  service: ServiceLike;
}

export interface RunningOfflineMsk {
  readonly sources: readonly RunningEventSource[];
  readonly mappings: readonly MappingDefinition[];
  stop(): Promise<void>;
}

type Dict = Record<string, unknown>;

/** How long a write to a Kafka on-failure destination may take before it is tried again. */
const DESTINATION_TIMEOUT_MS = 30_000;

/** serverless-offline's options as it merges them: custom['serverless-offline'], then the command line. */
export function offlineOptions(service: ServiceLike, cliOptions: Dict): Dict {
  const custom = service.custom?.['serverless-offline'];
  return { ...(typeof custom === 'object' && custom !== null ? (custom as Dict) : {}), ...cliOptions };
}

function createClient(brokers: string[], options: PluginOptions, log: PluginLog): Kafka {
  return new Kafka({
    clientId: 'offline-msk',
    brokers,
    ssl: options.ssl,
    ...(options.sasl ? { sasl: options.sasl } : {}),
    connectionTimeout: 3_000,
    requestTimeout: 30_000,
    logLevel: logLevel.WARN,
    logCreator: kafkaLogCreator(log),
  });
}

/** A destination writer for one mapping: a producer for kafka://, a loud log line for what is not local. */
function destinationWriter(params: {
  mapping: MappingDefinition;
  destination: Destination;
  producer: () => Promise<Producer>;
  log: PluginLog;
}): (failure: Failure) => Promise<void> {
  const { mapping, destination, log } = params;
  const context: FailureContext = { functionArn: mapping.functionArn, source: mapping.source };
  return async (failure) => {
    if (destination.kind === 'kafka') {
      const producer = await params.producer();
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          producer.send({ topic: destination.topic, acks: -1, timeout: DESTINATION_TIMEOUT_MS, messages: kafkaDestinationMessages(failure, context) }),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no acknowledgement from ${destination.topic} within ${DESTINATION_TIMEOUT_MS / 1000} s`)), DESTINATION_TIMEOUT_MS);
          }),
        ]);
      } finally {
        clearTimeout(timer);
      }
      return;
    }
    const target = destination.kind === 'reference' ? `a CloudFormation reference ${JSON.stringify(destination.value)}` : `the ${destination.kind.toUpperCase()} destination ${destination.arn}`;
    const record = invocationRecord(failure, context, destination.kind === 'reference' ? 'sqs' : destination.kind);
    log.error(
      line(
        `${mapping.functionName}: ${failure.records.length} record(s) failed (${failure.condition}); on AWS, Lambda sends ${target} ` +
          `this invocation record, which cannot be delivered locally:\n${JSON.stringify(record, null, 2)}`,
      ),
    );
  };
}

/** Starts one event source mapping per `msk`/`kafka` event. */
export async function startOfflineMsk(params: {
  serverless: ServerlessLike;
  cliOptions: Dict;
  log: PluginLog;
  env?: NodeJS.ProcessEnv;
  /** Called when a mapping gave up (its consumer could not be restarted) and everything stopped. */
  onFatal?: (error: Error) => void;
}): Promise<RunningOfflineMsk> {
  const { serverless, log: pluginLog } = params;
  const service = serverless.service;
  const options = readPluginOptions(service, params.env ?? process.env);
  const mappings = readMappings(service, options);
  if (mappings.length === 0) {
    pluginLog.info(line('no msk or kafka events'));
    return { sources: [], mappings, stop: () => Promise.resolve() };
  }
  const log = eventSourceLog(pluginLog);

  const functions = [...new Map(mappings.map((m) => [m.functionKey, { functionKey: m.functionKey, timeoutSeconds: m.timeoutSeconds }])).values()];
  const invoker: Invoker = await createInvoker(serverless, offlineOptions(service, params.cliOptions), functions);

  const clients = new Map<string, { kafka: Kafka; producer?: Promise<Producer> }>();
  const clientFor = (brokers: string[]) => {
    const key = brokers.join(',');
    let client = clients.get(key);
    if (!client) clients.set(key, (client = { kafka: createClient(brokers, options, pluginLog) }));
    return client;
  };
  const producerFor = (brokers: string[]) => () => {
    const client = clientFor(brokers);
    if (!client.producer) {
      const producer = client.kafka.producer({ allowAutoTopicCreation: false, idempotent: false, maxInFlightRequests: 1 });
      client.producer = producer.connect().then(
        () => producer,
        (error: unknown) => {
          client.producer = undefined;
          throw error;
        },
      );
    }
    return client.producer;
  };

  let stopped: Promise<void> | undefined;
  const sources: RunningEventSource[] = [];
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      await Promise.all(sources.map((s) => s.stop().catch((e: unknown) => log.error(`stopping ${s.groupId}: ${String(e)}`))));
      for (const client of clients.values()) await client.producer?.then((p) => p.disconnect()).catch(() => undefined);
      await invoker.cleanup().catch(() => undefined);
      pluginLog.notice(line(`stopped ${sources.length} event source mapping(s)`));
    })();
    return stopped;
  };
  const onFatal = (error: Error) => {
    pluginLog.error(line(`every event source mapping stops: ${error.message}`));
    void stop().then(() => params.onFatal?.(error));
  };

  const started = await Promise.allSettled(
    mappings.map((m) =>
      startKafkaEventSource({
        kafka: clientFor(m.brokers).kafka,
        topic: m.topic,
        groupId: m.groupId,
        startingPosition: m.startingPosition,
        startingPositionTimestamp: m.startingPositionTimestamp,
        log,
        onFatal,
        invoke: (event) => invoker.invoke(m.functionKey, event),
        ...(m.destination ? { sendToDestination: destinationWriter({ mapping: m, destination: m.destination, producer: producerFor(m.brokers), log: pluginLog }) } : {}),
        settings: {
          functionName: m.functionName,
          batchSize: m.batchSize,
          batchingWindowMs: m.batchingWindowMs,
          source: m.source,
          filter: compileFilterPatterns(m.filterPatterns),
          reportBatchItemFailures: m.reportBatchItemFailures,
          maximumRetryAttempts: m.maximumRetryAttempts,
          maximumRecordAgeSeconds: m.maximumRecordAgeSeconds,
          bisectBatchOnFunctionError: m.bisectBatchOnFunctionError,
          hasDestination: m.destination !== undefined,
          initialBackoffMs: options.initialBackoffMs,
          maxBackoffMs: options.maxBackoffMs,
          maxRecordsPerPartition: m.maxRecordsPerPartition,
          maxEventBytes: MAPPING_DEFAULTS.maxEventBytes,
        },
      }),
    ),
  );
  for (const result of started) if (result.status === 'fulfilled') sources.push(result.value);
  const failed = started.flatMap((r, i) => (r.status === 'rejected' ? [`${mappings[i]!.functionName}: ${r.reason instanceof Error ? r.reason.message : String(r.reason)}`] : []));
  if (failed.length > 0) {
    await stop();
    throw new Error(`offline-msk: could not start:\n  ${failed.join('\n  ')}`);
  }
  for (const m of mappings) {
    const failureHandling = [
      m.reportBatchItemFailures ? 'ReportBatchItemFailures' : undefined,
      `retries ${m.maximumRetryAttempts < 0 ? (m.destination ? '-1 (10 with a destination)' : 'unlimited') : m.maximumRetryAttempts}`,
      m.maximumRecordAgeSeconds >= 0 ? `record age ${m.maximumRecordAgeSeconds} s` : undefined,
      m.bisectBatchOnFunctionError ? 'bisect' : undefined,
      m.destination ? `on failure ${m.destination.kind === 'kafka' ? `kafka://${m.destination.topic}` : m.destination.kind}` : 'no on-failure destination',
    ].filter((s) => s !== undefined);
    pluginLog.notice(
      line(
        `${m.eventType} ${m.topic} -> ${m.functionName} (group ${m.groupId}, batchSize ${m.batchSize}, window ${m.batchingWindowMs} ms, ` +
          `${m.startingPosition}, ${m.filterPatterns.length} filter pattern(s), ${failureHandling.join(', ')})`,
      ),
    );
  }
  pluginLog.notice(line(`${sources.length} event source mapping(s) running`));
  return { sources, mappings, stop };
}
