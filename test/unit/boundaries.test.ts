/**
 * The folder boundaries eslint.config.mjs holds: one file planted with each violation fails
 * lint with the boundary's rule, and the same file without it passes.
 */
import path from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const repo = path.resolve(__dirname, '../..');
// The planted files exist only as text: the project service types them as loose files.
const eslint = new ESLint({
  cwd: repo,
  overrideConfig: {
    languageOptions: {
      parserOptions: {
        projectService: {
          allowDefaultProject: [
            'src/*/planted-boundary.ts',
            'handlers/planted-boundary.ts',
            'infra/offline-msk/*/planted-boundary.ts',
            'infra/offline-msk/test/integration/planted-boundary.ts',
            'src/fleet-metrics/src/planted-boundary.ts',
          ],
          maximumDefaultProjectFileMatchCount_THIS_WILL_SLOW_DOWN_LINTING: 16,
        },
      },
    },
  },
});

async function lint(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(repo, file) });
  return (result?.messages ?? []).map((m) => `${m.ruleId ?? 'fatal'}: ${m.message}`);
}

const planted: Array<{ what: string; file: string; code: string; rule: string }> = [
  {
    what: 'kafkajs outside src/kafka',
    file: 'src/consumers/planted-boundary.ts',
    code: "import { Kafka } from 'kafkajs';\n\nexport const client = Kafka;\n",
    rule: 'no-restricted-imports',
  },
  {
    what: 'prom-client outside src/metrics',
    file: 'src/kafka/planted-boundary.ts',
    code: "import { Counter } from 'prom-client';\n\nexport const counter = Counter;\n",
    rule: 'no-restricted-imports',
  },
  {
    what: 'process.env outside src/config.ts',
    file: 'src/kafka/planted-boundary.ts',
    code: 'export const brokers = process.env.KAFKA_BROKERS;\n',
    rule: 'no-restricted-properties',
  },
  {
    what: 'aws-lambda outside handlers/',
    file: 'src/use-cases/planted-boundary.ts',
    code: "import type { Context } from 'aws-lambda';\n\nexport type LambdaContext = Context;\n",
    rule: 'no-restricted-imports',
  },
  {
    what: 'middy outside handlers/',
    file: 'src/http/planted-boundary.ts',
    code: "import middy from '@middy/core';\n\nexport const chain = middy;\n",
    rule: 'no-restricted-imports',
  },
  {
    what: "an import past another folder's index",
    file: 'handlers/planted-boundary.ts',
    code: "import { partitionLag } from '../src/consumers/lag';\n\nexport const lag = partitionLag;\n",
    rule: 'no-restricted-imports',
  },
  {
    what: 'the service imported by the local MSK event source (a workspace)',
    file: 'infra/offline-msk/src/planted-boundary.ts',
    code: "import { loadConfig } from '../../../src/config';\n\nexport const load = loadConfig;\n",
    rule: 'no-restricted-imports',
  },
  {
    what: "a test helper that loads the service, in the local MSK event source's tests",
    file: 'infra/offline-msk/test/integration/planted-boundary.ts',
    code: "import { testKafka } from '../../../../test/helpers/kafka';\n\nexport const kafka = testKafka;\n",
    rule: 'no-restricted-imports',
  },
  {
    what: 'the service imported by the fleet-metrics protocol (a workspace)',
    file: 'src/fleet-metrics/src/planted-boundary.ts',
    code: "import { errorMessage } from '../../errors';\n\nexport const message = errorMessage;\n",
    rule: 'no-restricted-imports',
  },
];

// The first lint starts TypeScript's project service, which takes seconds.
describe('folder boundaries (eslint.config.mjs)', { timeout: 60_000 }, () => {
  it.each(planted)('fails lint on $what', async ({ file, code, rule }) => {
    // Act
    const messages = await lint(file, code);
    // Assess
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatch(new RegExp(`^${rule}: `));
  });

  it('passes the same places used as the boundaries allow', async () => {
    // Act
    const allowed = await Promise.all([
      lint('src/kafka/planted-boundary.ts', "import { Kafka } from 'kafkajs';\n\nexport const client = Kafka;\n"),
      lint('src/metrics/planted-boundary.ts', "import { Counter } from 'prom-client';\n\nexport const counter = Counter;\n"),
      lint(
        'handlers/planted-boundary.ts',
        "import { consumerGroupLag } from '../src/consumers';\n\nexport const lag = consumerGroupLag;\n",
      ),
      lint('handlers/planted-boundary.ts', "import middy from '@middy/core';\n\nexport const chain = middy;\n"),
      lint(
        'infra/offline-msk/test/planted-boundary.ts',
        "import { readMappings } from '../src/options';\n\nexport const read = readMappings;\n",
      ),
      lint(
        'infra/offline-msk/test/integration/planted-boundary.ts',
        "import { waitFor } from '../../../../test/helpers/wait-for';\n\nexport const wait = waitFor;\n",
      ),
    ]);
    // Assess
    expect(allowed).toEqual([[], [], [], [], [], []]);
  });
});
