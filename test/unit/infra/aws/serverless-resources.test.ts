/**
 * infra/aws/serverless-resources.cjs and infra/aws/secrets.cjs on small services (no
 * packaging): ARNs from a cluster ARN string or import, the role per function, the secrets
 * and who reads them, and the mistakes it refuses.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
interface Context {
  options: { stage?: string };
  resolveConfigurationProperty: (path: string[]) => Promise<Json | undefined>;
}
interface ResourcesModule {
  kafkaArn(clusterArn: Json, kind: 'topic' | 'group', name: string): Json;
  resources(context: Context): Promise<Record<string, { Type: string; Properties: Record<string, Json> }>>;
}

const load = createRequire(__filename);
const module = load('../../../../infra/aws/serverless-resources.cjs') as ResourcesModule;
const secrets = load('../../../../infra/aws/secrets.cjs') as { arn(context: Context): Promise<Record<string, Json>> };

const ARN = 'arn:aws:kafka:us-east-1:123456789012:cluster/c1/uuid-1';

function context(config: Record<string, Json>): Context {
  return {
    options: { stage: 'dev' },
    resolveConfigurationProperty: (path) => {
      let value: Json | undefined = config;
      for (const key of path) value = value && typeof value === 'object' && !Array.isArray(value) ? value[key] : undefined;
      return Promise.resolve(value);
    },
  };
}

function service(overrides: Record<string, Json> = {}): Record<string, Json> {
  return {
    service: 'svc',
    provider: { stage: 'local' },
    custom: {
      kafkaAccess: { reader: { write: ['dlq'] } },
    },
    functions: {
      reader: {
        role: 'ReaderLambdaRole',
        events: [{ msk: { arn: ARN, topic: 'in', consumerGroupId: 'g-in' } }],
      },
      web: { role: 'WebLambdaRole', events: [{ httpApi: 'GET /' }] },
    },
    ...overrides,
  };
}

describe('infra/aws/serverless-resources.cjs', () => {
  it('derives topic and group ARNs from a cluster ARN string', () => {
    // Act / Assess
    expect(module.kafkaArn(ARN, 'topic', 't')).toBe('arn:aws:kafka:us-east-1:123456789012:topic/c1/uuid-1/t');
    expect(module.kafkaArn(ARN, 'group', 'g')).toBe('arn:aws:kafka:us-east-1:123456789012:group/c1/uuid-1/g');
  });

  it('derives them with CloudFormation functions from an import', () => {
    // Prepare
    const imported = { 'Fn::ImportValue': 'x-ClusterArn' };

    // Act
    const arn = module.kafkaArn(imported, 'topic', 't');

    // Assess
    const split = { 'Fn::Split': [':cluster/', imported] };
    expect(arn).toEqual({ 'Fn::Join': ['', [{ 'Fn::Select': [0, split] }, ':topic/', { 'Fn::Select': [1, split] }, '/t']] });
  });

  it('refuses what is not an MSK cluster ARN', () => {
    expect(() => module.kafkaArn('arn:aws:sqs:us-east-1:123456789012:q', 'topic', 't')).toThrow(/not an MSK cluster ARN/);
  });

  it('makes one role per function: the reader reads its topic and group, the web function gets no Kafka data access', async () => {
    // Act
    const roles = await module.resources(context(service()));

    // Assess
    expect(
      Object.keys(roles)
        .filter((id) => roles[id]!.Type === 'AWS::IAM::Role')
        .sort(),
    ).toEqual(['ReaderLambdaRole', 'WebLambdaRole']);
    // Every other entry only notes, on a resource the framework makes, why a scanner check does not apply.
    for (const [id, r] of Object.entries(roles)) {
      if (r.Type !== 'AWS::IAM::Role') expect(Object.keys(r).sort(), id).toEqual(['Metadata', 'Type']);
    }
    const statements = (id: string) =>
      (roles[id]!.Properties.Policies as Array<{ PolicyDocument: { Statement: Array<{ Action: string[]; Resource: Json[] }> } }>)[0]!
        .PolicyDocument.Statement;
    const on = (id: string, action: string) =>
      statements(id)
        .filter((s) => s.Action.includes(action))
        .flatMap((s) => s.Resource);
    expect(on('ReaderLambdaRole', 'kafka-cluster:ReadData')).toEqual([module.kafkaArn(ARN, 'topic', 'in')]);
    expect(on('ReaderLambdaRole', 'kafka-cluster:AlterGroup')).toEqual([module.kafkaArn(ARN, 'group', 'g-in')]);
    expect(on('ReaderLambdaRole', 'kafka-cluster:WriteData')).toEqual([module.kafkaArn(ARN, 'topic', 'dlq')]);
    expect(on('ReaderLambdaRole', 'kafka:DescribeClusterV2')).toEqual([ARN]);
    expect(on('WebLambdaRole', 'kafka-cluster:ReadData')).toEqual([]);
    expect(on('WebLambdaRole', 'kafka-cluster:WriteData')).toEqual([]);
    expect(on('WebLambdaRole', 'kafka-cluster:Connect')).toEqual([ARN]);
    // The stage given on the command line names the log group.
    expect(JSON.stringify(on('WebLambdaRole', 'logs:PutLogEvents'))).toContain('/aws/lambda/svc-dev-web:*');
  });

  it('has no extensions: the event source mappings carry their failure handling in the msk events', () => {
    expect(module).not.toHaveProperty('extensions');
  });

  it('refuses a function whose role is not its own, access for an unknown function, and two clusters', async () => {
    // Prepare
    const wrongRole = service();
    (wrongRole.functions as Record<string, Record<string, Json>>).web!.role = 'SharedRole';
    const unknown = service();
    ((unknown.custom as Record<string, Record<string, Json>>).kafkaAccess as Record<string, Json>).ghost = { write: ['x'] };
    const twoClusters = service();
    (twoClusters.functions as Record<string, Json>).other = {
      role: 'OtherLambdaRole',
      events: [{ msk: { arn: ARN.replace('c1', 'c2'), topic: 'in', consumerGroupId: 'g' } }],
    };

    // Act / Assess
    await expect(module.resources(context(wrongRole))).rejects.toThrow('functions.web.role must be WebLambdaRole');
    await expect(module.resources(context(unknown))).rejects.toThrow('custom.kafkaAccess.ghost: no such function');
    await expect(module.resources(context(twoClusters))).rejects.toThrow('every msk event must read the same cluster');
  });
  it("takes a consumer function's writes from custom.consumerKafkaAccess (the consumer table), and refuses it written by hand as well", async () => {
    // Prepare
    const derived = service({ custom: { consumerKafkaAccess: { reader: { write: ['out', 'dlq'] } } } });
    const both = service();
    (both.custom as Record<string, Json>).consumerKafkaAccess = { reader: { write: ['dlq'] } };

    // Act
    const roles = await module.resources(context(derived));

    // Assess
    const statements = JSON.stringify(roles.ReaderLambdaRole?.Properties.Policies);
    expect(statements).toContain(
      '{"Effect":"Allow","Action":["kafka-cluster:WriteData"],"Resource":["arn:aws:kafka:us-east-1:123456789012:topic/c1/uuid-1/out","arn:aws:kafka:us-east-1:123456789012:topic/c1/uuid-1/dlq"]}',
    );
    await expect(module.resources(context(both))).rejects.toThrow(
      "custom.kafkaAccess.reader: a consumer function's access comes from its row in the consumer table (custom.consumerKafkaAccess)",
    );
  });

  const secretsOf = (entries: Record<string, Json>) => service({ custom: { secrets: entries } });

  it('refuses a plain value of any secret on an AWS stage, in a function or the provider, and a setting that is neither generate, the off word nor an ARN', async () => {
    // Prepare
    const entries = {
      ADMIN_TOKEN: { secret: 'generate', functions: ['web'] },
      METRICS_TOKEN: { secret: 'public', off: 'public', functions: ['web'] },
      KAFKA_SASL_PASSWORD: { secret: 'none', generate: false, functions: 'all' },
    };
    const plainIn = (where: 'web' | 'provider', variable: string) => {
      const config = secretsOf(entries);
      if (where === 'web') (config.functions as Record<string, Record<string, Json>>).web!.environment = { [variable]: 'a'.repeat(32) };
      else config.provider = { stage: 'local', environment: { [variable]: 'a'.repeat(32) } };
      return config;
    };
    const wrong = secretsOf({ ADMIN_TOKEN: { secret: 'my-secret', functions: ['web'] } });
    const generated = secretsOf({ KAFKA_SASL_PASSWORD: { secret: 'generate', generate: false, functions: 'all' } });

    // Act / Assess
    await expect(module.resources(context(plainIn('web', 'ADMIN_TOKEN')))).rejects.toThrow(
      /functions.web: ADMIN_TOKEN would be plain text/,
    );
    await expect(module.resources(context(plainIn('web', 'METRICS_TOKEN')))).rejects.toThrow(
      /functions.web: METRICS_TOKEN would be plain text.*use metricsTokenSecret/,
    );
    await expect(module.resources(context(plainIn('provider', 'KAFKA_SASL_PASSWORD')))).rejects.toThrow(
      /provider: KAFKA_SASL_PASSWORD would be plain text.*use kafkaSaslPasswordSecret/,
    );
    await expect(module.resources(context(wrong))).rejects.toThrow(/"generate", "none" or a Secrets Manager secret ARN/);
    await expect(module.resources(context(generated))).rejects.toThrow(
      /KAFKA_SASL_PASSWORD.secret: "none" or a Secrets Manager secret ARN, not "generate"/,
    );
    // Locally (serverless offline) the plain value is how it is given.
    const local = { ...context(plainIn('web', 'METRICS_TOKEN')), options: { stage: 'local' } };
    await expect(module.resources(local)).resolves.toBeDefined();
  });

  it("refuses a secret's off word on an AWS stage when a function that would read it is not set to go without it", async () => {
    // Prepare: GET /metrics without a token; METRICS_PUBLIC says whether that is on purpose
    const withPublic = (value: string, stage = 'dev') => {
      const config = secretsOf({
        METRICS_TOKEN: { secret: 'public', off: 'public', offNeeds: { METRICS_PUBLIC: 'on' }, functions: ['web'] },
      });
      config.provider = { stage, environment: { METRICS_PUBLIC: value } };
      return config;
    };

    // Act / Assess
    await expect(module.resources(context(withPublic('off')))).rejects.toThrow(
      /custom.secrets.METRICS_TOKEN: "public" leaves web without one while its METRICS_PUBLIC is "off"; set metricsPublic=on as well to mean it, or give it a secret/,
    );
    await expect(module.resources(context(withPublic('on')))).resolves.toBeDefined();
    await expect(module.resources({ ...context(withPublic('off')), options: { stage: 'local' } })).resolves.toBeDefined();
  });

  it('gives each secret to its functions only: generated in the stack, an existing ARN, or none', async () => {
    const arn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:admin-AbCdEf';
    for (const [secret, expected] of [
      ['generate', { Ref: 'AdminTokenSecret' }],
      [arn, arn],
      ['none', ''],
    ] as const) {
      // Act
      const config = secretsOf({ ADMIN_TOKEN: { secret, functions: ['web'] } });
      const roles = await module.resources(context(config));

      // Assess
      expect((await secrets.arn(context(config))).ADMIN_TOKEN, secret).toEqual(expected);
      expect('AdminTokenSecret' in roles, secret).toBe(secret === 'generate');
      const grants = JSON.stringify(roles.WebLambdaRole!.Properties.Policies).includes('secretsmanager:GetSecretValue');
      expect(grants, secret).toBe(secret !== 'none');
      expect(JSON.stringify(roles.ReaderLambdaRole!.Properties.Policies), secret).not.toContain('secretsmanager');
    }
  });

  it('lets every function read the SASL password and decrypt it with its key, through Secrets Manager only', async () => {
    // Prepare
    const arn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:AmazonMSK_svc-AbCdEf';
    const key = 'arn:aws:kms:us-east-1:123456789012:key/0123abcd-0000-1111-2222-333344445555';
    const config = secretsOf({ KAFKA_SASL_PASSWORD: { secret: arn, generate: false, kmsKeyArn: key, functions: 'all' } });

    // Act
    const roles = await module.resources(context(config));

    // Assess
    for (const id of ['ReaderLambdaRole', 'WebLambdaRole']) {
      const statements = (roles[id]!.Properties.Policies as Array<{ PolicyDocument: { Statement: Array<Record<string, Json>> } }>)[0]!
        .PolicyDocument.Statement;
      expect(statements, id).toContainEqual({ Effect: 'Allow', Action: ['secretsmanager:GetSecretValue'], Resource: [arn] });
      expect(statements, id).toContainEqual({
        Effect: 'Allow',
        Action: ['kms:Decrypt'],
        Resource: [key],
        Condition: { StringEquals: { 'kms:ViaService': { 'Fn::Sub': 'secretsmanager.${AWS::Region}.amazonaws.com' } } },
      });
    }
    expect((await secrets.arn(context(config))).KAFKA_SASL_PASSWORD).toBe(arn);
  });

  it('puts every mapping in the poller group only in provisioned mode, and checks the throttling numbers', async () => {
    // Prepare
    const grouped = service({ custom: { pollerGroupName: 'svc-dev' } });
    const provisioned = service({ custom: { pollerGroupName: 'svc-dev' } });
    (
      (provisioned.functions as Record<string, Record<string, Json[]>>).reader!.events![0] as Record<string, Record<string, Json>>
    ).msk!.provisionedPollerConfig = { minimumPollers: 1 };
    const throttled = service({ custom: { httpApiThrottling: { rateLimit: '0', burstLimit: 10 } } });

    // Act / Assess
    await expect(module.resources(context(grouped))).rejects.toThrow(/a poller group needs provisioned mode/);
    const roles = await module.resources(context(provisioned));
    expect(roles.ReaderEventSourceMappingMSKC1In).toEqual({
      Type: 'AWS::Lambda::EventSourceMapping',
      Properties: { ProvisionedPollerConfig: { PollerGroupName: 'svc-dev' } },
    });
    await expect(module.resources(context(throttled))).rejects.toThrow(/rateLimit: a whole number from 1 to 10000, not "0"/);
  });

  it("raises each function's Errors and Throttles alarm, each mapping's OffsetLag and the HTTP API's 5xx, to the stack's topic or a given one, and refuses a wrong topic or threshold", async () => {
    // Prepare
    const alarms = (topic: string, offsetLagThreshold: Json = 1000) =>
      service({ custom: { alarms: { topic, offsetLagThreshold, api5xxThreshold: 5 } } });
    const given = 'arn:aws:sns:us-east-1:123456789012:on-call';

    // Act
    const generated = await module.resources(context(alarms('generate')));
    const toGiven = await module.resources(context(alarms(given)));

    // Assess
    const ofType = (r: typeof generated, type: string) =>
      Object.keys(r)
        .filter((id) => r[id]!.Type === type)
        .sort();
    expect(ofType(generated, 'AWS::CloudWatch::Alarm')).toEqual([
      'HttpApi5xxAlarm',
      'ReaderErrorsAlarm',
      'ReaderOffsetLagAlarm',
      'ReaderThrottlesAlarm',
      'WebErrorsAlarm',
      'WebThrottlesAlarm',
    ]);
    expect(ofType(generated, 'AWS::SNS::Topic')).toEqual(['AlarmTopic']);
    expect(generated.ReaderOffsetLagAlarm!.Properties).toMatchObject({
      MetricName: 'OffsetLag',
      Threshold: 1000,
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: 'ReaderLambdaFunction' } }],
      AlarmActions: [{ Ref: 'AlarmTopic' }],
    });
    expect(ofType(toGiven, 'AWS::SNS::Topic')).toEqual([]);
    expect(toGiven.WebErrorsAlarm!.Properties.AlarmActions).toEqual([given]);
    await expect(module.resources(context(alarms('on-call')))).rejects.toThrow(
      /custom.alarms.topic: "generate" or an SNS topic ARN, not "on-call"/,
    );
    await expect(module.resources(context(alarms('generate', 'many')))).rejects.toThrow(
      /offsetLagThreshold: a whole number of at least 1, not "many"/,
    );
  });
});
