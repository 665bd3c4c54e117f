// ESLint flat config: typescript-eslint's type-aware recommended rules for all TypeScript,
// the boundaries between the service's folders, and short functions (docs/contributing.md,
// "The lint rules, and why"). test/unit/lint-rules.test.ts plants a violation of each rule
// of this project.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** The folders of src/, each imported by others only through its index.ts. */
const SRC_FOLDERS = ['commands', 'consumers', 'events', 'http', 'kafka', 'metrics', 'provisioning', 'use-cases'];

/**
 * no-restricted-imports for the files of one area. Each library has one home: kafkajs in
 * src/kafka, prom-client in src/metrics, aws-lambda and middy in handlers/.
 */
function importRules(area) {
  const paths = [];
  const patterns = [];
  if (area !== 'src/kafka') paths.push({ name: 'kafkajs', message: 'kafkajs is imported only in src/kafka.' });
  if (area !== 'src/metrics') paths.push({ name: 'prom-client', message: 'prom-client is imported only in src/metrics.' });
  if (area !== 'handlers') {
    paths.push({ name: 'aws-lambda', message: 'Lambda types stay in handlers/.' });
    patterns.push({ group: ['@middy/*'], message: 'middy stays in handlers/.' });
    patterns.push({ group: ['**/handlers', '**/handlers/*'], message: 'src/ and infra/ do not depend on handlers/.' });
  }
  for (const folder of SRC_FOLDERS) {
    if (area === `src/${folder}`) continue;
    patterns.push({ group: [`**/${folder}/*`, `!**/${folder}/index`], message: `import src/${folder} through its index.` });
  }
  return { 'no-restricted-imports': ['error', { paths, patterns }] };
}

/**
 * The npm workspaces (package.json) stand alone: no file of theirs imports the service
 * (src/, handlers/, the root package) or anything else outside the workspace's folder, so
 * each is tested, packed and published on its own, and the service depends on it, never
 * the other way. Only their tests may reach the repository's test helpers listed in
 * `testHelpers` (dependency-free names and waits, a broker of a test's own): the broker
 * their integration tests run against is the repository's local stack.
 *
 * no-restricted-imports matches the import text, not the file it names, so the rule is
 * written per depth: a file `depth` folders below the workspace leaves it with
 * `depth + 1` or more `../`, and reaches the repository's root with `depth + up` of them.
 */
function standsAlone(workspace, testHelpers = []) {
  const up = workspace.split('/').length;
  const message = `${workspace} stands alone (an npm workspace): it imports nothing outside its folder, above all not the service (src/, handlers/).`;
  const rule = (regex) => ({
    'no-restricted-imports': ['error', { paths: [{ name: 'simple-time-service', message }], patterns: [{ regex, message }] }],
  });
  const blocks = [];
  for (let depth = 0; depth <= 3; depth++) {
    const leaves = `(\\.\\./){${depth + 1}}`;
    blocks.push({
      files: [`${workspace}/${'*/'.repeat(depth)}*.ts`, `${workspace}/${'*/'.repeat(depth)}*.mts`],
      rules: rule(`^${leaves}`),
    });
    if (depth === 0 || testHelpers.length === 0) continue;
    const helper = `(\\.\\./){${depth + up}}test/helpers/(${testHelpers.join('|')})$`;
    blocks.push({ files: [`${workspace}/test/${'*/'.repeat(depth - 1)}*.ts`], rules: rule(`^(?!${helper})${leaves}`) });
  }
  return blocks;
}

/** The longest a production function may be, blank lines and comments not counted. */
const MAX_FUNCTION_LINES = 80;

const processEnv = {
  'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'the environment is read only in src/config.ts.' }],
};

export default tseslint.config(
  { ignores: ['node_modules/', '.serverless/', '.esbuild/', 'coverage/', 'infra/offline-msk/dist/', '**/*.mjs', '**/*.cjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      'no-console': ['error', { allow: ['error'] }],
    },
  },
  {
    // Command-line tools and tests talk to a terminal.
    files: ['infra/**/*.ts', 'bench/**/*.ts', 'test/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
  // Boundaries. Tests and benchmarks may reach inside a folder; the service may not.
  ...SRC_FOLDERS.map((folder) => ({ files: [`src/${folder}/**/*.ts`], rules: importRules(`src/${folder}`) })),
  { files: ['src/*.ts'], rules: importRules('src') },
  { files: ['handlers/**/*.ts'], rules: importRules('handlers') },
  // The command line tools (infra/*.ts, and the dead-letter tool's logic in infra/dlq/) and the
  // local stack reach Kafka only through src/kafka's primitives, as the service does.
  { files: ['infra/*.ts', 'infra/dlq/**/*.ts', 'infra/local/**/*.ts'], rules: importRules('infra') },
  { files: ['src/**/*.ts', 'handlers/**/*.ts', 'infra/*.ts', 'infra/dlq/**/*.ts'], ignores: ['src/config.ts'], rules: processEnv },
  ...standsAlone('infra/offline-msk', ['names', 'wait-for', 'private-broker']),
  ...standsAlone('src/fleet-metrics'),
  {
    // A function does one thing. Past 80 lines it does several, and whoever changes one of
    // them has to read all of them: split it by concern (docs/contributing.md).
    // Tests are exempt: a describe() holds its cases by design.
    files: ['src/**/*.ts', 'handlers/**/*.ts', 'infra/**/*.ts', 'bench/**/*.ts'],
    ignores: ['infra/offline-msk/test/**', 'src/fleet-metrics/test/**'],
    rules: { 'max-lines-per-function': ['error', { max: MAX_FUNCTION_LINES, skipBlankLines: true, skipComments: true }] },
  },
);
