/**
 * The local event source mappings for `serverless offline`: reads the options, and runs
 * one event source mapping per `msk` and `kafka` event (./sources.ts), invoking the
 * functions in the serverless process (./invoke.ts). Loaded by ./plugin.ts when offline
 * starts, so packaging never loads kafkajs.
 */
import type { PluginLog } from './log';
import { line } from './log';
import { createInvoker } from './invoke';
import type { MappingDefinition, ServiceLike } from './options';
import { describeConnection, readMappings, readPluginOptions } from './options';
import { runMappings } from './sources';

export interface ServerlessLike {
  service: ServiceLike;
}

export interface RunningOfflineMsk {
  readonly mappings: readonly MappingDefinition[];
  stop(): Promise<void>;
}

type Dict = Record<string, unknown>;

/** serverless-offline's options as it merges them: custom['serverless-offline'], then the command line. */
export function offlineOptions(service: ServiceLike, cliOptions: Dict): Dict {
  const custom = service.custom?.['serverless-offline'];
  return { ...(typeof custom === 'object' && custom !== null ? (custom as Dict) : {}), ...cliOptions };
}

function describe(m: MappingDefinition): string {
  const failureHandling = [
    m.reportBatchItemFailures ? 'ReportBatchItemFailures' : undefined,
    `retries ${m.maximumRetryAttempts < 0 ? (m.destination ? '-1 (10 with a destination)' : 'unlimited') : m.maximumRetryAttempts}`,
    m.maximumRecordAgeSeconds >= 0 ? `record age ${m.maximumRecordAgeSeconds} s` : undefined,
    m.bisectBatchOnFunctionError ? 'bisect' : undefined,
    m.destination
      ? `on failure ${m.destination.kind === 'kafka' ? `kafka://${m.destination.topic}` : m.destination.kind}`
      : 'no on-failure destination',
  ].filter((s) => s !== undefined);
  return (
    `${m.eventType} ${m.topic} -> ${m.functionName} (group ${m.groupId}, ${describeConnection(m.connection)}, batchSize ${m.batchSize}, window ${m.batchingWindowMs} ms, ` +
    `${m.startingPosition}, ${m.filterPatterns.length} filter pattern(s), ${failureHandling.join(', ')})`
  );
}

/** Starts one event source mapping per `msk`/`kafka` event. */
export async function startOfflineMsk(params: {
  serverless: ServerlessLike;
  cliOptions: Dict;
  log: PluginLog;
  env?: NodeJS.ProcessEnv;
  /** Called when a mapping gave up (its consumer could not be restarted) and every mapping stopped. */
  onFatal?: (error: Error) => void;
}): Promise<RunningOfflineMsk> {
  const { serverless, log } = params;
  const service = serverless.service;
  const options = readPluginOptions(service, params.env ?? process.env);
  const mappings = readMappings(service, options);
  if (mappings.length === 0) {
    log.info(line('no msk or kafka events'));
    return { mappings, stop: () => Promise.resolve() };
  }

  const functions = [
    ...new Map(mappings.map((m) => [m.functionKey, { functionKey: m.functionKey, timeoutSeconds: m.timeoutSeconds }])).values(),
  ];
  const invoker = await createInvoker(serverless, offlineOptions(service, params.cliOptions), functions);
  let running: Awaited<ReturnType<typeof runMappings>>;
  try {
    running = await runMappings({
      mappings,
      options,
      log,
      invoke: (functionKey, event) => invoker.invoke(functionKey, event),
      ...(params.onFatal ? { onFatal: params.onFatal } : {}),
    });
  } catch (error) {
    await invoker.cleanup().catch(() => undefined);
    throw new Error(`offline-msk: ${error instanceof Error ? error.message : String(error)}`);
  }
  for (const m of mappings) log.notice(line(describe(m)));
  log.notice(line(`${mappings.length} event source mapping(s) running`));

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      await running.stop();
      await invoker.cleanup().catch(() => undefined);
      log.notice(line(`stopped ${mappings.length} event source mapping(s)`));
    })();
    return stopped;
  };
  return { mappings, stop };
}
