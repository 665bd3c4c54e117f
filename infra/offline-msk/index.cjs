'use strict';
/**
 * serverless plugin `./infra/offline-msk`: lets `serverless offline` play the Lambda event
 * source mapping for `msk` and `kafka` events against a real broker.
 *
 * serverless loads plugins with require(), so this entry is plain CommonJS and loads the
 * TypeScript implementation (./plugin.ts, through tsx's scoped require, which registers
 * nothing globally) only when offline starts: `serverless package` and `deploy` never
 * load tsx or kafkajs. At package time it only adds what serverless does not compile
 * itself: FunctionResponseTypes (partial batch responses) and MaximumRetryAttempts on
 * the event source mappings that ask for them, and `maximumBatchingWindow: 0`, which
 * serverless drops (it only sets a truthy window), leaving AWS's 500 ms default on the
 * deployed mapping while the local one would use 0.
 *
 * Hooks (serverless-offline v14): `offline start` runs init -> ready (waits for SIGINT or
 * SIGTERM) -> end, so the pollers start after `offline:start:init` (the Lambda API is up)
 * and stop before `offline:start:end`, which exits the process. Plain `offline` runs all
 * of that inside one hook: there the pollers start once the Lambda API answers and stop
 * on SIGINT/SIGTERM, racing serverless-offline's exit; use `offline start` for a clean stop.
 */
const RESPONSE_TYPES = ['ReportBatchItemFailures'];

class OfflineMskPlugin {
  constructor(serverless, cliOptions, utils) {
    this.serverless = serverless;
    this.cliOptions = cliOptions || {};
    this.log = (utils && utils.log) || {
      debug: () => undefined,
      info: (m) => console.error(m),
      notice: (m) => console.error(m),
      warning: (m) => console.error(m),
      error: (m) => console.error(m),
    };
    this.running = undefined;
    this.starting = undefined;

    const schema = serverless.configSchemaHandler;
    if (schema && typeof schema.defineFunctionEventProperties === 'function') {
      for (const event of ['msk', 'kafka']) {
        schema.defineFunctionEventProperties('aws', event, {
          properties: {
            functionResponseTypes: { type: 'array', items: { enum: RESPONSE_TYPES }, maxItems: 1 },
            maximumRetryAttempts: { type: 'integer', minimum: -1, maximum: 10000 },
          },
        });
      }
    }

    this.hooks = {
      'after:offline:start:init': () => this.start(0),
      'before:offline:start:end': () => this.stop(),
      'before:offline:start': () => this.startInBackground(),
      'after:package:compileEvents': () => this.compileEventSourceOptions(),
    };
  }

  implementation() {
    // Scoped to this require: tsx registers no global hook in the serverless process.
    const { require: tsxRequire } = require('tsx/cjs/api');
    return tsxRequire('./plugin.ts', __filename);
  }

  async start(waitForLambdaApiMs) {
    if (this.starting) return this.starting;
    const { startOfflineMsk } = this.implementation();
    this.starting = startOfflineMsk({
      service: this.serverless.service,
      cliOptions: this.cliOptions,
      log: this.log,
      waitForLambdaApiMs,
    }).then((running) => {
      this.running = running;
      return running;
    });
    return this.starting;
  }

  startInBackground() {
    this.start(60000).catch((error) => {
      this.log.error(`offline-msk: ${error.message}`);
    });
    const stopOnSignal = () => {
      this.stop().catch((error) => this.log.error(`offline-msk: ${error.message}`));
    };
    process.once('SIGINT', stopOnSignal);
    process.once('SIGTERM', stopOnSignal);
  }

  async stop() {
    if (!this.starting) return;
    const starting = this.starting;
    this.starting = undefined;
    const running = await starting.catch(() => undefined);
    this.running = undefined;
    if (running) await running.stop();
  }

  compileEventSourceOptions() {
    const service = this.serverless.service;
    const provider = this.serverless.getProvider('aws');
    const resources = service.provider.compiledCloudFormationTemplate.Resources;
    for (const functionKey of service.getAllFunctions()) {
      const fn = service.getFunction(functionKey);
      const lambdaLogicalId = provider.naming.getLambdaLogicalId(functionKey);
      for (const raw of fn.events || []) {
        const type = raw && (raw.msk ? 'msk' : raw.kafka ? 'kafka' : undefined);
        if (!type) continue;
        const event = raw[type];
        if (!event.functionResponseTypes && event.maximumRetryAttempts === undefined && event.maximumBatchingWindow !== 0) {
          continue;
        }
        const matches = Object.values(resources).filter(
          (r) =>
            r.Type === 'AWS::Lambda::EventSourceMapping' &&
            Array.isArray(r.Properties.Topics) &&
            r.Properties.Topics[0] === event.topic &&
            JSON.stringify(r.Properties.FunctionName).includes(`"${lambdaLogicalId}"`) &&
            (type === 'kafka' || JSON.stringify(r.Properties.EventSourceArn) === JSON.stringify(event.arn)),
        );
        if (matches.length !== 1) {
          throw new Error(`offline-msk: no single compiled event source mapping for ${functionKey} ${type} ${event.topic}`);
        }
        const properties = matches[0].Properties;
        if (event.functionResponseTypes) properties.FunctionResponseTypes = event.functionResponseTypes;
        if (event.maximumRetryAttempts !== undefined) properties.MaximumRetryAttempts = event.maximumRetryAttempts;
        if (event.maximumBatchingWindow === 0) properties.MaximumBatchingWindowInSeconds = 0;
      }
    }
  }
}

module.exports = OfflineMskPlugin;
