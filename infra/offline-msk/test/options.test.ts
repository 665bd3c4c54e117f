/** What the plugin reads from serverless.yml and its environment, and what it writes at package time. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import { describe, expect, it } from 'vitest';
import { readMappings, readPluginOptions } from '../src/options';
import type { PluginOptions, ServiceLike } from '../src/options';

const ARN = 'arn:aws:kafka:eu-west-1:210987654321:cluster/c/1';
const PROVISIONED = { minimumPollers: 1, maximumPollers: 1 };

function service(
  functions: Record<string, { name?: string; timeout?: number; events?: unknown[] }>,
  custom: Record<string, unknown> = {},
): ServiceLike {
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

/** The problems readMappings names, one per line of its error (none when it reads the service). */
function problemsOf(svc: ServiceLike): string[] {
  try {
    mappings(svc);
    return [];
  } catch (error) {
    return (error as Error).message
      .split('\n')
      .slice(1)
      .map((l) => l.trim());
  }
}

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
    const fn = {
      events: [
        {
          kafka: {
            topic: 't',
            bootstrapServers: ['kafka-1:9092', 'kafka-2:9092'],
            accessConfigurations: {},
            provisionedPollerConfig: PROVISIONED,
            onFailureDestination: 'kafka://dead',
          },
        },
      ],
    };

    const [own] = mappings(service({ f: fn }));
    const [fromCustom] = mappings(service({ f: fn }, { offlineMsk: { brokers: '127.0.0.1:9092' } }));
    const [fromEnv] = mappings(service({ f: fn }, { offlineMsk: { brokers: '127.0.0.1:9092' } }), {
      OFFLINE_MSK_BROKERS: '127.0.0.1:19092, 127.0.0.1:19093',
    });

    expect(own).toMatchObject({
      eventType: 'kafka',
      brokers: ['kafka-1:9092', 'kafka-2:9092'],
      source: { kind: 'self-managed' },
      destination: { kind: 'kafka', topic: 'dead' },
    });
    expect(own!.functionArn).toBe('arn:aws:lambda:eu-west-1:123456789012:function:svc-dev-f');
    expect(fromCustom!.brokers).toEqual(['127.0.0.1:9092']);
    expect(fromEnv!.brokers).toEqual(['127.0.0.1:19092', '127.0.0.1:19093']);
  });

  it('reads SQS, SNS and S3 destinations and CloudFormation references', () => {
    const event = (onFailure: unknown) => ({
      msk: { arn: ARN, topic: 't', provisionedPollerConfig: PROVISIONED, destinations: { onFailure } },
    });
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
          {
            kafka: {
              topic: 't',
              bootstrapServers: ['b:9092'],
              provisionedPollerConfig: PROVISIONED,
              onFailureDestination: 'kafka://x',
              destinations: { onFailure: 'kafka://y' },
            },
          },
        ],
      },
    });

    expect(problemsOf(svc)).toEqual([
      'functions.b.events[0].msk.topic: required',
      expect.stringMatching(
        /^functions\.b\.events\[1\]\.msk\.filterPatterns\[0\]: Kafka event source mappings only support filtering on the "value" key/,
      ),
      'functions.b.events[2].msk: maximumRetryAttempts need provisioned mode (provisionedPollerConfig), as on AWS',
      'functions.b.events[3].msk.destinations.onFailure: the destination cannot be the source topic (Lambda refuses it to prevent a loop)',
      expect.stringMatching(
        /^functions\.b\.events\[4\]\.msk\.destinations\.onFailure: expected kafka:\/\/<topic> or an SQS, SNS or S3 ARN/,
      ),
      'functions.b.events[5].msk.maximumRecordAgeInSeconds: -1 (unlimited) or 60..604800',
      'functions.b.events[6].kafka: destinations.onFailure and onFailureDestination say the same thing; keep one',
    ]);
  });

  it('refuses a batching window or a function timeout no timer here can hold: 0..300 s and 1..900 s, as AWS accepts them', () => {
    const event = (extra: Record<string, unknown>) => ({ msk: { arn: ARN, topic: 't', ...extra } });
    const svc = service({
      a: { events: [event({ maximumBatchingWindow: 3_000_000 })] },
      b: { events: [event({ maximumBatchingWindow: -1 })] },
      c: { timeout: 3_000_000, events: [event({})] },
    });

    expect(problemsOf(svc)).toEqual([
      'functions.a.events[0].msk.maximumBatchingWindow: 0..300 (seconds), got 3000000',
      'functions.b.events[0].msk.maximumBatchingWindow: 0..300 (seconds), got -1',
      "functions.c.timeout: 1..900 (seconds, Lambda's longest), got 3000000",
    ]);
    expect(mappings(service({ d: { timeout: 900, events: [event({ maximumBatchingWindow: 300 })] } }))[0]).toMatchObject({
      timeoutSeconds: 900,
      batchingWindowMs: 300_000,
    });
    const provider = service({ f: { events: [event({})] } });
    provider.provider.timeout = 901;
    expect(() => mappings(provider)).toThrow("provider.timeout: 1..900 (seconds, Lambda's longest), got 901");
  });
});

describe('readPluginOptions', () => {
  it('reads custom.offlineMsk and refuses what it does not know', () => {
    const svc = service(
      {},
      {
        offlineMsk: {
          brokers: ['b1:9092', 'b2:9092'],
          ssl: true,
          sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p' },
          accountId: '111122223333',
          maxRecordsPerPartition: 50,
          initialBackoffMs: 10,
          maxBackoffMs: 20,
        },
      },
    );

    expect(options(svc)).toEqual({
      brokers: ['b1:9092', 'b2:9092'],
      ssl: {},
      sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p' },
      accountId: '111122223333',
      maxRecordsPerPartition: 50,
      initialBackoffMs: 10,
      maxBackoffMs: 20,
    });
    expect(() => options(service({}, { offlineMsk: { broker: 'x', sasl: { mechanism: 'iam' }, accountId: '12' } }))).toThrow(
      /custom\.offlineMsk\.broker: unknown option[\s\S]*sasl\.mechanism: expected[\s\S]*accountId: expected 12 digits/,
    );
  });

  it('refuses a backoff no timer can hold: initialBackoffMs and maxBackoffMs are whole milliseconds from 1 to 900000', () => {
    const read = (offlineMsk: Record<string, unknown>) => () => options(service({}, { offlineMsk }));

    expect(read({ maxBackoffMs: 3_000_000_000 })).toThrow(
      'custom.offlineMsk.maxBackoffMs: expected whole milliseconds from 1 to 900000 (15 minutes), got 3000000000',
    );
    expect(read({ initialBackoffMs: 900_001 })).toThrow(
      'custom.offlineMsk.initialBackoffMs: expected whole milliseconds from 1 to 900000 (15 minutes), got 900001',
    );
    expect(read({ maxBackoffMs: 0.5 })).toThrow(
      'custom.offlineMsk.maxBackoffMs: expected whole milliseconds from 1 to 900000 (15 minutes), got 0.5',
    );
    expect(read({ initialBackoffMs: 900_000, maxBackoffMs: 900_000 })()).toMatchObject({
      initialBackoffMs: 900_000,
      maxBackoffMs: 900_000,
    });
  });

  it("reads nothing of the service's own environment: a short ADMIN_TOKEN or any other variable changes nothing", () => {
    const svc = service({ f: { events: [{ msk: { arn: ARN, topic: 't' } }] } });

    expect(mappings(svc, { ADMIN_TOKEN: 'short', KAFKA_BROKERS: '10.0.0.1:9092', KAFKA_AUTH: 'iam' })).toEqual(mappings(svc));
  });
});

describe('how the mappings connect: TLS and SASL', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'offline-msk-options-'));
  const pem = (name: string) => {
    const file = path.join(dir, name);
    writeFileSync(file, `-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n`);
    return file;
  };
  const ca = pem('ca.pem');
  const cert = pem('client.pem');
  const key = pem('client.key');
  const notPem = path.join(dir, 'not.pem');
  writeFileSync(notPem, 'hello');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const SECRET = 'arn:aws:secretsmanager:eu-west-1:210987654321:secret:kafka';
  const kafkaEvent = (accessConfigurations: Record<string, unknown>) => ({
    kafka: { topic: 't', bootstrapServers: ['b:9096'], accessConfigurations },
  });
  const connectionOf = (event: unknown, offlineMsk: Record<string, unknown>) =>
    mappings(service({ f: { events: [event] } }, { offlineMsk }))[0]!.connection;
  const problemsOf = (event: unknown, offlineMsk: Record<string, unknown>) => {
    try {
      mappings(service({ f: { events: [event] } }, { offlineMsk }));
    } catch (error) {
      return (error as Error).message;
    }
    return 'no error';
  };

  it('reads ssl as TLS with a private CA and a client certificate; an empty path is no file', () => {
    expect(options(service({}, { offlineMsk: { ssl: { caFile: ca, certFile: cert, keyFile: key } } })).ssl).toEqual({
      caFile: ca,
      certFile: cert,
      keyFile: key,
    });
    expect(options(service({}, { offlineMsk: { ssl: { caFile: ca, certFile: '', keyFile: '' } } })).ssl).toEqual({ caFile: ca });
    expect(options(service({}, { offlineMsk: { ssl: true } })).ssl).toEqual({});
    expect(options(service({}, { offlineMsk: {} })).ssl).toBe(false);
  });

  it('names every bad TLS or SASL option at once', () => {
    const bad = {
      ssl: { caFile: path.join(dir, 'missing.pem'), certFile: notPem, cafile: ca },
      sasl: { mechanism: 'aws_msk_iam', username: 'u', password: '' },
    };

    let message = '';
    try {
      options(service({}, { offlineMsk: bad }));
    } catch (error) {
      message = (error as Error).message;
    }

    expect(message.split('\n').map((l) => l.trim())).toEqual([
      'offline-msk: invalid options:',
      'custom.offlineMsk.sasl.mechanism: expected plain, scram-sha-256 or scram-sha-512, got "aws_msk_iam" (MSK IAM authentication is not offered locally)',
      'custom.offlineMsk.sasl.password: required (a non-empty string)',
      'custom.offlineMsk.ssl.cafile: unknown option',
      `custom.offlineMsk.ssl.caFile: cannot read ${path.join(dir, 'missing.pem')}: ENOENT`,
      `custom.offlineMsk.ssl.certFile: ${notPem} is not a PEM file (no -----BEGIN line)`,
      'custom.offlineMsk.ssl: certFile and keyFile go together (a client certificate and its private key)',
    ]);
    expect(() => options(service({}, { offlineMsk: { ssl: 'yes' } }))).toThrow(
      /custom\.offlineMsk\.ssl: expected true, false or \{ caFile, certFile, keyFile \}/,
    );
  });

  it("a kafka event's SASL secret makes its mapping connect over SASL_SSL with the local username and password", () => {
    const connection = connectionOf(kafkaEvent({ saslScram512Auth: [SECRET], vpcSubnet: ['subnet-1'] }), {
      ssl: { caFile: ca },
      sasl: { username: 'u', password: 'p' },
    });

    expect(connection).toEqual({ ssl: { caFile: ca }, sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p' } });
    // Lambda uses SASL over TLS only: TLS (Node's public roots) even when the options say nothing of it.
    expect(connectionOf(kafkaEvent({ saslPlainAuth: [SECRET] }), { sasl: { username: 'u', password: 'p' } })).toEqual({
      ssl: {},
      sasl: { mechanism: 'plain', username: 'u', password: 'p' },
    });
    expect(
      connectionOf(kafkaEvent({ saslScram256Auth: [SECRET] }), { sasl: { mechanism: 'scram-sha-256', username: 'u', password: 'p' } }).sasl
        ?.mechanism,
    ).toBe('scram-sha-256');
  });

  it("an msk event's saslScram512 does the same", () => {
    expect(
      connectionOf(
        { msk: { arn: ARN, topic: 't', saslScram512: SECRET } },
        { ssl: { caFile: ca }, sasl: { username: 'u', password: 'p' } },
      ),
    ).toEqual({
      ssl: { caFile: ca },
      sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p' },
    });
  });

  it('a client certificate secret and a server root CA secret come from the ssl files', () => {
    expect(
      connectionOf(kafkaEvent({ clientCertificateTlsAuth: [SECRET], serverRootCaCertificate: [SECRET] }), {
        ssl: { caFile: ca, certFile: cert, keyFile: key },
      }),
    ).toEqual({
      ssl: { caFile: ca, certFile: cert, keyFile: key },
      sasl: undefined,
    });
  });

  it('an event that names no authentication connects as the options say', () => {
    expect(
      connectionOf(
        { msk: { arn: ARN, topic: 't' } },
        { ssl: { caFile: ca }, sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p' } },
      ),
    ).toEqual({
      ssl: { caFile: ca },
      sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p' },
    });
    expect(connectionOf(kafkaEvent({ vpcSubnet: ['subnet-1'], vpcSecurityGroup: ['sg-1'] }), {})).toEqual({ ssl: false, sasl: undefined });
    expect(connectionOf({ msk: { arn: ARN, topic: 't' } }, { ssl: { certFile: cert, keyFile: key } })).toEqual({
      ssl: { certFile: cert, keyFile: key },
      sasl: undefined,
    });
  });

  it('stops the start naming the event when a secret it names has no local stand-in, or the options contradict it', () => {
    expect(problemsOf(kafkaEvent({ saslScram512Auth: [SECRET] }), {})).toMatch(
      /functions\.f\.events\[0\]\.kafka\.accessConfigurations\.saslScram512Auth: a scram-sha-512 secret, which is not local: give its username and password as custom\.offlineMsk\.sasl/,
    );
    expect(
      problemsOf({ msk: { arn: ARN, topic: 't', saslScram512: SECRET } }, { sasl: { mechanism: 'plain', username: 'u', password: 'p' } }),
    ).toMatch(
      /functions\.f\.events\[0\]\.msk\.saslScram512: the event authenticates with scram-sha-512, custom\.offlineMsk\.sasl\.mechanism says plain/,
    );
    expect(problemsOf(kafkaEvent({ clientCertificateTlsAuth: [SECRET] }), { ssl: { caFile: ca } })).toMatch(
      /clientCertificateTlsAuth: a client certificate secret, which is not local: give custom\.offlineMsk\.ssl\.certFile and keyFile/,
    );
    expect(problemsOf(kafkaEvent({ serverRootCaCertificate: [SECRET] }), { ssl: true })).toMatch(
      /serverRootCaCertificate: a CA certificate secret, which is not local: give custom\.offlineMsk\.ssl\.caFile/,
    );
    expect(problemsOf(kafkaEvent({ saslScram512Auth: [SECRET], clientCertificateTlsAuth: [SECRET] }), {})).toMatch(
      /saslScram512Auth, clientCertificateTlsAuth: one authentication method per event/,
    );
    expect(problemsOf({ msk: { arn: ARN, topic: 't' } }, { sasl: { username: 'u', password: 'p' } })).toMatch(
      /names no SASL secret, so custom\.offlineMsk\.sasl needs its mechanism/,
    );
  });

  it('needs no local secrets to package', () => {
    const svc = service({ f: { events: [kafkaEvent({ saslScram512Auth: [SECRET] })] } });

    expect(() => readMappings(svc, options(svc), 'package')).not.toThrow();
    expect(() => readMappings(svc, options(svc))).toThrow(/not local/);
  });
});

describe('the plugin at package time', () => {
  const Plugin = createRequire(__filename)('..') as new (...args: unknown[]) => { hooks: Record<string, () => unknown> };

  function packaged(event: Record<string, unknown>) {
    const resource = {
      Type: 'AWS::Lambda::EventSourceMapping',
      Properties: {
        EventSourceArn: ARN,
        FunctionName: { 'Fn::GetAtt': ['OnHttpRequestLambdaFunction', 'Arn'] },
        Topics: ['requests'],
      } as Record<string, unknown>,
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
