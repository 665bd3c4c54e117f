/**
 * infra/aws/consumer-functions.cjs: serverless.yml's consumer functions come from the
 * consumer table, one per row, each with its own entry file, role, topic, group, batch
 * size, filter and Kafka permissions; and serverless.yml as the framework resolves it
 * (`serverless print`) has exactly those functions, each role writing exactly the topics
 * its row writes.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../../src/config';
import { CONSUMER_FUNCTIONS, consumerGroupId, consumerTopic, filterPatterns } from '../../../../src/consumers/functions';

type Json = Record<string, unknown>;
const repo = path.resolve(__dirname, '../../../..');
const run = promisify(execFile);
const generator = createRequire(__filename)('../../../../infra/aws/consumer-functions.cjs') as {
  functions(): Record<string, Json & { handler: string; events: Array<{ msk: Json }> }>;
  kafkaAccess(): Record<string, { write: string[] }>;
  consumerGroups(): string[];
};

type Functions = Record<string, { handler: string; role?: string; events?: Array<{ msk?: Json }> }>;

interface Printed {
  /** In parts, as serverless.yml lists them, or merged. */
  functions: Functions | Functions[];
  resources: {
    Resources: Record<
      string,
      { Properties: { Policies: Array<{ PolicyDocument: { Statement: Array<{ Action: string[]; Resource: unknown[] }> } }> } }
    >;
  };
}

/** serverless.yml resolved by the framework, on the local stage (plain ARNs; the same table on every stage). */
async function printed(): Promise<Printed> {
  const { stdout } = await run('npx', ['serverless', 'print', '--stage', 'local', '--format', 'json'], {
    cwd: repo,
    env: { ...process.env, LOCAL_KAFKA_AUTHZ_ADMIN: '' },
    timeout: 60_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  return JSON.parse(stdout) as Printed;
}

/** The topic names a role may write (kafka-cluster:WriteData), the last part of each topic ARN. */
function writable(resolved: Printed, functionKey: string): string[] {
  const role = resolved.resources.Resources[`${functionKey[0]!.toUpperCase()}${functionKey.slice(1)}LambdaRole`];
  const statements = role?.Properties.Policies.flatMap((p) => p.PolicyDocument.Statement) ?? [];
  return statements
    .filter((s) => s.Action.includes('kafka-cluster:WriteData'))
    .flatMap((s) => s.Resource.map((arn) => String(arn).split('/').pop()!));
}

describe('infra/aws/consumer-functions.cjs', () => {
  it('makes one function per row of the consumer table, with its own msk event', () => {
    // Act
    const functions = generator.functions();
    // Assess
    expect(Object.keys(functions)).toEqual(CONSUMER_FUNCTIONS.map((fn) => fn.name));
    for (const fn of CONSUMER_FUNCTIONS) {
      const generated = functions[fn.name]!;
      expect(generated).toMatchObject({ description: fn.description, role: `${fn.name[0]!.toUpperCase()}${fn.name.slice(1)}LambdaRole` });
      const [{ msk }] = generated.events as [{ msk: Json }];
      expect(msk).toMatchObject({
        topic: `\${param:topic${fn.topic[0]!.toUpperCase()}${fn.topic.slice(1)}}`,
        consumerGroupId: `\${param:consumerGroup}-${fn.groupSuffix}`,
        batchSize: fn.batchSize,
      });
      expect(msk.filterPatterns).toEqual(filterPatterns(fn));
    }
  });

  it("points each function at an entry that builds that row's consumer", () => {
    // Act
    const functions = generator.functions();
    // Assess
    for (const fn of CONSUMER_FUNCTIONS) {
      const entry = path.join(repo, `${functions[fn.name]!.handler.replace(/\.handler$/, '')}.ts`);
      expect(readFileSync(entry, 'utf8'), entry).toContain(`createConsumerHandler('${fn.name}', deps)`);
    }
  });

  it("names every consumer function's group for the metrics function's lag reads", () => {
    expect(generator.consumerGroups()).toEqual(CONSUMER_FUNCTIONS.map((fn) => `\${param:consumerGroup}-${fn.groupSuffix}`));
  });

  it('gives each consumer function write access to the topics its row writes', () => {
    expect(generator.kafkaAccess()).toEqual(
      Object.fromEntries(
        CONSUMER_FUNCTIONS.map((fn) => [fn.name, { write: fn.writes.map((t) => `\${param:topic${t[0]!.toUpperCase()}${t.slice(1)}}`) }]),
      ),
    );
  });
});

// Resolving serverless.yml runs the framework: seconds.
describe('serverless.yml, resolved', { timeout: 60_000 }, () => {
  const config = loadConfig({});

  it('has exactly the consumer functions of the table, each reading its topic with its group, and the three others', async () => {
    // Act
    const resolved = await printed();

    // Assess
    const functions = Object.assign({}, ...[resolved.functions].flat()) as Functions;
    const consumers = Object.entries(functions).filter(([, fn]) => (fn.events ?? []).some((e) => e.msk));
    expect(consumers.map(([key]) => key)).toEqual(CONSUMER_FUNCTIONS.map((fn) => fn.name));
    for (const fn of CONSUMER_FUNCTIONS) {
      const msk = functions[fn.name]?.events?.[0]?.msk;
      expect(msk, fn.name).toMatchObject({
        topic: consumerTopic(config.kafka, fn),
        consumerGroupId: consumerGroupId(config.kafka, fn),
        batchSize: fn.batchSize,
      });
    }
    expect(Object.keys(functions).filter((key) => !CONSUMER_FUNCTIONS.some((fn) => fn.name === key))).toEqual([
      'http',
      'metrics',
      'topics',
    ]);
  });

  it("lets each consumer function's role write exactly the topics its row writes", async () => {
    // Act
    const resolved = await printed();

    // Assess
    for (const fn of CONSUMER_FUNCTIONS) {
      expect(writable(resolved, fn.name).sort(), `${fn.name}'s role (kafka-cluster:WriteData)`).toEqual(
        fn.writes.map((t) => config.kafka.topics[t]).sort(),
      );
    }
  });
});
