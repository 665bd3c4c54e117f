/**
 * Every variable docs/configuration.md's table documents reaches the functions: under
 * `npm start` (serverless offline, stage local, which gives the functions only what
 * serverless.yml declares) it follows the shell's environment, and a deployed stage sets
 * it from serverless.yml (its params), never from the deployer's shell. Derived from the
 * table, src/config.ts and the framework's own resolution of serverless.yml
 * (`serverless print`), so a variable added to one and not the others fails here. That
 * table is the only one: a table of variables elsewhere in README.md or docs/ fails too.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES } from '../../src/config';
import { trackedMarkdown } from '../helpers/markdown';

const repo = path.resolve(__dirname, '../..');
const run = promisify(execFile);

/** Set by the Lambda runtime (and serverless offline), not by the service's configuration. */
const RUNTIME = new Set([
  'AWS_LAMBDA_FUNCTION_NAME',
  'AWS_LAMBDA_FUNCTION_VERSION',
  'AWS_LAMBDA_FUNCTION_MEMORY_SIZE',
  'AWS_LAMBDA_LOG_STREAM_NAME',
  'AWS_EXECUTION_ENV',
  'AWS_LAMBDA_RUNTIME_API',
]);
/** Lambda reserves it: it follows the function's region (provider.region), not provider.environment. */
const REGION = 'AWS_REGION';

/** `NAME` → its default, for every row of every table of a page whose first cell names variables. */
function documentedVariables(readme: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const line of readme.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    if (cells.length < 4 || !cells[1]?.startsWith('`')) continue;
    const names = [...cells[1].matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]!);
    const defaults = (cells[2] ?? '').split(' / ');
    names.forEach((name, i) => found.set(name, (defaults[i] ?? defaults[0] ?? '').replace(/`/g, '')));
  }
  return found;
}

const CONFIGURATION = 'docs/configuration.md';
const documented = documentedVariables(readFileSync(path.join(repo, CONFIGURATION), 'utf8'));
const serverlessYml = readFileSync(path.join(repo, 'serverless.yml'), 'utf8');
const stackSh = readFileSync(path.join(repo, 'infra/local/stack.sh'), 'utf8');
const buildCommit = readFileSync(path.join(repo, 'infra/build-commit.cjs'), 'utf8');
const functionVariables = [...documented.keys()].filter((name) => CONFIG_VARIABLES.includes(name));

/** A value unlike the default that every use of the variable in serverless.yml still accepts. */
function sentinel(name: string): string {
  const special: Record<string, string> = {
    KAFKA_AUTO_OFFSET_RESET: 'latest',
    KAFKA_AUTH: 'scram',
    LOG_LEVEL: 'DEBUG',
    PUSHGATEWAY_URL: 'http://sentinel.example:9091',
    MSK_CLUSTER_ARN: 'arn:aws:kafka:us-east-1:123456789012:cluster/sentinel/1',
    ADMIN_TOKEN_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:sentinel-AbCdEf',
    METRICS_TOKEN_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:sentinel-metrics-AbCdEf',
    KAFKA_SASL_PASSWORD_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:AmazonMSK_sentinel-AbCdEf',
    KAFKA_BROKERS: 'sentinel.example:9092',
    [REGION]: 'eu-north-1',
  };
  const fallback = documented.get(name) ?? '';
  return special[name] ?? (/^\d+$/.test(fallback) ? String(Number(fallback) + 7) : `sentinel-${name.toLowerCase().replace(/_/g, '-')}`);
}

/**
 * The resolved configuration: what every function gets (provider.environment) merged
 * with what only some get (a function's own environment, e.g. the admin token for http).
 */
async function print(stage: string, env: Record<string, string>): Promise<{ environment: Record<string, unknown>; region: string }> {
  const { stdout } = await run('npx', ['serverless', 'print', '--stage', stage, '--format', 'json'], {
    cwd: repo,
    env: { ...process.env, ...env },
    timeout: 60_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  const printed = JSON.parse(stdout) as {
    provider: { environment: Record<string, unknown>; region: string };
    // serverless.yml lists its functions in parts (the consumer functions are generated).
    functions: Record<string, { environment?: Record<string, unknown> }> | Array<Record<string, { environment?: Record<string, unknown> }>>;
  };
  const environment = { ...printed.provider.environment };
  for (const fn of [printed.functions].flat().flatMap((part) => Object.values(part))) {
    for (const [name, value] of Object.entries(fn.environment ?? {}))
      if (!(name in printed.provider.environment)) environment[name] = value;
  }
  return { environment, region: printed.provider.region };
}

describe('configuration reaches the functions', () => {
  it('docs/configuration.md documents every variable the functions read, and everything it documents is read by something', () => {
    const undocumented = CONFIG_VARIABLES.filter((name) => !RUNTIME.has(name) && !documented.has(name));
    expect(undocumented, `read by src/config.ts but not in ${CONFIGURATION}'s table`).toEqual([]);
    const unused = [...documented.keys()].filter(
      (name) =>
        !CONFIG_VARIABLES.includes(name) &&
        !serverlessYml.includes(`env:${name}`) &&
        !stackSh.includes(`\${${name}:-`) &&
        !buildCommit.includes(`process.env.${name}`),
    );
    expect(
      unused,
      `documented in ${CONFIGURATION} but read by neither src/config.ts, serverless.yml, infra/local/stack.sh nor infra/build-commit.cjs`,
    ).toEqual([]);
    expect(functionVariables.length).toBeGreaterThan(20);
  });

  it('docs/configuration.md holds the only table of variables in README.md and docs/', () => {
    // Prepare: the pages a newcomer reads
    const pages = trackedMarkdown(repo).filter((file) => (file === 'README.md' || file.startsWith('docs/')) && file !== CONFIGURATION);
    // Act
    const elsewhere = pages.flatMap((file) =>
      [...documentedVariables(readFileSync(path.join(repo, file), 'utf8')).keys()].map((name) => `${file}: ${name}`),
    );
    // Assess: move the row into docs/configuration.md's table and link to it
    expect(documentedVariables('| variable | default |\n| --- | --- |\n| `A_B` | `1` | a |').has('A_B')).toBe(true);
    expect(elsewhere).toEqual([]);
  });

  it('under npm start (stage local) every documented variable follows the shell', async () => {
    // Prepare: every variable set to a value of its own
    const env = Object.fromEntries(functionVariables.map((name) => [name, sentinel(name)]));

    // Act
    const { environment, region } = await print('local', env);

    // Assess
    const missing = functionVariables.filter((name) => name !== REGION && environment[name] !== env[name]);
    expect(
      missing.map((name) => `${name}: ${JSON.stringify(environment[name])}`),
      'not passed from the shell to the functions',
    ).toEqual([]);
    expect(region, `${REGION} (the functions' region)`).toBe(env[REGION]);
  }, 90_000);

  it('a deployed stage sets every documented variable from serverless.yml, not from the deployer shell', async () => {
    // Prepare: a deployer's shell full of values that must not leak into the stack
    const env = Object.fromEntries(functionVariables.filter((name) => name !== REGION).map((name) => [name, sentinel(name)]));

    // Act
    const { environment } = await print('prod', env);

    // Assess
    const absent = functionVariables.filter((name) => name !== REGION && !(name in environment));
    expect(absent, "not in the functions' environment for prod").toEqual([]);
    const leaked = functionVariables.filter((name) => name !== REGION && environment[name] === env[name]);
    expect(leaked, "taken from the deployer's shell").toEqual([]);
    expect(environment).not.toHaveProperty(REGION); // reserved by Lambda
  }, 90_000);
});
