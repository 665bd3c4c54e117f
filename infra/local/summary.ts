/**
 * What `npm start` prints once the service serves (infra/local/start.ts): the API and its
 * routes with their functions (from serverless.yml), Prometheus and the dashboard of this
 * checkout's stage, the admin routes with a curl that works as pasted, the topics, the
 * consumer functions with their groups, a command to try, the logs, and how to stop.
 */
import os from 'node:os';
import path from 'node:path';
import yaml from 'js-yaml';
import { CLOUDFORMATION_SCHEMA } from '../cloudformation-yaml';
import { loadConfig } from '../../src/config';
import { CONSUMER_FUNCTIONS, consumerGroupId, consumerTopic } from '../../src/consumers';
import { stageLabel, withoutCredentials } from '../../src/metrics';
import type { AdminAccess } from './admin-token';

export interface Route {
  method: string;
  path: string;
  fn: string;
}

/** The httpApi routes of serverless.yml's functions (`- httpApi: GET /path`, or `{ method, path }`), with their function. */
export function httpRoutes(serverlessYml: string): Route[] {
  const parsed = yaml.load(serverlessYml, { schema: CLOUDFORMATION_SCHEMA }) as { functions?: unknown };
  const groups = Array.isArray(parsed.functions) ? parsed.functions : [parsed.functions];
  const routes: Route[] = [];
  for (const group of groups) {
    // A `${file(...)}` entry (the consumer functions) is a string here: no HTTP routes.
    if (typeof group !== 'object' || group === null) continue;
    for (const [fn, definition] of Object.entries(group as Record<string, { events?: Array<{ httpApi?: unknown }> }>)) {
      for (const event of definition?.events ?? []) {
        const api = event?.httpApi;
        const [method, route] =
          typeof api === 'string' ? api.split(/\s+/) : [(api as { method?: string })?.method, (api as { path?: string })?.path];
        if (method && route) routes.push({ method: method.toUpperCase(), path: route, fn });
      }
    }
  }
  return routes;
}

export function shellQuote(value: string): string {
  return /^[A-Za-z0-9_./:@,+=-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/** A path as a person types it: `~/…` for one under the home folder. */
function homeRelative(file: string): string {
  const home = os.homedir();
  return file.startsWith(`${home}${path.sep}`) ? `~/${path.relative(home, file)}` : file;
}

/** The variables that point the stack elsewhere than its defaults, as a command prefix. */
export function stackPrefix(env: NodeJS.ProcessEnv): string {
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

const INDENT = ' '.repeat(15);

/** The admin routes' lines: a curl that works as pasted in another shell, or why they are off. */
export function adminLines(admin: AdminAccess, apiUrl: string): string[] {
  const curl = (bearer: string) => `${INDENT}curl -X POST ${apiUrl}/kafka/flush -H "Authorization: Bearer ${bearer}"`;
  switch (admin.kind) {
    case 'file': {
      const file = homeRelative(admin.file);
      return [
        `  Admin        POST /kafka/publish and /kafka/flush: the bearer token is in ${file}${admin.made ? ' (made now, kept for the next starts)' : ''}`,
        curl(`$(cat ${file})`),
      ];
    }
    case 'given':
      return [
        '  Admin        POST /kafka/publish and /kafka/flush: the bearer token is ADMIN_TOKEN',
        `${INDENT}curl -X POST ${apiUrl}/kafka/flush -H ${shellQuote(`Authorization: Bearer ${admin.token}`)}`,
      ];
    case 'secret':
      return [`  Admin        POST /kafka/publish and /kafka/flush: the bearer token is the value of the secret ${admin.arn}`];
    case 'off':
      return [
        '  Admin        off (ADMIN_TOKEN is empty): start without ADMIN_TOKEN for a local token, or ADMIN_TOKEN=<16+ characters> npm start',
      ];
  }
}

export function summary(params: {
  env: NodeJS.ProcessEnv;
  apiUrl: string;
  routes: Route[];
  prometheusUrl: string | undefined;
  admin: AdminAccess;
  /** The checkout serverless offline runs in: the local stage's label is made from it. */
  checkout: string;
  seconds: { total: string; stack: string; offline: string };
}): string {
  const { env, apiUrl, routes, prometheusUrl } = params;
  const config = loadConfig(env);
  const { topics } = config.kafka;
  const width = Math.max(...CONSUMER_FUNCTIONS.map((fn) => fn.name.length));
  const pathWidth = Math.max(...routes.map((r) => r.path.length));
  const brokers = config.kafka.brokers.join(',');
  const brokerPrefix = brokers === '127.0.0.1:9092' || brokers === 'localhost:9092' ? '' : `KAFKA_BROKERS=${shellQuote(brokers)} `;
  const stage = stageLabel(config.service.stage, params.checkout);
  const lines = [
    '',
    `simple-time-service is serving (ready in ${params.seconds.total} s: local stack ${params.seconds.stack} s, serverless offline ${params.seconds.offline} s)`,
    '',
    `  API          ${apiUrl}`,
    ...routes.map((r) => `${INDENT}${r.method.padEnd(5)}${r.path.padEnd(pathWidth)}  (function ${r.fn})`),
    ...adminLines(params.admin, apiUrl),
    ...(prometheusUrl
      ? [
          `  Prometheus   ${prometheusUrl}  (targets: ${prometheusUrl}/classic/targets, rules: ${prometheusUrl}/classic/rules)`,
          `  Dashboard    ${prometheusUrl}/consoles/simple-time-service.html?stage=${stage}`,
        ]
      : ['  Prometheus   not running (LOCAL_PROMETHEUS=off, not installed, or its port is taken: see the [stack] lines above)']),
    `  Pushgateway  ${withoutCredentials(config.pushgateway.url).url}`,
    `  Kafka        ${brokers}`,
    `  Topics       ${topics.requests}, ${topics.events}, ${topics.commands}, ${topics.dlq} (dead letters)`,
    `  Consumers    ${'function'.padEnd(width)}  topic → consumer group`,
    ...CONSUMER_FUNCTIONS.map(
      (fn) => `${INDENT}${fn.name.padEnd(width)}  ${consumerTopic(config.kafka, fn)} → ${consumerGroupId(config.kafka, fn)}`,
    ),
    `  Try          ${brokerPrefix}npm run send -- --command time.now --payload '{"timezone":"Europe/Paris"}' --wait`,
    `${INDENT}${brokerPrefix}npm run dlq -- summary`,
    `  Logs         one line per request and per warning (repeats counted every 5 s); LOG_FORMAT=json npm start for JSON,`,
    `${INDENT}npm start -- --verbose for serverless offline's own lines`,
    '  Stop         Ctrl-C stops serverless offline; the stack keeps running for the next start. To stop it:',
    `${INDENT}${stackPrefix(env)}npm run stack:stop`,
    '',
  ];
  return lines.join('\n');
}
