/**
 * The event source mappings of a service: one per `msk` and `kafka` event, each consuming
 * its topic from the broker with its consumer group, invoking the function through
 * `invoke`, and writing what Lambda gives up on to the event's on-failure destination.
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import type { Producer, SASLOptions } from 'kafkajs';
import { compileFilterPatterns } from './filter';
import { registerBoundedGzip } from './gzip';
import type { Destination, FailureContext } from './failure';
import { invocationRecord, kafkaDestinationMessages } from './failure';
import { startKafkaEventSource } from './kafka-source';
import type { RunningEventSource } from './kafka-source';
import type { PluginLog } from './log';
import { eventSourceLog, kafkaLogCreator, line } from './log';
import type { Failure, InvokeResult, MappingSettings } from './mapping';
import { MAPPING_DEFAULTS } from './mapping';
import type { Connection, MappingDefinition, PluginOptions, SaslOptions } from './options';

/** How long a write to a Kafka on-failure destination may take before it is tried again. */
const DESTINATION_TIMEOUT_MS = 30_000;

export interface RunningMappings {
  readonly sources: readonly RunningEventSource[];
  stop(): Promise<void>;
}

/** kafkajs' TLS settings: the PEM files read now (the options checked they are readable). */
function tlsSettings(ssl: Connection['ssl']): boolean | ConnectionOptions {
  if (ssl === false) return false;
  if (!ssl.caFile && !ssl.certFile) return true;
  return {
    ...(ssl.caFile ? { ca: [readFileSync(ssl.caFile, 'utf8')] } : {}),
    ...(ssl.certFile ? { cert: readFileSync(ssl.certFile, 'utf8') } : {}),
    ...(ssl.keyFile ? { key: readFileSync(ssl.keyFile, 'utf8') } : {}),
  };
}

/** kafkajs types each mechanism apart. */
function kafkaSasl({ mechanism, username, password }: SaslOptions): SASLOptions {
  switch (mechanism) {
    case 'plain':
      return { mechanism, username, password };
    case 'scram-sha-256':
      return { mechanism, username, password };
    case 'scram-sha-512':
      return { mechanism, username, password };
  }
}

/** A kafkajs client; gzip batches it reads inflate within a bound (./gzip.ts). */
function createClient(brokers: string[], connection: Connection, log: PluginLog): Kafka {
  registerBoundedGzip();
  return new Kafka({
    clientId: 'offline-msk',
    brokers,
    ssl: tlsSettings(connection.ssl),
    ...(connection.sasl ? { sasl: kafkaSasl(connection.sasl) } : {}),
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
          producer.send({
            topic: destination.topic,
            acks: -1,
            timeout: DESTINATION_TIMEOUT_MS,
            messages: kafkaDestinationMessages(failure, context),
          }),
          new Promise<never>((_, reject) => {
            timer = setTimeout(
              () => reject(new Error(`no acknowledgement from ${destination.topic} within ${DESTINATION_TIMEOUT_MS / 1000} s`)),
              DESTINATION_TIMEOUT_MS,
            );
          }),
        ]);
      } finally {
        clearTimeout(timer);
      }
      return;
    }
    const target =
      destination.kind === 'reference'
        ? `a CloudFormation reference ${JSON.stringify(destination.value)}`
        : `the ${destination.kind.toUpperCase()} destination ${destination.arn}`;
    const record = invocationRecord(failure, context, destination.kind === 'reference' ? 'sqs' : destination.kind);
    log.error(
      line(
        `${mapping.functionName}: ${failure.records.length} record(s) failed (${failure.condition}); on AWS, Lambda sends ${target} ` +
          `this invocation record, which cannot be delivered locally:\n${JSON.stringify(record, null, 2)}`,
      ),
    );
  };
}

/** The kafkajs clients of the mappings: one per brokers and connection, each with one producer for destinations, made when first needed. */
interface Clients {
  kafkaFor(m: MappingDefinition): Kafka;
  /** The connected producer for `m`'s destination (connected on first use; a failed connect is tried again next time). */
  producerFor(m: MappingDefinition): () => Promise<Producer>;
  /** Disconnects every producer made. */
  disconnect(): Promise<void>;
}

function createClients(log: PluginLog): Clients {
  const clients = new Map<string, { kafka: Kafka; producer?: Promise<Producer> }>();
  const clientFor = (m: MappingDefinition) => {
    const key = JSON.stringify([m.brokers, m.connection]);
    let client = clients.get(key);
    if (!client) clients.set(key, (client = { kafka: createClient(m.brokers, m.connection, log) }));
    return client;
  };
  const producerFor = (m: MappingDefinition) => () => {
    const client = clientFor(m);
    if (!client.producer) {
      // Keyed records go where the Java client's default partitioner puts them (murmur2), as AWS's producer does.
      const producer = client.kafka.producer({
        allowAutoTopicCreation: false,
        idempotent: false,
        maxInFlightRequests: 1,
        createPartitioner: Partitioners.DefaultPartitioner,
      });
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
  return {
    kafkaFor: (m) => clientFor(m).kafka,
    producerFor,
    async disconnect() {
      for (const client of clients.values()) await client.producer?.then((p) => p.disconnect()).catch(() => undefined);
    },
  };
}

/** What the event source of mapping `m` is told of it. */
function sourceSettings(m: MappingDefinition, options: PluginOptions): MappingSettings {
  return {
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
    commitIntervalMs: MAPPING_DEFAULTS.commitIntervalMs,
  };
}

/** Starts one event source mapping per definition; rejects (having stopped the others) if one cannot start. */
export async function runMappings(params: {
  mappings: readonly MappingDefinition[];
  options: PluginOptions;
  log: PluginLog;
  invoke(functionKey: string, event: unknown): Promise<InvokeResult>;
  /** Called when a mapping gave up (its consumer could not be restarted) and everything stopped. */
  onFatal?: (error: Error) => void;
}): Promise<RunningMappings> {
  const { mappings, options, log: pluginLog } = params;
  const log = eventSourceLog(pluginLog);
  const clients = createClients(pluginLog);
  let stopped: Promise<void> | undefined;
  const sources: RunningEventSource[] = [];
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      await Promise.all(sources.map((s) => s.stop().catch((e: unknown) => log.error(`stopping ${s.groupId}: ${String(e)}`))));
      await clients.disconnect();
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
        kafka: clients.kafkaFor(m),
        topic: m.topic,
        groupId: m.groupId,
        startingPosition: m.startingPosition,
        startingPositionTimestamp: m.startingPositionTimestamp,
        log,
        onFatal,
        invoke: (event) => params.invoke(m.functionKey, event),
        ...(m.destination
          ? {
              sendToDestination: destinationWriter({
                mapping: m,
                destination: m.destination,
                producer: clients.producerFor(m),
                log: pluginLog,
              }),
            }
          : {}),
        settings: sourceSettings(m, options),
      }),
    ),
  );
  for (const result of started) if (result.status === 'fulfilled') sources.push(result.value);
  const failed = started.flatMap((r, i) =>
    r.status === 'rejected' ? [`${mappings[i]!.functionName}: ${r.reason instanceof Error ? r.reason.message : String(r.reason)}`] : [],
  );
  if (failed.length > 0) {
    await stop();
    throw new Error(`could not start:\n  ${failed.join('\n  ')}`);
  }
  return { sources, stop };
}
