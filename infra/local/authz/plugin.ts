/**
 * The local authorizing mode's serverless plugin. With `custom.localKafkaAuthz.adminBrokers`
 * set (LOCAL_KAFKA_AUTHZ_ADMIN, from `stack.sh env authz`: the listener of the local stack's
 * super user), when `serverless offline` starts, every function gets a principal of its own
 * for this run (./principals.ts) with the Kafka ACLs its IAM role grants: the roles are the
 * very ones serverless.yml deploys (resources.Resources, made by
 * infra/aws/serverless-resources.cjs from custom.kafkaAccess and the consumer table), turned
 * into ACLs by ./acls.ts. Each function then connects as its principal: its environment
 * gets KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD, and the local MSK event source reads
 * for it with the same credentials (custom.offlineMsk.functions), as Lambda's event source
 * mapping reads with the function's execution role. The principals go when offline stops.
 * Without the setting it does nothing.
 */
import { permissionsFromStatements, roleStatements } from './acls';
import type { Permissions } from './acls';
import { connectAdmin, createPrincipals, removePrincipals, removeStalePrincipals, runPrincipals, waitForLogins } from './principals';
import type { FunctionPrincipal } from './principals';

type Dict = Record<string, unknown>;

/** serverless' plugin log (utils.log). */
export interface PluginLog {
  notice(message: string): void;
  warning(message: string): void;
  error(message: string): void;
}

const line = (message: string): string => `local authz: ${message}`;

interface FunctionLike {
  role?: unknown;
  environment?: Dict;
  events?: unknown[];
}

export interface ServerlessLike {
  service: {
    custom?: Dict;
    provider: { environment?: Dict };
    resources?: { Resources?: Dict };
    getAllFunctions(): string[];
    getFunction(key: string): FunctionLike;
  };
}

function isDict(value: unknown): value is Dict {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The cluster every msk event reads (the roles are scoped to it). */
function clusterArn(service: ServerlessLike['service']): string {
  for (const key of service.getAllFunctions()) {
    for (const event of service.getFunction(key).events ?? []) {
      const msk = isDict(event) ? event.msk : undefined;
      if (isDict(msk) && typeof msk.arn === 'string') return msk.arn;
    }
  }
  throw new Error('no msk event with a cluster ARN: nothing says which cluster the roles are about');
}

/** Each function's permissions, from the IAM role serverless.yml gives it. */
export function functionPermissions(service: ServerlessLike['service']): Map<string, Permissions> {
  const resources = service.resources?.Resources ?? {};
  const cluster = clusterArn(service);
  const out = new Map<string, Permissions>();
  for (const key of service.getAllFunctions()) {
    const role = service.getFunction(key).role;
    if (typeof role !== 'string' || !isDict(resources[role])) {
      throw new Error(
        `functions.${key}.role: ${JSON.stringify(role)} is not a role of resources.Resources, so nothing says what it may do on the cluster`,
      );
    }
    out.set(key, permissionsFromStatements(roleStatements(resources[role], role), cluster, role));
  }
  return out;
}

/** Each function's environment and the event source's options get the function's own credentials. */
function assign(service: ServerlessLike['service'], principals: readonly FunctionPrincipal[]): void {
  const custom = (service.custom ??= {});
  const { sasl: _shared, ...offlineMsk } = isDict(custom.offlineMsk) ? custom.offlineMsk : {};
  const functions: Dict = {};
  for (const p of principals) {
    const fn = service.getFunction(p.functionKey);
    fn.environment = { ...fn.environment, KAFKA_SASL_USERNAME: p.username, KAFKA_SASL_PASSWORD: p.password };
    functions[p.functionKey] = { sasl: { mechanism: 'scram-sha-512', username: p.username, password: p.password } };
  }
  // The shared user of KAFKA_AUTH=scram gives way to each function's own.
  custom.offlineMsk = { ...offlineMsk, functions };
}

export interface RunningAuthz {
  principals: readonly FunctionPrincipal[];
  stop(): Promise<void>;
}

/** Sets the mode up for this run; undefined when it is off. */
export async function startAuthz(params: { serverless: ServerlessLike; log: PluginLog }): Promise<RunningAuthz | undefined> {
  const { service } = params.serverless;
  const settings = service.custom?.localKafkaAuthz;
  const adminBrokers = isDict(settings) && typeof settings.adminBrokers === 'string' ? settings.adminBrokers : '';
  if (adminBrokers === '') return undefined;
  const env = service.provider.environment ?? {};
  if (env.KAFKA_AUTH !== 'scram' || typeof env.KAFKA_BROKERS !== 'string') {
    throw new Error(
      'LOCAL_KAFKA_AUTHZ_ADMIN is set, so each function logs in as its own principal over SCRAM: KAFKA_AUTH must be scram and KAFKA_BROKERS the SASL_SSL listener (eval "$(npm run -s stack:env -- authz)")',
    );
  }
  const broker = adminBrokers.split(',')[0]!.trim();
  const principals = runPrincipals(functionPermissions(service));
  const admin = await connectAdmin(adminBrokers);
  try {
    const stale = await removeStalePrincipals({ admin, broker });
    if (stale.length > 0) params.log.notice(line(`removed ${stale.length} principal(s) of runs that are gone`));
    await createPrincipals({ admin, broker, principals });
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
  await waitForLogins({
    brokers: env.KAFKA_BROKERS,
    caFile: typeof env.KAFKA_SSL_CA_FILE === 'string' && env.KAFKA_SSL_CA_FILE !== '' ? env.KAFKA_SSL_CA_FILE : undefined,
    principals,
  });
  assign(service, principals);
  for (const p of principals) for (const note of p.permissions.notes) params.log.warning(line(`${p.functionKey}: ${note}`));
  const acls = principals.reduce((n, p) => n + p.permissions.acls.length, 0);
  params.log.notice(
    line(
      `${principals.length} functions connect as their own principals (User:<function>@${principals[0]?.username.split('@')[1] ?? ''}), with ${acls} Kafka ACLs from their IAM roles`,
    ),
  );
  let stopped: Promise<void> | undefined;
  return {
    principals,
    stop: () =>
      (stopped ??= (async () => {
        const closing = await connectAdmin(adminBrokers);
        try {
          await removePrincipals({ admin: closing, broker, usernames: principals.map((p) => p.username) });
        } finally {
          await closing.disconnect().catch(() => undefined);
        }
      })()),
  };
}

const CONSOLE_LOG: PluginLog = {
  notice: (m) => console.error(m),
  warning: (m) => console.error(m),
  error: (m) => console.error(m),
};

export class LocalKafkaAuthzPlugin {
  readonly hooks: Record<string, () => unknown>;
  readonly #serverless: ServerlessLike;
  readonly #log: PluginLog;
  #running: Promise<RunningAuthz | undefined> | undefined;

  constructor(serverless: ServerlessLike, _cliOptions?: Dict, utils?: { log?: PluginLog }) {
    this.#serverless = serverless;
    this.#log = utils?.log ?? CONSOLE_LOG;
    // serverless.yml lists this plugin before serverless-offline and the event source: its
    // hooks of an event run first.
    this.hooks = {
      // Before serverless-offline reads the functions' environment (offline:start:init)
      // and the event source its options (after it).
      'before:offline:start:init': () => this.start(),
      'before:offline:start': () => this.#startWithSignals(),
      // After the event source stopped (before:offline:start:end: its consumers commit and
      // leave their groups with their own credentials), before serverless-offline exits.
      'offline:start:end': () => this.stop(),
    };
  }

  start(): Promise<RunningAuthz | undefined> {
    this.#running ??= startAuthz({ serverless: this.#serverless, log: this.#log });
    return this.#running;
  }

  async stop(): Promise<void> {
    const running = await this.#running?.catch(() => undefined);
    this.#running = undefined;
    await running
      ?.stop()
      .catch((error: unknown) =>
        this.#log.error(line(`the run's principals were not removed: ${error instanceof Error ? error.message : String(error)}`)),
      );
  }

  /** Plain `serverless offline` (no end hook): the principals go on SIGINT/SIGTERM. */
  async #startWithSignals(): Promise<void> {
    await this.start();
    const stop = () => void this.stop();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  }
}
