/**
 * `npm start`: the local stack (infra/local/stack.sh start: broker, Pushgateway,
 * Prometheus, topics, ready for consumer groups), then `serverless offline start` on it.
 * Once serverless offline really serves (GET /healthz answers and the local MSK event
 * source runs) it prints where everything is: the API and its routes (from
 * serverless.yml), Prometheus and its dashboard, the topics, the consumer functions with
 * their groups (src/consumers/functions.ts), a command to try, and how to stop.
 *
 * Arguments go to `serverless offline start` (`npm start -- --stage local`).
 * Ctrl-C stops serverless offline; the stack keeps running (`npm run stack:stop`).
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../src/config';
import { CONSUMER_FUNCTIONS, consumerGroupId, consumerTopic } from '../../src/consumers';
import { errorMessage } from '../../src/errors';

const repo = path.resolve(__dirname, '../..');
/** serverless offline's notice once every event source mapping consumes (infra/offline-msk). */
const EVENT_SOURCE_RUNNING = /event source mapping\(s\) running/;
const SERVING_TIMEOUT_MS = 180_000;

export interface Route {
  method: string;
  path: string;
  fn: string;
}

/** The httpApi routes of serverless.yml's functions (`- httpApi: GET /path`). */
export function httpRoutes(serverlessYml: string): Route[] {
  const routes: Route[] = [];
  let inFunctions = false;
  let fn = '';
  for (const line of serverlessYml.split('\n')) {
    if (/^\S/.test(line)) inFunctions = /^functions:\s*$/.test(line);
    if (!inFunctions) continue;
    const name = /^ {2}([A-Za-z0-9_-]+):\s*$/.exec(line);
    if (name) fn = name[1]!;
    const route = /^\s+-\s+httpApi:\s+'?([A-Z*]+)\s+(\/[^\s']*)'?\s*$/.exec(line);
    if (route) routes.push({ method: route[1]!, path: route[2]!, fn });
  }
  return routes;
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

/** The variables `stack.sh env` sets for a client of the stack's Kafka. */
const CLIENT_VARIABLES = ['KAFKA_BROKERS', 'KAFKA_AUTH', 'KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD', 'KAFKA_SSL_CA_FILE', 'KAFKA_SSL_CERT_FILE', 'KAFKA_SSL_KEY_FILE'];

/**
 * What a client of the Kafka just started needs, from `stack.sh env <KAFKA_AUTH>`: its
 * brokers on the listener of that authentication and, for scram and tls, the credentials
 * and the CA. The `export` lines are evaluated by bash itself (they are shell-quoted),
 * in an environment of their own.
 */
export function stackClientEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const listed = spawnSync('bash', [stackScript, 'env', env.KAFKA_AUTH ?? 'none'], { env, encoding: 'utf8', timeout: 30_000 });
  if (listed.status !== 0) throw new Error((listed.stderr || 'stack.sh env failed').trim());
  const values = spawnSync('bash', ['-c', 'eval "$1" && shift && for n; do printf "%s=%s\\0" "$n" "${!n-}"; done', '_', listed.stdout, ...CLIENT_VARIABLES], {
    env: { PATH: env.PATH ?? '' },
    encoding: 'utf8',
    timeout: 10_000,
  });
  if (values.status !== 0) throw new Error(`stack.sh env printed what bash cannot read: ${values.stderr.trim()}`);
  const out: Record<string, string> = {};
  for (const entry of values.stdout.split('\0')) {
    const at = entry.indexOf('=');
    if (at > 0 && entry.length > at + 1) out[entry.slice(0, at)] = entry.slice(at + 1);
  }
  return out;
}

/** The variables that point the stack elsewhere than its defaults, as a command prefix. */
function stackPrefix(env: NodeJS.ProcessEnv): string {
  const names = [
    'LOCAL_STACK_DIR',
    'LOCAL_KAFKA_BROKERS',
    'LOCAL_KAFKA_SASL',
    'LOCAL_KAFKA_PORT',
    'LOCAL_KAFKA_CONTROLLER_PORT',
    'LOCAL_PUSHGATEWAY_PORT',
    'LOCAL_PROMETHEUS_PORT',
  ];
  const set = names.filter((n) => env[n]).map((n) => `${n}=${shellQuote(env[n]!)}`);
  return set.length > 0 ? `${set.join(' ')} ` : '';
}

function shellQuote(value: string): string {
  return /^[A-Za-z0-9_./:@,+=-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

export function summary(params: {
  env: NodeJS.ProcessEnv;
  apiUrl: string;
  routes: Route[];
  prometheusUrl: string | undefined;
  seconds: { total: string; stack: string; offline: string };
}): string {
  const { env, apiUrl, routes, prometheusUrl } = params;
  const config = loadConfig(env);
  const { topics } = config.kafka;
  const width = Math.max(...CONSUMER_FUNCTIONS.map((fn) => fn.name.length));
  const pathWidth = Math.max(...routes.map((r) => r.path.length));
  const brokers = config.kafka.brokers.join(',');
  const brokerPrefix = brokers === '127.0.0.1:9092' || brokers === 'localhost:9092' ? '' : `KAFKA_BROKERS=${shellQuote(brokers)} `;
  const indent = ' '.repeat(15);
  const lines = [
    '',
    `simple-time-service is serving (ready in ${params.seconds.total} s: local stack ${params.seconds.stack} s, serverless offline ${params.seconds.offline} s)`,
    '',
    `  API          ${apiUrl}`,
    ...routes.map((r) => `${indent}${r.method.padEnd(5)}${r.path.padEnd(pathWidth)}  (function ${r.fn})`),
    ...(prometheusUrl
      ? [`  Prometheus   ${prometheusUrl}`, `  Dashboard    ${prometheusUrl}/consoles/simple-time-service.html`]
      : ['  Prometheus   not running (LOCAL_PROMETHEUS=off, not installed, or its port is taken: see the [stack] lines above)']),
    `  Pushgateway  ${config.pushgateway.url}`,
    `  Kafka        ${brokers}`,
    `  Topics       ${topics.requests}, ${topics.events}, ${topics.commands}, ${topics.dlq} (dead letters)`,
    `  Consumers    ${'function'.padEnd(width)}  topic → consumer group`,
    ...CONSUMER_FUNCTIONS.map((fn) => `${indent}${fn.name.padEnd(width)}  ${consumerTopic(config.kafka, fn)} → ${consumerGroupId(config.kafka, fn)}`),
    `  Try          ${brokerPrefix}npm run publish -- --command time.now --payload '{"timezone":"Europe/Paris"}' --wait`,
    '  Stop         Ctrl-C stops serverless offline; the stack keeps running for the next start. To stop it:',
    `${indent}${stackPrefix(env)}npm run stack:stop`,
    '',
  ];
  return lines.join('\n');
}

async function main(): Promise<number> {
  const t0 = performance.now();
  const env: NodeJS.ProcessEnv = { ...process.env };
  const stackCode = await runStack(env);
  if (stackCode !== 0) return stackCode;
  const stackSeconds = elapsed(t0);

  // serverless offline gives the functions the environment serverless.yml declares,
  // which reads these: point it at the stack just started (its ports, its broker count and
  // the listener of KAFKA_AUTH may not be the defaults).
  if (!env.KAFKA_BROKERS) {
    try {
      Object.assign(env, stackClientEnv(env));
    } catch (error) {
      console.error(`[start] error: ${errorMessage(error)}`);
      return 1;
    }
  }
  env.PUSHGATEWAY_URL ??= `http://127.0.0.1:${env.LOCAL_PUSHGATEWAY_PORT ?? '9091'}`;
  const apiUrl = `http://127.0.0.1:${env.HTTP_PORT ?? '3000'}`;
  const prometheusPort = env.LOCAL_PROMETHEUS_PORT ?? '9090';

  const t1 = performance.now();
  const offline = spawn(process.execPath, [path.join(repo, 'node_modules/serverless/bin/serverless.js'), 'offline', 'start', ...process.argv.slice(2)], {
    cwd: repo,
    env,
    stdio: ['inherit', 'pipe', 'pipe'],
  });
  let seen = '';
  let running = false;
  const watch = (chunk: Buffer, out: NodeJS.WriteStream): void => {
    out.write(chunk);
    if (running) return;
    // Keep the tail only: the notice may span two chunks.
    seen = (seen + chunk.toString()).slice(-4096);
    running = EVENT_SOURCE_RUNNING.test(seen);
  };
  offline.stdout.on('data', (chunk: Buffer) => watch(chunk, process.stdout));
  offline.stderr.on('data', (chunk: Buffer) => watch(chunk, process.stderr));
  const exited = new Promise<number>((resolve) => {
    offline.once('error', (error) => {
      console.error(`[start] could not run serverless offline: ${error.message}`);
      resolve(1);
    });
    offline.once('exit', (code, signal) => resolve(code ?? (signal === 'SIGINT' || signal === 'SIGTERM' ? 0 : 1)));
  });
  let exitCode: number | undefined;
  void exited.then((code) => (exitCode = code));

  // Ctrl-C reaches serverless offline too (same process group): it stops, then so do we.
  // A SIGTERM sent to this process alone is passed on.
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => offline.kill('SIGTERM'));

  const deadline = Date.now() + SERVING_TIMEOUT_MS;
  while (exitCode === undefined && !(running && (await answers(`${apiUrl}/healthz`)))) {
    if (Date.now() > deadline) {
      console.error(`[start] serverless offline did not serve ${apiUrl}/healthz with its event source running within ${SERVING_TIMEOUT_MS / 1000} s; stopping it`);
      offline.kill('SIGINT');
      await exited;
      return 1;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  if (exitCode !== undefined) return exitCode;

  const routes = httpRoutes(readFileSync(path.join(repo, 'serverless.yml'), 'utf8'));
  const prometheusUrl = `http://127.0.0.1:${prometheusPort}`;
  const prometheusUp = ownPrometheusRuns(env);
  process.stdout.write(
    summary({
      env,
      apiUrl,
      routes,
      prometheusUrl: prometheusUp ? prometheusUrl : undefined,
      seconds: { total: elapsed(t0), stack: stackSeconds, offline: elapsed(t1) },
    }),
  );
  return exited;
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
