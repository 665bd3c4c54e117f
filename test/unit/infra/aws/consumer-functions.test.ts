/**
 * infra/aws/consumer-functions.cjs: serverless.yml's consumer functions come from the
 * consumer table, one per row, each with its own entry file, role, topic, group, batch
 * size and filter.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONSUMER_FUNCTIONS, filterPatterns } from '../../../../src/consumers/functions';

type Json = Record<string, unknown>;
const repo = path.resolve(__dirname, '../../../..');
const generator = createRequire(__filename)('../../../../infra/aws/consumer-functions.cjs') as {
  functions(): Record<string, Json & { handler: string; events: Array<{ msk: Json }> }>;
  consumerGroups(): string[];
};

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
});
