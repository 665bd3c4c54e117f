/**
 * The serverless plugin: extends the `msk` and `kafka` events with Lambda's failure
 * handling properties, writes them into the event source mappings at package time, and
 * runs the event source mappings under `serverless offline`.
 *
 * Hooks (serverless-offline v14): `offline start` runs init -> ready (waits for SIGINT or
 * SIGTERM) -> end, so the mappings start after `offline:start:init` (the functions are
 * ready) and stop before `offline:start:end`, which exits the process. Plain `offline`
 * runs all of that inside one hook: there the mappings start in the background and stop on
 * SIGINT/SIGTERM, racing serverless-offline's exit; use `offline start` for a clean stop.
 * Packaging never loads kafkajs (./start.ts is loaded when offline starts).
 */
import { compileEventSourceOptions } from './compile';
import type { PluginLog } from './log';
import { line } from './log';
import type { ServiceLike } from './options';
import { EVENT_PROPERTIES } from './options';
import type { RunningOfflineMsk } from './start';
import type * as Start from './start';

interface Serverless {
  service: ServiceLike & {
    provider: { compiledCloudFormationTemplate?: { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> } };
  };
  configSchemaHandler?: { defineFunctionEventProperties?(provider: string, event: string, schema: unknown): void };
  getProvider(name: string): { naming: { getLambdaLogicalId(functionKey: string): string } };
}

const CONSOLE_LOG: PluginLog = {
  debug: () => undefined,
  info: (m) => console.error(m),
  notice: (m) => console.error(m),
  warning: (m) => console.error(m),
  error: (m) => console.error(m),
};

export class OfflineMskPlugin {
  readonly hooks: Record<string, () => unknown>;
  readonly #serverless: Serverless;
  readonly #cliOptions: Record<string, unknown>;
  readonly #log: PluginLog;
  #starting: Promise<RunningOfflineMsk> | undefined;

  constructor(serverless: Serverless, cliOptions?: Record<string, unknown>, utils?: { log?: PluginLog }) {
    this.#serverless = serverless;
    this.#cliOptions = cliOptions ?? {};
    this.#log = utils?.log ?? CONSOLE_LOG;
    const schema = serverless.configSchemaHandler;
    if (schema && typeof schema.defineFunctionEventProperties === 'function') {
      for (const event of ['msk', 'kafka']) schema.defineFunctionEventProperties('aws', event, { properties: EVENT_PROPERTIES });
    }
    this.hooks = {
      'after:offline:start:init': () => this.start(),
      'before:offline:start:end': () => this.stop(),
      'before:offline:start': () => this.#startInBackground(),
      'after:package:compileEvents': () => this.#compile(),
    };
  }

  start(): Promise<RunningOfflineMsk> {
    if (this.#starting) return this.#starting;
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded when offline starts only: packaging never loads kafkajs
    const { startOfflineMsk } = require('./start') as typeof Start;
    this.#starting = startOfflineMsk({ serverless: this.#serverless, cliOptions: this.#cliOptions, log: this.#log });
    return this.#starting;
  }

  async stop(): Promise<void> {
    const starting = this.#starting;
    this.#starting = undefined;
    const running = await starting?.catch(() => undefined);
    await running?.stop();
  }

  #startInBackground(): void {
    this.start().catch((error: unknown) => this.#log.error(line(error instanceof Error ? error.message : String(error))));
    const stopOnSignal = () => {
      this.stop().catch((error: unknown) => this.#log.error(line(error instanceof Error ? error.message : String(error))));
    };
    process.once('SIGINT', stopOnSignal);
    process.once('SIGTERM', stopOnSignal);
  }

  #compile(): void {
    const service = this.#serverless.service;
    const provider = this.#serverless.getProvider('aws');
    compileEventSourceOptions({
      service,
      resources: service.provider.compiledCloudFormationTemplate?.Resources ?? {},
      lambdaLogicalId: (functionKey) => provider.naming.getLambdaLogicalId(functionKey),
    });
  }
}
