// ESLint flat config: typescript-eslint's type-aware recommended rules for all TypeScript,
// and the boundaries between the service's folders (README, "Architecture").
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
  { files: ['infra/*.ts', 'infra/local/**/*.ts'], rules: importRules('infra') },
  { files: ['src/**/*.ts', 'handlers/**/*.ts', 'infra/*.ts'], ignores: ['src/config.ts'], rules: processEnv },
);
