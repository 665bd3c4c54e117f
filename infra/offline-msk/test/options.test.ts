/** What the plugin reads from serverless.yml and its environment, and what it writes at package time. */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { readMappings, readPluginOptions } from '../src/options';
import type { PluginOptions, ServiceLike } from '../src/options';

const ARN = 'arn:aws:kafka:eu-west-1:210987654321:cluster/c/1';
const PROVISIONED = { minimumPollers: 1, maximumPollers: 1 };

function service(functions: Record<string, { name?: string; timeout?: number; events?: unknown[] }>, custom: Record<string, unknown> = {}): ServiceLike {
  return {
    service: 'svc',
    provider: { region: 'eu-west-1', stage: 'dev', timeout: 10 },
    custom,
    getAllFunctions: () => Object.keys(functions),
    getFunction: (key) => functions[key]!,
  };
}

const options = (svc: ServiceLike, env: Record<string, string> = {}): PluginOptions => readPluginOptions(svc, env);
const mappings = (svc: ServiceLike, env: Record<string, string> = {}) => readMappings(svc, options(svc, env));

describe('readMappings', () => {
  it('reads an msk event with every option, in AWS units', () => {
    // Prepare
    const svc = service({
      onHttpRequest: {
        name: 'svc-dev-onHttpRequest',
        timeout: 30,
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
              provisionedPollerConfig: PROVISIONED,
              functionResponseTypes: ['ReportBatchItemFailures'],
              maximumRetryAttempts: 3,
              maximumRecordAgeInSeconds: 3600,
              bisectBatchOnFunctionError: true,
              destinations: { onFailure: 'kafka://dlq' },
            },
          },
        ],
      },
    });

    // Act
    const [mapping, ...rest] = mappings(svc, { OFFLINE_MSK_BROKERS: '127.0.0.1:9092' });

    // Assess
    expect(rest).toHaveLength(0);
    expect(mapping).toMatchObject({
      functionName: 'svc-dev-onHttpRequest',
      functionArn: 'arn:aws:lambda:eu-west-1:210987654321:function:svc-dev-onHttpRequest',
      eventType: 'msk',
      topic: 'requests',
      groupId: 'g-http-request',
      batchSize: 50,
      batchingWindowMs: 0,
      startingPosition: 'LATEST',
      reportBatchItemFailures: true,
      maximumRetryAttempts: 3,
      maximumRecordAgeSeconds: 3600,
      bisectBatchOnFunctionError: true,
      destination: { kind: 'kafka', topic: 'dlq' },
      brokers: ['127.0.0.1:9092'],
      source: { kind: 'msk', eventSourceArn: ARN, bootstrapServers: ['127.0.0.1:9092'] },
      timeoutSeconds: 30,
    });
  });

  it("uses AWS's defaults: batchSize 100, a 500 ms window, TRIM_HORIZON, unlimited retries and age, no destination", () => {
    const [mapping] = mappings(service({ f: { events: [{ msk: { arn: ARN, topic: 't' } }] } }));

    expect(mapping).toMatchObject({
      functionName: 'svc-dev-f',
      batchSize: 100,
      batchingWindowMs: 500,
      startingPosition: 'TRIM_HORIZON',
      groupId: 'svc-dev-f-t',
      brokers: ['127.0.0.1:9092'],
      reportBatchItemFailures: false,
      maximumRetryAttempts: -1,
      maximumRecordAgeSeconds: -1,
      bisectBatchOnFunctionError: false,
      destination: undefined,
      timeoutSeconds: 10,
      maxRecordsPerPartition: 1000,
    });
  });

  it('reads a kafka event as self-managed: its bootstrapServers, unless the brokers are set; its onFailureDestination too', () => {
    const fn = { events: [{ kafka: { topic: 't', bootstrapServers: ['kafka-1:9092', 'kafka-2:9092'], accessConfigurations: {}, provisionedPollerConfig: PROVISIONED, onFailureDestination: 'kafka://dead' } }] };

    const [own] = mappings(service({ f: fn }));
    const [fromCustom] = mappings(service({ f: fn }, { offlineMsk: { brokers: '127.0.0.1:9092' } }));
    const [fromEnv] = mappings(service({ f: fn }, { offlineMsk: { brokers: '127.0.0.1:9092' } }), { OFFLINE_MSK_BROKERS: '127.0.0.1:19092, 127.0.0.1:19093' });

    expect(own).toMatchObject({ eventType: 'kafka', brokers: ['kafka-1:9092', 'kafka-2:9092'], source: { kind: 'self-managed' }, destination: { kind: 'kafka', topic: 'dead' } });
    expect(own!.functionArn).toBe('arn:aws:lambda:eu-west-1:123456789012:function:svc-dev-f');
    expect(fromCustom!.brokers).toEqual(['127.0.0.1:9092']);
    expect(fromEnv!.brokers).toEqual(['127.0.0.1:19092', '127.0.0.1:19093']);
  });

  it('reads SQS, SNS and S3 destinations and CloudFormation references', () => {
    const event = (onFailure: unknown) => ({ msk: { arn: ARN, topic: 't', provisionedPollerConfig: PROVISIONED, destinations: { onFailure } } });
    const svc = service({
      a: { events: [event('arn:aws:sqs:eu-west-1:210987654321:dlq')] },
      b: { events: [event('arn:aws:sns:eu-west-1:210987654321:failed')] },
      c: { events: [event('arn:aws:s3:::failed-batches')] },
      d: { events: [event({ 'Fn::GetAtt': ['Queue', 'Arn'] })] },
    });

    expect(mappings(svc).map((m) => m.destination?.kind)).toEqual(['sqs', 'sns', 's3', 'reference']);
  });

  it('skips disabled events and names every event AWS would refuse', () => {
    const svc = service({
      a: { events: [{ msk: { arn: ARN, topic: 't', enabled: false } }] },
      b: {
        events: [
          { msk: { arn: ARN } },
          { msk: { arn: ARN, topic: 't', filterPatterns: [{ key: { a: ['x'] } }] } },
          { msk: { arn: ARN, topic: 't', maximumRetryAttempts: 2 } },
          { msk: { arn: ARN, topic: 't', provisionedPollerConfig: PROVISIONED, destinations: { onFailure: 'kafka://t' } } },
          { msk: { arn: ARN, topic: 't', provisionedPollerConfig: PROVISIONED, destinations: { onFailure: 'https://example.com' } } },
          { msk: { arn: ARN, topic: 't', provisionedPollerConfig: PROVISIONED, maximumRecordAgeInSeconds: 30 } },
          { kafka: { topic: 't', bootstrapServers: ['b:9092'], provisionedPollerConfig: PROVISIONED, onFailureDestination: 'kafka://x', destinations: { onFailure: 'kafka://y' } } },
        ],
      },
    });

    let message = '';
    try {
      mappings(svc);
    } catch (error) {
      message = (error as Error).message;
    }

    expect(message.split('\n').slice(1).map((l) => l.trim())).toEqual([
      'functions.b.events[0].msk.topic: required',
      expect.stringMatching(/^functions\.b\.events\[1\]\.msk\.filterPatterns\[0\]: Kafka event source mappings only support filtering on the "value" key/),
      'functions.b.events[2].msk: maximumRetryAttempts need provisioned mode (provisionedPollerConfig), as on AWS',
      'functions.b.events[3].msk.destinations.onFailure: the destination cannot be the source topic (Lambda refuses it to prevent a loop)',
      expect.stringMatching(/^functions\.b\.events\[4\]\.msk\.destinations\.onFailure: expected kafka:\/\/<topic> or an SQS, SNS or S3 ARN/),
      'functions.b.events[5].msk.maximumRecordAgeInSeconds: -1 (unlimited) or 60..604800',
      'functions.b.events[6].kafka: destinations.onFailure and onFailureDestination say the same thing; keep one',
    ]);
  });
});

describe('readPluginOptions', () => {
  it('reads custom.offlineMsk and refuses what it does not know', () => {
    const svc = service({}, { offlineMsk: { brokers: ['b1:9092', 'b2:9092'], ssl: true, sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p' }, accountId: '111122223333', maxRecordsPerPartition: 50, initialBackoffMs: 10, maxBackoffMs: 20 } });

    expect(options(svc)).toEqual({
      brokers: ['b1:9092', 'b2:9092'],
      ssl: true,
      sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p' },
      accountId: '111122223333',
      maxRecordsPerPartition: 50,
      initialBackoffMs: 10,
      maxBackoffMs: 20,
    });
    expect(() => options(service({}, { offlineMsk: { broker: 'x', sasl: { mechanism: 'iam' }, accountId: '12' } }))).toThrow(
      /custom\.offlineMsk\.broker: unknown option[\s\S]*sasl: expected[\s\S]*accountId: expected 12 digits/,
    );
  });

  it("reads nothing of the service's own environment: a short ADMIN_TOKEN or any other variable changes nothing", () => {
    const svc = service({ f: { events: [{ msk: { arn: ARN, topic: 't' } }] } });

    expect(mappings(svc, { ADMIN_TOKEN: 'short', KAFKA_BROKERS: '10.0.0.1:9092', KAFKA_AUTH: 'iam' })).toEqual(mappings(svc));
  });
});

describe('the plugin at package time', () => {
  const Plugin = createRequire(__filename)('..') as new (...args: unknown[]) => { hooks: Record<string, () => unknown> };

  function packaged(event: Record<string, unknown>) {
    const resource = {
      Type: 'AWS::Lambda::EventSourceMapping',
      Properties: { EventSourceArn: ARN, FunctionName: { 'Fn::GetAtt': ['OnHttpRequestLambdaFunction', 'Arn'] }, Topics: ['requests'] } as Record<string, unknown>,
    };
    const defined: unknown[][] = [];
    const serverless = {
      configSchemaHandler: { defineFunctionEventProperties: (...args: unknown[]) => defined.push(args) },
      getProvider: () => ({ naming: { getLambdaLogicalId: (k: string) => `${k[0]!.toUpperCase()}${k.slice(1)}LambdaFunction` } }),
      service: {
        ...service({ onHttpRequest: { events: [{ msk: { arn: ARN, topic: 'requests', ...event } }] } }),
        provider: { compiledCloudFormationTemplate: { Resources: { Mapping: resource } } },
      },
    };
    const plugin = new Plugin(serverless, {}, undefined);
    plugin.hooks['after:package:compileEvents']!();
    return { properties: resource.Properties, defined };
  }

  it('extends the msk and kafka event schemas with the failure handling properties', () => {
    const { defined } = packaged({});

    expect(defined.map((d) => d.slice(0, 2))).toEqual([
      ['aws', 'msk'],
      ['aws', 'kafka'],
    ]);
    expect(Object.keys((defined[0]![2] as { properties: object }).properties)).toEqual([
      'functionResponseTypes',
      'maximumRetryAttempts',
      'maximumRecordAgeInSeconds',
      'bisectBatchOnFunctionError',
      'destinations',
    ]);
  });

  it('writes them, and a zero batching window, into the compiled event source mapping', () => {
    const { properties } = packaged({
      maximumBatchingWindow: 0,
      provisionedPollerConfig: PROVISIONED,
      functionResponseTypes: ['ReportBatchItemFailures'],
      maximumRetryAttempts: 3,
      maximumRecordAgeInSeconds: 86400,
      bisectBatchOnFunctionError: true,
      destinations: { onFailure: 'kafka://dlq' },
    });

    expect(properties).toMatchObject({
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      MaximumRetryAttempts: 3,
      MaximumRecordAgeInSeconds: 86400,
      BisectBatchOnFunctionError: true,
      DestinationConfig: { OnFailure: { Destination: 'kafka://dlq' } },
      MaximumBatchingWindowInSeconds: 0,
    });
  });

  it('fails the package for what AWS would refuse at deploy', () => {
    expect(() => packaged({ maximumRetryAttempts: 3 })).toThrow(/need provisioned mode/);
  });
});
