/**
 * The local event source mappings for `serverless offline`: the polling, the mappings and
 * the events run in a thread of their own (./poller.ts, ./sources.ts); this main-thread
 * side reads the options, invokes the functions for the poller in the serverless process
 * (./invoke.ts), and logs. Loaded by ./plugin.ts when offline starts, so packaging never
 * loads kafkajs.
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { PluginLog } from './log';
import { line } from './log';
import { createInvoker } from './invoke';
import type { MappingDefinition, ServiceLike } from './options';
import { readMappings, readPluginOptions } from './options';
import type { FromPoller, PollerData, ToPoller } from './poller';

export interface ServerlessLike {
  service: ServiceLike;
}

export interface RunningOfflineMsk {
  readonly mappings: readonly MappingDefinition[];
  stop(): Promise<void>;
}

type Dict = Record<string, unknown>;

/** How long a stop waits for the poller (the invocations in flight finish, their offsets are committed). */
const STOP_TIMEOUT_MS = 60_000;

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
    m.destination ? `on failure ${m.destination.kind === 'kafka' ? `kafka://${m.destination.topic}` : m.destination.kind}` : 'no on-failure destination',
  ].filter((s) => s !== undefined);
  return (
    `${m.eventType} ${m.topic} -> ${m.functionName} (group ${m.groupId}, batchSize ${m.batchSize}, window ${m.batchingWindowMs} ms, ` +
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

  const functions = [...new Map(mappings.map((m) => [m.functionKey, { functionKey: m.functionKey, timeoutSeconds: m.timeoutSeconds }])).values()];
  const invoker = await createInvoker(serverless, offlineOptions(service, params.cliOptions), functions);

  const data: PollerData = { mappings, options };
  const poller = new Worker(path.resolve(__dirname, '..', 'worker.cjs'), { workerData: data });
  const send = (message: ToPoller) => poller.postMessage(message);
  let started: { resolve: () => void; reject: (error: Error) => void } | undefined;
  let stopped: (() => void) | undefined;
  let exited = false;
  let stopping = false;
  poller.on('message', (message: FromPoller) => {
    switch (message.type) {
      case 'invoke':
        void invoker.invoke(message.functionKey, message.event).then((result) => {
          if (!exited) send({ type: 'result', id: message.id, result });
        });
        return;
      case 'log':
        log[message.level](message.message);
        return;
      case 'started':
        started?.resolve();
        return;
      case 'failed':
        started?.reject(new Error(`offline-msk: ${message.error}`));
        return;
      case 'fatal':
        params.onFatal?.(new Error(message.error));
        return;
      case 'stopped':
        stopped?.();
        return;
    }
  });
  poller.on('error', (error) => {
    log.error(line(`the polling thread failed: ${error.stack ?? error.message}`));
    started?.reject(error);
    stopped?.();
  });
  poller.on('exit', (code) => {
    exited = true;
    if (!stopping) log.error(line(`the polling thread exited (code ${code}); no event source mapping runs`));
    started?.reject(new Error(`offline-msk: the polling thread exited (code ${code})`));
    stopped?.();
  });

  let stopPromise: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopPromise ??= (async () => {
      stopping = true;
      if (!exited) {
        let timer: NodeJS.Timeout | undefined;
        await new Promise<void>((resolve) => {
          stopped = resolve;
          timer = setTimeout(() => {
            log.error(line(`the mappings did not stop within ${STOP_TIMEOUT_MS / 1000} s; ending the polling thread`));
            resolve();
          }, STOP_TIMEOUT_MS);
          send({ type: 'stop' });
        });
        clearTimeout(timer);
        await poller.terminate();
      }
      await invoker.cleanup().catch(() => undefined);
      log.notice(line(`stopped ${mappings.length} event source mapping(s)`));
    })();
    return stopPromise;
  };

  try {
    await new Promise<void>((resolve, reject) => (started = { resolve, reject }));
  } catch (error) {
    await stop();
    throw error;
  } finally {
    started = undefined;
  }
  for (const m of mappings) log.notice(line(describe(m)));
  log.notice(line(`${mappings.length} event source mapping(s) running`));
  return { mappings, stop };
}
