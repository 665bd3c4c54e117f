/**
 * At package time: what the framework does not compile itself into the event source
 * mappings of `msk` and `kafka` events, written from the event's own properties:
 * FunctionResponseTypes, MaximumRetryAttempts, MaximumRecordAgeInSeconds,
 * BisectBatchOnFunctionError, DestinationConfig.OnFailure, and `maximumBatchingWindow: 0`
 * (the framework only writes a truthy window, leaving AWS's 500 ms default where 0 was
 * asked for). Events AWS would refuse (failure handling without provisioned mode, the
 * destination being the source topic) fail the package, as they would fail the deploy.
 */
import type { PluginOptions, ServiceLike } from './options';
import { readMappings } from './options';

interface Resource {
  Type: string;
  Properties: Record<string, unknown>;
}

export interface CompileContext {
  service: ServiceLike;
  resources: Record<string, Resource>;
  /** The framework's naming of a function's Lambda resource. */
  lambdaLogicalId(functionKey: string): string;
}

type Dict = Record<string, unknown>;

function isDict(v: unknown): v is Dict {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function compileEventSourceOptions(context: CompileContext): void {
  const { service, resources } = context;
  // Every event must be one AWS accepts; this throws naming each one that is not.
  // The secrets events name are AWS's business at deploy time: no local credentials are needed here.
  const options: PluginOptions = {
    brokers: undefined,
    ssl: false,
    sasl: undefined,
    accountId: undefined,
    maxRecordsPerPartition: undefined,
    initialBackoffMs: 1,
    maxBackoffMs: 1,
  };
  readMappings(service, options, 'package');
  for (const functionKey of service.getAllFunctions()) {
    const fn = service.getFunction(functionKey);
    const lambdaLogicalId = context.lambdaLogicalId(functionKey);
    for (const raw of fn.events ?? []) {
      if (!isDict(raw)) continue;
      const type = isDict(raw.msk) ? 'msk' : isDict(raw.kafka) ? 'kafka' : undefined;
      if (!type) continue;
      const event = raw[type] as Dict;
      const additions: Dict = {};
      if (Array.isArray(event.functionResponseTypes)) additions.FunctionResponseTypes = event.functionResponseTypes;
      if (event.maximumRetryAttempts !== undefined) additions.MaximumRetryAttempts = event.maximumRetryAttempts;
      if (event.maximumRecordAgeInSeconds !== undefined) additions.MaximumRecordAgeInSeconds = event.maximumRecordAgeInSeconds;
      if (event.bisectBatchOnFunctionError !== undefined) additions.BisectBatchOnFunctionError = event.bisectBatchOnFunctionError;
      if (isDict(event.destinations)) additions.DestinationConfig = { OnFailure: { Destination: event.destinations.onFailure } };
      if (event.maximumBatchingWindow === 0) additions.MaximumBatchingWindowInSeconds = 0;
      if (Object.keys(additions).length === 0) continue;
      const matches = Object.values(resources).filter(
        (r) =>
          r.Type === 'AWS::Lambda::EventSourceMapping' &&
          Array.isArray(r.Properties.Topics) &&
          r.Properties.Topics[0] === event.topic &&
          JSON.stringify(r.Properties.FunctionName).includes(`"${lambdaLogicalId}"`) &&
          (type === 'kafka' || JSON.stringify(r.Properties.EventSourceArn) === JSON.stringify(event.arn)),
      );
      if (matches.length !== 1) {
        throw new Error(`offline-msk: no single compiled event source mapping for ${functionKey} ${type} ${String(event.topic)}`);
      }
      Object.assign(matches[0]!.Properties, additions);
    }
  }
}
