/**
 * The thread that polls Kafka: every event source mapping's kafkajs consumer, the mapping
 * itself (batches, retries, commits), the events it builds, and the on-failure
 * destination writes run here, off the serverless process' main thread, which only
 * invokes the functions (./invoke.ts) and logs. Messages:
 *
 *   main -> poller: { type: 'result', id, result } | { type: 'stop' }
 *   poller -> main: { type: 'invoke', id, functionKey, event } | { type: 'log', level, message }
 *                   | { type: 'started' } | { type: 'failed', error } | { type: 'fatal', error } | { type: 'stopped' }
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { InvokeResult } from './mapping';
import type { PluginLog } from './log';
import type { MappingDefinition, PluginOptions } from './options';
import { runMappings } from './sources';

export type ToPoller = { type: 'result'; id: number; result: InvokeResult } | { type: 'stop' };
export type FromPoller =
  | { type: 'invoke'; id: number; functionKey: string; event: unknown }
  | { type: 'log'; level: keyof PluginLog; message: string }
  | { type: 'started' }
  | { type: 'failed'; error: string }
  | { type: 'fatal'; error: string }
  | { type: 'stopped' };

export interface PollerData {
  mappings: MappingDefinition[];
  options: PluginOptions;
}

const port = parentPort;
if (!port) throw new Error('offline-msk: the poller runs in a worker thread');
const post = (message: FromPoller) => port.postMessage(message);
const data = workerData as PollerData;

const at = (level: keyof PluginLog) => (message: string) => post({ type: 'log', level, message });
const log: PluginLog = { debug: at('debug'), info: at('info'), notice: at('notice'), warning: at('warning'), error: at('error') };

const answers = new Map<number, (result: InvokeResult) => void>();
let next = 0;

const running = runMappings({
  mappings: data.mappings,
  options: data.options,
  log,
  invoke: (functionKey, event) =>
    new Promise<InvokeResult>((resolve) => {
      next += 1;
      answers.set(next, resolve);
      post({ type: 'invoke', id: next, functionKey, event });
    }),
  onFatal: (error) => post({ type: 'fatal', error: error.message }),
});
running.then(
  () => post({ type: 'started' }),
  (error: unknown) => post({ type: 'failed', error: error instanceof Error ? error.message : String(error) }),
);

port.on('message', (message: ToPoller) => {
  if (message.type === 'result') {
    const answer = answers.get(message.id);
    answers.delete(message.id);
    answer?.(message.result);
    return;
  }
  void running
    .then((r) => r.stop(), () => undefined)
    .finally(() => post({ type: 'stopped' }));
});
