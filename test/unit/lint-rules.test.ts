/**
 * Each rule eslint.config.mjs adds for this project, shown to hold: a file planted with one
 * violation, in the folder the rule covers, fails lint with that rule's id and message; the
 * same code where the rule does not apply passes.
 */
import path from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const repo = path.resolve(__dirname, '../..');
const PLANTED = 'planted-rule';
// The planted files exist only as text: the project service types them as loose files.
const eslint = new ESLint({
  cwd: repo,
  overrideConfigFile: path.join(repo, 'eslint.config.mjs'),
  overrideConfig: {
    languageOptions: {
      parserOptions: {
        projectService: {
          allowDefaultProject: [
            `src/*/${PLANTED}.ts`,
            `src/${PLANTED}.ts`,
            `handlers/${PLANTED}.ts`,
            `infra/*/${PLANTED}.ts`,
            `infra/*/*/${PLANTED}.ts`,
            `bench/${PLANTED}.ts`,
            `test/unit/${PLANTED}.test.ts`,
          ],
          // One planted file per folder a rule covers: more than the default of 8.
          maximumDefaultProjectFileMatchCount_THIS_WILL_SLOW_DOWN_LINTING: 16,
        },
      },
    },
  },
});

/** What lint says of `code` as the file `file`, as `rule: message`. */
async function lint(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(repo, file) });
  return (result?.messages ?? []).map((m) => `${m.ruleId ?? 'fatal'}: ${m.message}`);
}

/** A function of `lines` lines, braces included, none blank and none a comment. */
function functionOfLines(lines: number): string {
  const body = Array.from({ length: lines - 4 }, (_, i) => `  total += ${i};`);
  return ['export function long(): number {', '  let total = 0;', ...body, '  return total;', '}', ''].join('\n');
}

const planted: Array<{ what: string; file: string; code: string; expected: string }> = [
  {
    what: 'a production function over 80 lines',
    file: `src/consumers/${PLANTED}.ts`,
    code: functionOfLines(81),
    expected: "max-lines-per-function: Function 'long' has too many lines (81). Maximum allowed is 80.",
  },
  {
    what: 'an event source function over 80 lines',
    file: `infra/offline-msk/src/${PLANTED}.ts`,
    code: functionOfLines(81),
    expected: "max-lines-per-function: Function 'long' has too many lines (81). Maximum allowed is 80.",
  },
  {
    what: 'kafkajs outside src/kafka',
    file: `src/consumers/${PLANTED}.ts`,
    code: "import { Kafka } from 'kafkajs';\n\nexport const client = Kafka;\n",
    expected: "no-restricted-imports: 'kafkajs' import is restricted from being used. kafkajs is imported only in src/kafka.",
  },
  {
    what: "kafkajs in an operator tool's logic (infra/dlq/)",
    file: `infra/dlq/${PLANTED}.ts`,
    code: "import { Kafka } from 'kafkajs';\n\nexport const client = Kafka;\n",
    expected: "no-restricted-imports: 'kafkajs' import is restricted from being used. kafkajs is imported only in src/kafka.",
  },
  {
    what: 'prom-client outside src/metrics',
    file: `src/kafka/${PLANTED}.ts`,
    code: "import { Counter } from 'prom-client';\n\nexport const counter = Counter;\n",
    expected: "no-restricted-imports: 'prom-client' import is restricted from being used. prom-client is imported only in src/metrics.",
  },
  {
    what: 'aws-lambda outside handlers/',
    file: `src/use-cases/${PLANTED}.ts`,
    code: "import type { Context } from 'aws-lambda';\n\nexport type LambdaContext = Context;\n",
    expected: "no-restricted-imports: 'aws-lambda' import is restricted from being used. Lambda types stay in handlers/.",
  },
  {
    what: 'middy outside handlers/',
    file: `src/http/${PLANTED}.ts`,
    code: "import middy from '@middy/core';\n\nexport const chain = middy;\n",
    expected: "no-restricted-imports: '@middy/core' import is restricted from being used by a pattern. middy stays in handlers/.",
  },
  {
    what: 'src/ importing handlers/',
    file: `src/use-cases/${PLANTED}.ts`,
    code: "import { handler } from '../../handlers/http';\n\nexport const h = handler;\n",
    expected:
      "no-restricted-imports: '../../handlers/http' import is restricted from being used by a pattern. src/ and infra/ do not depend on handlers/.",
  },
  {
    what: "an import past another folder's index",
    file: `handlers/${PLANTED}.ts`,
    code: "import { partitionLag } from '../src/consumers/lag';\n\nexport const lag = partitionLag;\n",
    expected:
      "no-restricted-imports: '../src/consumers/lag' import is restricted from being used by a pattern. import src/consumers through its index.",
  },
  {
    what: 'process.env outside src/config.ts',
    file: `src/kafka/${PLANTED}.ts`,
    code: 'export const brokers = process.env.KAFKA_BROKERS;\n',
    expected: "no-restricted-properties: 'process.env' is restricted from being used. the environment is read only in src/config.ts.",
  },
  {
    what: 'console.log in the service',
    file: `src/consumers/${PLANTED}.ts`,
    code: "export function say(): void {\n  console.log('hello');\n}\n",
    expected: 'no-console: Unexpected console statement. Only these console methods are allowed: error.',
  },
];

const allowed: Array<{ what: string; file: string; code: string }> = [
  { what: 'a function of 80 lines', file: `src/consumers/${PLANTED}.ts`, code: functionOfLines(80) },
  { what: 'a long test', file: `test/unit/${PLANTED}.test.ts`, code: functionOfLines(200) },
  {
    what: 'kafkajs in src/kafka',
    file: `src/kafka/${PLANTED}.ts`,
    code: "import { Kafka } from 'kafkajs';\n\nexport const client = Kafka;\n",
  },
  { what: 'process.env in src/config.ts', file: 'src/config.ts', code: 'export const brokers = process.env.KAFKA_BROKERS;\n' },
  {
    what: 'console.error in the service',
    file: `src/consumers/${PLANTED}.ts`,
    code: "export function say(): void {\n  console.error('hello');\n}\n",
  },
  {
    what: 'console.log in a command-line tool',
    file: `infra/local/${PLANTED}.ts`,
    code: "export function say(): void {\n  console.log('hello');\n}\n",
  },
];

// The first lint starts TypeScript's project service, which takes seconds.
describe('project lint rules (eslint.config.mjs)', { timeout: 60_000 }, () => {
  it.each(planted)('fails lint on $what', async ({ file, code, expected }) => {
    // Act
    const messages = await lint(file, code);
    // Assess
    expect(messages, `${file} should fail lint with exactly this rule; if a rule was removed from eslint.config.mjs, put it back`).toEqual([
      expected,
    ]);
  });

  it.each(allowed)('passes $what', async ({ file, code }) => {
    // Act
    const messages = await lint(file, code);
    // Assess
    expect(messages).toEqual([]);
  });
});
