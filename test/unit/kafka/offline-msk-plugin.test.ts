/** The offline-msk plugin's reading of serverless.yml, and its package-time additions. */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { offlineOptions, readMappings } from '../../../infra/offline-msk/plugin';
import type { ServiceLike } from '../../../infra/offline-msk/plugin';

const ARN = 'arn:aws:kafka:us-east-1:123456789012:cluster/c/1';

function service(functions: Record<string, { name?: string; timeout?: number; events?: unknown[] }>, custom: Record<string, unknown> = {}): ServiceLike {
  return {
    service: 'svc',
    provider: { environment: { KAFKA_BROKERS: '10.0.0.1:9092' }, timeout: 10 },
    custom,
    getAllFunctions: () => Object.keys(functions),
    getFunction: (key) => functions[key]!,
  };
}

describe('readMappings', () => {
  it('reads an msk event with every option, in AWS units', () => {
    // Prepare
    const svc = service({
      onHttpRequest: {
        name: 'svc-dev-onHttpRequest',
        events: [
          { httpApi: 'GET /' },
          {
            msk: {
              arn: ARN,
              topic: 'requests',
              batchSize: 50,
              maximumBatchingWindow: 0,
              startingPosition: 'LATEST',
              consumerGroupId: 'g-http-request',
              filterPatterns: [{ value: { event_type: ['http_request'] } }],
              functionResponseTypes: ['ReportBatchItemFailures'],
            },
          },
        ],
      },
    });

    // Act
    const [mapping, ...rest] = readMappings(svc, { KAFKA_BROKERS: '127.0.0.1:9092' });

    // Assess
    expect(rest).toHaveLength(0);
    expect(mapping).toMatchObject({
      functionName: 'svc-dev-onHttpRequest',
      eventType: 'msk',
      topic: 'requests',
      groupId: 'g-http-request',
      batchSize: 50,
      batchingWindowMs: 0,
      startingPosition: 'LATEST',
      reportBatchItemFailures: true,
      maximumRetryAttempts: -1,
      brokers: ['127.0.0.1:9092'],
      source: { kind: 'msk', eventSourceArn: ARN, bootstrapServers: ['127.0.0.1:9092'] },
      invokeTimeoutMs: 15_000,
    });
  });

  it("uses AWS's defaults: batchSize 100, a 500 ms window, TRIM_HORIZON", () => {
    const [mapping] = readMappings(service({ f: { events: [{ msk: { arn: ARN, topic: 't' } }] } }), {});

    expect(mapping).toMatchObject({ batchSize: 100, batchingWindowMs: 500, startingPosition: 'TRIM_HORIZON', groupId: 'f-t', brokers: ['127.0.0.1:9092'] });
  });

  it('reads a kafka event as self-managed, connecting to its bootstrapServers unless custom.offlineMsk.brokers says otherwise', () => {
    const fn = { events: [{ kafka: { topic: 't', bootstrapServers: ['kafka-1:9092', 'kafka-2:9092'], accessConfigurations: {} } }] };

    const [own] = readMappings(service({ f: fn }), {});
    const [overridden] = readMappings(service({ f: fn }, { offlineMsk: { brokers: '127.0.0.1:9092' } }), {});

    expect(own).toMatchObject({ eventType: 'kafka', brokers: ['kafka-1:9092', 'kafka-2:9092'], source: { kind: 'self-managed' } });
    expect(overridden!.brokers).toEqual(['127.0.0.1:9092']);
  });

  it('takes ReportBatchItemFailures from custom.offlineMsk.functionResponseTypes when the event does not say', () => {
    const fns = { f: { events: [{ msk: { arn: ARN, topic: 't' } }, { msk: { arn: ARN, topic: 'u', functionResponseTypes: [] } }] } };

    const [byDefault, explicit] = readMappings(service(fns, { offlineMsk: { functionResponseTypes: ['ReportBatchItemFailures'] } }), {});
    const [without] = readMappings(service(fns), {});

    expect(byDefault!.reportBatchItemFailures).toBe(true);
    expect(explicit!.reportBatchItemFailures).toBe(false);
    expect(without!.reportBatchItemFailures).toBe(false);
  });

  it('skips disabled events and names every event it cannot run', () => {
    const svc = service({
      a: { events: [{ msk: { arn: ARN, topic: 't', enabled: false } }] },
      b: { events: [{ msk: { arn: ARN } }, { msk: { arn: ARN, topic: 't', filterPatterns: [{ key: { a: ['x'] } }] } }] },
    });

    expect(() => readMappings(svc, {})).toThrow(/functions\.b\.events\[0\]\.msk\.topic: required[\s\S]*functions\.b\.events\[1\]\.msk\.filterPatterns\[0\]/);
  });
});

describe('offlineOptions', () => {
  it("follows serverless-offline's precedence: defaults, custom, then the command line", () => {
    const svc = service({}, { 'serverless-offline': { host: '127.0.0.1', lambdaPort: '3102' } });

    expect(offlineOptions(svc, {})).toEqual({ host: '127.0.0.1', lambdaPort: 3102 });
    expect(offlineOptions(svc, { lambdaPort: 4102 })).toEqual({ host: '127.0.0.1', lambdaPort: 4102 });
    expect(offlineOptions(service({}), {})).toEqual({ host: 'localhost', lambdaPort: 3002 });
  });
});

describe('the plugin at package time', () => {
  it('adds FunctionResponseTypes, MaximumRetryAttempts and a zero batching window to the compiled event source mapping', () => {
    // Prepare
    const Plugin = createRequire(__filename)('../../../infra/offline-msk') as new (...args: unknown[]) => {
      hooks: Record<string, () => unknown>;
    };
    const mappingResource = {
      Type: 'AWS::Lambda::EventSourceMapping',
      Properties: { EventSourceArn: ARN, FunctionName: { 'Fn::GetAtt': ['OnHttpRequestLambdaFunction', 'Arn'] }, Topics: ['requests'] },
    };
    const defined: unknown[] = [];
    const serverless = {
      configSchemaHandler: { defineFunctionEventProperties: (...args: unknown[]) => defined.push(args) },
      getProvider: () => ({ naming: { getLambdaLogicalId: (k: string) => `${k[0]!.toUpperCase()}${k.slice(1)}LambdaFunction` } }),
      service: {
        provider: { compiledCloudFormationTemplate: { Resources: { Mapping: mappingResource } } },
        getAllFunctions: () => ['onHttpRequest'],
        getFunction: () => ({
          events: [
            {
              msk: {
                arn: ARN,
                topic: 'requests',
                maximumBatchingWindow: 0,
                functionResponseTypes: ['ReportBatchItemFailures'],
                maximumRetryAttempts: 3,
              },
            },
          ],
        }),
      },
    };

    // Act
    const plugin = new Plugin(serverless, {}, undefined);
    plugin.hooks['after:package:compileEvents']!();

    // Assess
    expect(defined).toHaveLength(2);
    expect(mappingResource.Properties).toMatchObject({
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      MaximumRetryAttempts: 3,
      MaximumBatchingWindowInSeconds: 0,
    });
  });
});
