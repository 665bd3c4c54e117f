/**
 * `npm start`: the local stack (infra/local/stack.sh start: broker, Pushgateway,
 * Prometheus, topics, ready for consumer groups), then `serverless offline start` on it.
 * Before anything starts, a configuration src/config.ts refuses is refused here, naming
 * the variable (exit 2). Once serverless offline really serves (GET /healthz answers and
 * every event source mapping's consumer has joined its group) it prints where everything
 * is (infra/local/summary.ts).
 *
 * The terminal stays quiet (docs/local-stack.md, "What the terminal shows"): the functions log one
 * readable line per request and per warning (LOG_FORMAT=pretty unless set), and
 * serverless offline only its warnings and errors (SLS_LOG_LEVEL=warning unless set, or
 * `--verbose`). The admin routes get a token of the checkout's own unless ADMIN_TOKEN is
 * set (infra/local/admin-token.ts).
 *
 * Arguments go to `serverless offline start` (`npm start -- --verbose`).
 * Ctrl-C stops serverless offline; the stack keeps running (`npm run stack:stop`).
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config';
import { CONSUMER_FUNCTIONS, consumerGroupId } from '../../src/consumers';
import { ConfigError, errorMessage } from '../../src/errors';
import { createKafka } from '../../src/kafka';
import { adminAccess } from './admin-token';
import { httpRoutes, stackPrefix, summary } from './summary';

const repo = path.resolve(__dirname, '../..');
const SERVING_TIMEOUT_MS = 180_000;

/** The local state folder, as infra/local/stack.sh finds it. */
export function stateDir(env: NodeJS.ProcessEnv): string {
  return env.LOCAL_STACK_DIR || path.join(env.XDG_STATE_HOME || path.join(os.homedir(), '.local/state'), 'simple-time-service');
}

/** Why src/config.ts refuses this environment, as one line; undefined when it accepts it. */
export function configurationProblem(env: NodeJS.ProcessEnv): string | undefined {
  try {
    loadConfig(env);
    return undefined;
  } catch (error) {
    if (error instanceof ConfigError) return `${error.message}; nothing was started (docs/configuration.md)`;
    throw error;
  }
}

/**
 * The environment of serverless offline: readable logs unless LOG_FORMAT is set, and
 * serverless' own lines at warning and above unless SLS_LOG_LEVEL is set or the
 * arguments ask for more (`--verbose`, `--debug`).
 */
export function offlineEnvironment(env: NodeJS.ProcessEnv, args: string[]): NodeJS.ProcessEnv {
  const out = { ...env };
  out.LOG_FORMAT ??= 'pretty';
  if (!args.some((a) => a === '--verbose' || a === '--debug' || a.startsWith('--debug='))) out.SLS_LOG_LEVEL ??= 'warning';
  return out;
}

function elapsed(from: number): string {
  return ((performance.now() - from) / 1000).toFixed(1);
}

async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

const stackScript = path.join(repo, 'infra/local/stack.sh');

function runStack(env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn('bash', [stackScript, 'start'], { env, stdio: 'inherit' });
    child.once('error', () => resolve(1));
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

/** Whether the stack's own Prometheus runs (one it did not start does not count). */
function ownPrometheusRuns(env: NodeJS.ProcessEnv): boolean {
  const status = spawnSync('bash', [stackScript, 'status'], { env, encoding: 'utf8', timeout: 30_000 });
  return /^prometheus\s+running\b/m.test(status.stdout ?? '');
}

/** The variables `stack.sh env` sets for a client of the stack's Kafka and Pushgateway. */
const CLIENT_VARIABLES = [
  'KAFKA_BROKERS',
  'KAFKA_AUTH',
  'KAFKA_SASL_USERNAME',
  'KAFKA_SASL_PASSWORD',
  'KAFKA_SSL_CA_FILE',
  'KAFKA_SSL_CERT_FILE',
  'KAFKA_SSL_KEY_FILE',
  'PUSHGATEWAY_URL',
];

/**
 * What a client of the Kafka just started needs, from `stack.sh env <KAFKA_AUTH>`: its
 * brokers on the listener of that authentication and, for scram and tls, the credentials
 * and the CA. The `export` lines are evaluated by bash itself (they are shell-quoted),
 * in an environment of their own.
 */
export function stackClientEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const listed = spawnSync('bash', [stackScript, 'env', env.KAFKA_AUTH ?? 'none'], { env, encoding: 'utf8', timeout: 30_000 });
  if (listed.status !== 0) throw new Error((listed.stderr || 'stack.sh env failed').trim());
  const values = spawnSync(
    'bash',
    ['-c', 'eval "$1" && shift && for n; do printf "%s=%s\\0" "$n" "${!n-}"; done', '_', listed.stdout, ...CLIENT_VARIABLES],
    {
      env: { PATH: env.PATH ?? '' },
      encoding: 'utf8',
      timeout: 10_000,
    },
  );
  if (values.status !== 0) throw new Error(`stack.sh env printed what bash cannot read: ${values.stderr.trim()}`);
  const out: Record<string, string> = {};
  for (const entry of values.stdout.split('\0')) {
    const at = entry.indexOf('=');
    if (at > 0 && entry.length > at + 1) out[entry.slice(0, at)] = entry.slice(at + 1);
  }
  return out;
}

/** The members of each of the service's consumer groups, by group. */
type Members = Map<string, number>;

async function groupMembers(
  admin: ReturnType<ReturnType<typeof createKafka>['admin']>,
  groups: string[],
): Promise<Members & { stable: Set<string> }> {
  const { groups: described } = await admin.describeGroups(groups);
  const members = new Map(described.map((g) => [g.groupId, g.members.length])) as Members & { stable: Set<string> };
  members.stable = new Set(described.filter((g) => g.state === 'Stable').map((g) => g.groupId));
  return members;
}

/**
 * Waits until every event source mapping's consumer has joined its group: each of the
 * service's groups is Stable with more members than it had before serverless offline
 * started. Resolves false when `stop()` says to give up (serverless offline exited, or
 * the deadline passed).
 */
async function eventSourcesJoined(env: NodeJS.ProcessEnv, before: Members, stop: () => boolean): Promise<boolean> {
  const config = loadConfig(env);
  const groups = CONSUMER_FUNCTIONS.map((fn) => consumerGroupId(config.kafka, fn));
  const admin = createKafka({ kafka: config.kafka, brokers: config.kafka.brokers, clientId: 'simple-time-service-start' }).admin();
  await admin.connect();
  try {
    while (!stop()) {
      const now = await groupMembers(admin, groups).catch(() => undefined);
      if (now && groups.every((g) => now.stable.has(g) && (now.get(g) ?? 0) > (before.get(g) ?? 0))) return true;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    return false;
  } finally {
    await admin.disconnect();
  }
}

/** The members of the service's groups now (before serverless offline joins them). */
async function membersNow(env: NodeJS.ProcessEnv): Promise<Members> {
  const config = loadConfig(env);
  const admin = createKafka({ kafka: config.kafka, brokers: config.kafka.brokers, clientId: 'simple-time-service-start' }).admin();
  await admin.connect();
  try {
    return await groupMembers(
      admin,
      CONSUMER_FUNCTIONS.map((fn) => consumerGroupId(config.kafka, fn)),
    );
  } finally {
    await admin.disconnect();
  }
}

/**
 * Whether a line of serverless offline's stdout is worth a person's attention: not a blank
 * line, and not its box of routes (printed with console.log, whatever SLS_LOG_LEVEL says;
 * the summary lists the routes with their functions). `inBox` carries the state from one
 * line to the next.
 */
export function keepLine(line: string, state: { inBox: boolean }): boolean {
  const trimmed = line.trim();
  if (trimmed.startsWith('┌')) state.inBox = true;
  if (state.inBox) {
    if (trimmed.startsWith('└')) state.inBox = false;
    return false;
  }
  return trimmed !== '';
}

/** Copies `from` to `to` line by line, keeping what keepLine keeps. */
function quietCopy(from: Readable, to: NodeJS.WritableStream): void {
  const state = { inBox: false };
  createInterface({ input: from, crlfDelay: Infinity }).on('line', (line) => {
    if (keepLine(line, state)) to.write(`${line}\n`);
  });
}

/** serverless offline as a child sharing this terminal; resolves its exit code. */
function startOffline(
  env: NodeJS.ProcessEnv,
  args: string[],
): { exited: Promise<number>; code: () => number | undefined; stop: () => void } {
  // Quiet unless asked for serverless' own lines (--verbose): then everything, as it prints it.
  const quiet = env.SLS_LOG_LEVEL === 'warning';
  const offline = spawn(process.execPath, [path.join(repo, 'node_modules/serverless/bin/serverless.js'), 'offline', 'start', ...args], {
    cwd: repo,
    env,
    stdio: ['inherit', quiet ? 'pipe' : 'inherit', 'inherit'],
  });
  if (offline.stdout) quietCopy(offline.stdout, process.stdout);
  let code: number | undefined;
  const exited = new Promise<number>((resolve) => {
    offline.once('error', (error) => {
      console.error(`[start] could not run serverless offline: ${error.message}`);
      resolve(1);
    });
    offline.once('exit', (exit, signal) => resolve(exit ?? (signal === 'SIGINT' || signal === 'SIGTERM' ? 0 : 1)));
  });
  void exited.then((c) => (code = c));
  // Ctrl-C reaches serverless offline too (same process group): it stops, then so do we.
  // A SIGTERM sent to this process alone is passed on.
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => offline.kill('SIGTERM'));
  return { exited, code: () => code, stop: () => offline.kill('SIGINT') };
}

/** The shell's environment with the stack's client variables, the Pushgateway and the admin token. */
function serviceEnvironment(env: NodeJS.ProcessEnv): { env: NodeJS.ProcessEnv; admin: ReturnType<typeof adminAccess> } {
  const out = { ...env };
  // serverless offline gives the functions the environment serverless.yml declares,
  // which reads these: point it at the stack just started (its ports, its broker count and
  // the listener of KAFKA_AUTH may not be the defaults).
  // The Pushgateway's URL carries the credentials it requires (stack.sh env prints it).
  const fromStack = stackClientEnv(out);
  if (!out.KAFKA_BROKERS) Object.assign(out, { ...fromStack, PUSHGATEWAY_URL: out.PUSHGATEWAY_URL });
  out.PUSHGATEWAY_URL ??= fromStack.PUSHGATEWAY_URL ?? `http://127.0.0.1:${out.LOCAL_PUSHGATEWAY_PORT ?? '9091'}`;
  const admin = adminAccess(out, stateDir(out));
  if (admin.kind === 'file' || admin.kind === 'given') out.ADMIN_TOKEN = admin.token;
  return { env: out, admin };
}

async function main(): Promise<number> {
  const t0 = performance.now();
  const args = process.argv.slice(2);
  const refused = configurationProblem({ ...process.env, LOG_FORMAT: process.env.LOG_FORMAT ?? 'pretty' });
  if (refused !== undefined) {
    console.error(`[start] ${refused}`);
    return 2;
  }
  const stackCode = await runStack({ ...process.env });
  if (stackCode !== 0) return stackCode;
  const stackSeconds = elapsed(t0);
  let prepared;
  try {
    prepared = serviceEnvironment(process.env);
  } catch (error) {
    console.error(`[start] error: ${errorMessage(error)}`);
    return 1;
  }
  const { env, admin } = prepared;
  const apiUrl = `http://127.0.0.1:${env.HTTP_PORT ?? '3000'}`;

  const t1 = performance.now();
  const before = await membersNow(env);
  const offline = startOffline(offlineEnvironment(env, args), args);
  const deadline = Date.now() + SERVING_TIMEOUT_MS;
  const giveUp = () => offline.code() !== undefined || Date.now() > deadline;
  const joined = await eventSourcesJoined(env, before, giveUp);
  while (joined && !giveUp() && !(await answers(`${apiUrl}/healthz`))) await new Promise((resolve) => setTimeout(resolve, 250));
  if (offline.code() !== undefined) return offline.exited;
  if (Date.now() > deadline) {
    console.error(
      `[start] serverless offline did not serve ${apiUrl}/healthz with every event source mapping in its group within ${SERVING_TIMEOUT_MS / 1000} s; stopping it`,
    );
    offline.stop();
    await offline.exited;
    return 1;
  }

  const prometheusUrl = `http://127.0.0.1:${env.LOCAL_PROMETHEUS_PORT ?? '9090'}`;
  process.stdout.write(
    summary({
      env,
      apiUrl,
      routes: httpRoutes(readFileSync(path.join(repo, 'serverless.yml'), 'utf8')),
      prometheusUrl: ownPrometheusRuns(env) ? prometheusUrl : undefined,
      admin,
      checkout: repo,
      seconds: { total: elapsed(t0), stack: stackSeconds, offline: elapsed(t1) },
    }),
  );
  const code = await offline.exited;
  console.error(
    `[start] serverless offline stopped; the stack keeps running for the next start (${stackPrefix(env)}npm run stack:stop stops it)`,
  );
  return code;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error('[start] error:', error instanceof Error ? error.message : error);
      process.exit(1);
    },
  );
}
