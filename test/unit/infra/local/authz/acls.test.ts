/**
 * infra/local/authz/acls.ts: IAM policies (the roles infra/aws/serverless-resources.cjs
 * makes) as Kafka ACLs, through AWS's table of kafka-cluster actions.
 */
import { createRequire } from 'node:module';
import { AclOperationTypes, AclPermissionTypes, AclResourceTypes, ResourcePatternTypes } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import {
  KAFKA_CLUSTER_ACTIONS,
  PolicyError,
  expandActions,
  permissionsFromStatements,
  resourcePattern,
  roleStatements,
  parseClusterArn,
} from '../../../../../infra/local/authz/acls';
import type { KafkaAcl } from '../../../../../infra/local/authz/acls';
import { OPERATION, PATTERN_TYPE, PERMISSION, RESOURCE_TYPE } from '../../../../../infra/local/authz/kafka-acls';

const CLUSTER = 'arn:aws:kafka:us-east-1:123456789012:cluster/c1/uuid-1';
const topic = (name: string) => `arn:aws:kafka:us-east-1:123456789012:topic/c1/uuid-1/${name}`;
const group = (name: string) => `arn:aws:kafka:us-east-1:123456789012:group/c1/uuid-1/${name}`;
const allow = (Action: string | string[], Resource: string | string[]) => ({ Effect: 'Allow', Action, Resource });

/** ACLs as short strings, sorted: `ALLOW READ topic:in`. */
function short(acls: KafkaAcl[]): string[] {
  return acls.map((a) => `${a.permission} ${a.operation} ${a.kind}:${a.name}${a.pattern === 'PREFIXED' ? '*' : ''}`).sort();
}

describe('IAM policies as Kafka ACLs', () => {
  it("gives a consumer function's role exactly its topics, group and cluster operations", () => {
    // Prepare: what infra/aws/serverless-resources.cjs writes for a consumer that also writes the dlq
    const statements = [
      allow(['logs:CreateLogStream', 'logs:PutLogEvents'], ['arn:aws:logs:*']),
      allow(['kafka:GetBootstrapBrokers', 'kafka:DescribeClusterV2'], [CLUSTER]),
      allow(
        ['kafka-cluster:Connect', 'kafka-cluster:WriteDataIdempotently', 'kafka-cluster:DescribeClusterDynamicConfiguration'],
        [CLUSTER],
      ),
      allow(['kafka-cluster:DescribeTopic'], [topic('dlq'), topic('in')]),
      allow(['kafka-cluster:WriteData'], [topic('dlq')]),
      allow(['kafka-cluster:ReadData'], [topic('in')]),
      allow(['kafka-cluster:DescribeGroup'], [group('g-in')]),
      allow(['kafka-cluster:AlterGroup'], [group('g-in')]),
    ];

    // Act
    const permissions = permissionsFromStatements(statements, CLUSTER);

    // Assess
    expect(permissions.connect).toBe(true);
    expect(permissions.notes).toEqual([]);
    expect(short(permissions.acls)).toEqual([
      'ALLOW DESCRIBE group:g-in',
      'ALLOW DESCRIBE topic:dlq',
      'ALLOW DESCRIBE topic:in',
      'ALLOW DESCRIBE_CONFIGS cluster:kafka-cluster',
      'ALLOW IDEMPOTENT_WRITE cluster:kafka-cluster',
      'ALLOW READ group:g-in',
      'ALLOW READ topic:in',
      'ALLOW WRITE topic:dlq',
    ]);
  });

  it("leaves out an action whose required actions are missing, and says which (Kafka's WRITE would imply DESCRIBE; IAM's WriteData does not)", () => {
    // Prepare
    const statements = [
      allow(['kafka-cluster:Connect', 'kafka-cluster:WriteDataIdempotently'], CLUSTER),
      allow('kafka-cluster:WriteData', [topic('a'), topic('b')]),
      allow('kafka-cluster:DescribeTopic', topic('a')),
      allow('kafka-cluster:ReadData', topic('a')),
    ];

    // Act
    const permissions = permissionsFromStatements(statements, CLUSTER);

    // Assess: b has no DescribeTopic, and reading needs AlterGroup on some group
    expect(short(permissions.acls)).toEqual([
      'ALLOW DESCRIBE topic:a',
      'ALLOW IDEMPOTENT_WRITE cluster:kafka-cluster',
      'ALLOW WRITE topic:a',
    ]);
    expect(permissions.notes).toEqual([
      'kafka-cluster:WriteData on topic b is left out: AWS requires kafka-cluster:DescribeTopic with it',
      'kafka-cluster:ReadData on topic a is left out: AWS requires kafka-cluster:AlterGroup with it',
    ]);
  });

  it('grants nothing without kafka-cluster:Connect (MSK refuses the login)', () => {
    // Act
    const permissions = permissionsFromStatements([allow('kafka-cluster:DescribeTopic', topic('a'))], CLUSTER);

    // Assess
    expect(permissions).toEqual({
      connect: false,
      acls: [],
      notes: ['no kafka-cluster:Connect on the cluster: MSK refuses the login itself, so nothing else counts'],
    });
  });

  it('notes WriteData without WriteDataIdempotently, which the local broker cannot refuse', () => {
    // Act
    const permissions = permissionsFromStatements(
      [allow('kafka-cluster:Connect', CLUSTER), allow(['kafka-cluster:DescribeTopic', 'kafka-cluster:WriteData'], topic('a'))],
      CLUSTER,
    );

    // Assess
    expect(permissions.notes).toEqual([
      expect.stringMatching(/^kafka-cluster:WriteData without kafka-cluster:WriteDataIdempotently: an idempotent producer fails on MSK/),
    ]);
  });

  it('expands action wildcards against AWS list, case-insensitively, and reads resource wildcards as Kafka patterns', () => {
    // Act / Assess
    expect(expandActions(['kafka-cluster:*Topic'])).toEqual([
      'kafka-cluster:CreateTopic',
      'kafka-cluster:DescribeTopic',
      'kafka-cluster:AlterTopic',
      'kafka-cluster:DeleteTopic',
    ]);
    expect(expandActions(['KAFKA-CLUSTER:readdata', 'kafka:*'])).toEqual(['kafka-cluster:ReadData']);
    expect(expandActions(['*'])).toHaveLength(Object.keys(KAFKA_CLUSTER_ACTIONS).length);
    const cluster = parseClusterArn(CLUSTER);
    expect(resourcePattern(topic('sts-*'), 'topic', cluster)).toEqual({ kind: 'topic', name: 'sts-', pattern: 'PREFIXED' });
    expect(resourcePattern(topic('*'), 'topic', cluster)).toEqual({ kind: 'topic', name: '*', pattern: 'LITERAL' });
    expect(resourcePattern('arn:aws:kafka:us-east-1:123456789012:topic/c1/*', 'topic', cluster)).toEqual({
      kind: 'topic',
      name: '*',
      pattern: 'LITERAL',
    });
    expect(resourcePattern('*', 'group', cluster)).toEqual({ kind: 'group', name: '*', pattern: 'LITERAL' });
    expect(resourcePattern('arn:aws:kafka:us-east-1:123456789012:cluster/c1/*', 'cluster', cluster)).toEqual({
      kind: 'cluster',
      name: 'kafka-cluster',
      pattern: 'LITERAL',
    });
    expect(resourcePattern(topic('a'), 'group', cluster)).toBeUndefined();
    expect(resourcePattern('arn:aws:kafka:us-east-1:123456789012:topic/other/uuid-2/a', 'topic', cluster)).toBeUndefined();
    expect(() => resourcePattern(topic('*_test'), 'topic', cluster)).toThrow(PolicyError);
  });

  it('writes Deny statements as DENY ACLs, and refuses what ACLs cannot say', () => {
    // Prepare
    const base = [
      allow('kafka-cluster:Connect', CLUSTER),
      allow(['kafka-cluster:DescribeTopic', 'kafka-cluster:ReadData'], topic('*')),
      allow(['kafka-cluster:DescribeGroup', 'kafka-cluster:AlterGroup'], group('*')),
    ];

    // Act
    const permissions = permissionsFromStatements(
      [...base, { Effect: 'Deny', Action: 'kafka-cluster:ReadData', Resource: topic('secret') }],
      CLUSTER,
    );

    // Assess
    expect(short(permissions.acls)).toContain('DENY READ topic:secret');
    expect(() => permissionsFromStatements([{ Effect: 'Allow', NotAction: 'kafka-cluster:ReadData', Resource: '*' }], CLUSTER)).toThrow(
      /NotAction cannot be written as Kafka ACLs/,
    );
    expect(() => permissionsFromStatements([{ ...allow('kafka-cluster:ReadData', '*'), Condition: { Bool: {} } }], CLUSTER)).toThrow(
      /Condition cannot be written as Kafka ACLs/,
    );
    expect(() => permissionsFromStatements([allow('kafka-cluster:ReadData', [{ 'Fn::Sub': 'x' } as unknown as string])], CLUSTER)).toThrow(
      /not a plain ARN/,
    );
  });

  it('reads the roles infra/aws/serverless-resources.cjs makes, for every function', async () => {
    // Prepare: a small service through the real generator of the deployed roles
    type Resources = Record<string, { Type: string }>;
    const load = createRequire(__filename);
    const { resources } = load('../../../../../infra/aws/serverless-resources.cjs') as {
      resources: (context: unknown) => Promise<Resources>;
    };
    const config: Record<string, unknown> = {
      service: 'svc',
      provider: { stage: 'local' },
      custom: { kafkaAccess: { reader: { write: ['dlq'] }, web: { write: ['requests'] } } },
      functions: {
        reader: { role: 'ReaderLambdaRole', events: [{ msk: { arn: CLUSTER, topic: 'in', consumerGroupId: 'g-in' } }] },
        web: { role: 'WebLambdaRole', events: [{ httpApi: 'GET /' }] },
      },
    };
    const resolveConfigurationProperty = (path: string[]) =>
      Promise.resolve(path.reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], config));

    // Act
    const roles = await resources({ options: { stage: 'local' }, resolveConfigurationProperty });
    const reader = permissionsFromStatements(roleStatements(roles.ReaderLambdaRole, 'ReaderLambdaRole'), CLUSTER);
    const web = permissionsFromStatements(roleStatements(roles.WebLambdaRole, 'WebLambdaRole'), CLUSTER);

    // Assess
    expect(short(reader.acls)).toEqual([
      'ALLOW DESCRIBE group:g-in',
      'ALLOW DESCRIBE topic:dlq',
      'ALLOW DESCRIBE topic:in',
      'ALLOW DESCRIBE_CONFIGS cluster:kafka-cluster',
      'ALLOW IDEMPOTENT_WRITE cluster:kafka-cluster',
      'ALLOW READ group:g-in',
      'ALLOW READ topic:in',
      'ALLOW WRITE topic:dlq',
    ]);
    expect(short(web.acls)).toEqual([
      'ALLOW DESCRIBE topic:requests',
      'ALLOW IDEMPOTENT_WRITE cluster:kafka-cluster',
      'ALLOW WRITE topic:requests',
    ]);
    expect(() => roleStatements(roles.ReaderLambdaRole, 'x')).not.toThrow();
    expect(() => roleStatements({ Type: 'AWS::S3::Bucket' }, 'Bucket')).toThrow(/not an AWS::IAM::Role/);
  });

  it("uses Kafka's protocol codes, the numbers of kafkajs' enums", () => {
    // Assess
    expect(RESOURCE_TYPE).toEqual({
      ANY: AclResourceTypes.ANY,
      topic: AclResourceTypes.TOPIC,
      group: AclResourceTypes.GROUP,
      cluster: AclResourceTypes.CLUSTER,
      'transactional-id': AclResourceTypes.TRANSACTIONAL_ID,
    });
    expect(PATTERN_TYPE).toEqual({
      ANY: ResourcePatternTypes.ANY,
      LITERAL: ResourcePatternTypes.LITERAL,
      PREFIXED: ResourcePatternTypes.PREFIXED,
    });
    expect(PERMISSION).toEqual({ ANY: AclPermissionTypes.ANY, DENY: AclPermissionTypes.DENY, ALLOW: AclPermissionTypes.ALLOW });
    for (const [name, code] of Object.entries(OPERATION))
      expect(code, name).toBe(AclOperationTypes[name as keyof typeof AclOperationTypes]);
  });

  it("holds AWS's table: every action maps to the ACL operation its description names", () => {
    // The page's wording, "equivalent to Apache Kafka's <OPERATION> <RESOURCE> ACL", per action.
    const page: Record<string, string> = {
      DescribeCluster: 'DESCRIBE CLUSTER',
      AlterCluster: 'ALTER CLUSTER',
      DescribeClusterDynamicConfiguration: 'DESCRIBE_CONFIGS CLUSTER',
      AlterClusterDynamicConfiguration: 'ALTER_CONFIGS CLUSTER',
      WriteDataIdempotently: 'IDEMPOTENT_WRITE CLUSTER',
      CreateTopic: 'CREATE TOPIC',
      DescribeTopic: 'DESCRIBE TOPIC',
      AlterTopic: 'ALTER TOPIC',
      DeleteTopic: 'DELETE TOPIC',
      DescribeTopicDynamicConfiguration: 'DESCRIBE_CONFIGS TOPIC',
      AlterTopicDynamicConfiguration: 'ALTER_CONFIGS TOPIC',
      ReadData: 'READ TOPIC',
      WriteData: 'WRITE TOPIC',
      DescribeGroup: 'DESCRIBE GROUP',
      AlterGroup: 'READ GROUP',
      DeleteGroup: 'DELETE GROUP',
      DescribeTransactionalId: 'DESCRIBE TRANSACTIONAL-ID',
      AlterTransactionalId: 'WRITE TRANSACTIONAL-ID',
    };
    const table = Object.fromEntries(
      Object.entries(KAFKA_CLUSTER_ACTIONS)
        .filter(([, s]) => s.operation !== undefined)
        .map(([action, s]) => [action.replace('kafka-cluster:', ''), `${s.operation} ${s.resource.toUpperCase()}`]),
    );
    expect(table).toEqual(page);
  });
});
