/**
 * One run's principals on the local broker (LOCAL_KAFKA_AUTHZ=on): for each function a
 * SCRAM user of its own, `<function>@<pid>.<random>`, holding exactly the Kafka ACLs its IAM
 * role gives it (./acls.ts), made through the listener of the local stack's super user and
 * removed when the run stops. A run's principals are its own, so a permission taken out of
 * serverless.yml is gone at the next start, and runs side by side (tests, two checkouts)
 * never widen each other's. Principals of a run whose process is gone are removed by the
 * next run.
 */
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../../src/config';
import { errorMessage } from '../../../src/errors';
import { createKafka } from '../../../src/kafka';
import type { Permissions } from './acls';
import { aclBinding, principalFilter } from './kafka-acls';
import { alterScramUsers } from './scram-users';

type Admin = ReturnType<ReturnType<typeof createKafka>['admin']>;
export type AclAdmin = Pick<Admin, 'createAcls' | 'describeAcls' | 'deleteAcls'>;

export interface FunctionPrincipal {
  functionKey: string;
  username: string;
  password: string;
  permissions: Permissions;
}

/** `<function>@<pid>.<8 hex digits>`: the run's process, so a later run can tell a dead run's. */
const RUN_USERNAME = /^User:([A-Za-z0-9_-]+)@(\d+)\.([0-9a-f]{8})$/;

export function principalName(username: string): string {
  return `User:${username}`;
}

/** A principal per function for this run, with a random password each. */
export function runPrincipals(permissions: ReadonlyMap<string, Permissions>, pid = process.pid): FunctionPrincipal[] {
  const run = `${pid}.${randomBytes(4).toString('hex')}`;
  return [...permissions].map(([functionKey, p]) => ({
    functionKey,
    username: `${functionKey}@${run}`,
    password: randomBytes(24).toString('base64url'),
    permissions: p,
  }));
}

/** An admin client of the super user's listener (PLAINTEXT), connected; the caller disconnects it. */
export async function connectAdmin(brokers: string): Promise<Admin> {
  const config = loadConfig({ KAFKA_BROKERS: brokers, KAFKA_AUTH: 'none' });
  const admin = createKafka({ kafka: config.kafka, brokers: config.kafka.brokers, clientId: 'simple-time-service-local-authz' }).admin();
  await admin.connect();
  return admin;
}

async function until(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (error) {
      last = error;
    }
    if (Date.now() >= deadline) throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (${errorMessage(last)})` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function aclCount(admin: AclAdmin, principal: string): Promise<number> {
  const { resources } = await admin.describeAcls(principalFilter(principal));
  return resources.reduce((n, r) => n + r.acls.length, 0);
}

/**
 * Makes the principals (a SCRAM user for each whose role has kafka-cluster:Connect; MSK
 * refuses the others' login) and their ACLs, and waits until the broker applies them.
 */
export async function createPrincipals(params: {
  admin: AclAdmin;
  broker: string;
  principals: readonly FunctionPrincipal[];
  timeoutMs?: number;
}): Promise<void> {
  const { admin, principals } = params;
  const timeoutMs = params.timeoutMs ?? 15_000;
  await alterScramUsers({
    broker: params.broker,
    upsert: principals.filter((p) => p.permissions.connect).map((p) => ({ name: p.username, password: p.password })),
  });
  const acl = principals.flatMap((p) => p.permissions.acls.map((a) => aclBinding(principalName(p.username), a)));
  if (acl.length > 0) await admin.createAcls({ acl });
  await until("the broker to apply the functions' ACLs", timeoutMs, async () => {
    const counts = await Promise.all(principals.map((p) => aclCount(admin, principalName(p.username))));
    return counts.every((n, i) => n === principals[i]!.permissions.acls.length);
  });
}

/**
 * Waits until each principal that may connect logs in over SCRAM-SHA-512 and TLS (a new
 * user reaches the broker's credential cache through the metadata log, a moment after the
 * request that made it returns).
 */
export async function waitForLogins(params: {
  brokers: string;
  caFile: string | undefined;
  principals: readonly FunctionPrincipal[];
  timeoutMs?: number;
}): Promise<void> {
  const timeoutMs = params.timeoutMs ?? 15_000;
  await Promise.all(
    params.principals
      .filter((p) => p.permissions.connect)
      .map((p) =>
        until(`a SCRAM login of ${p.username}`, timeoutMs, async () => {
          const config = loadConfig({
            KAFKA_BROKERS: params.brokers,
            KAFKA_AUTH: 'scram',
            KAFKA_SASL_USERNAME: p.username,
            KAFKA_SASL_PASSWORD: p.password,
            ...(params.caFile ? { KAFKA_SSL_CA_FILE: params.caFile } : {}),
          });
          const admin = createKafka({
            kafka: config.kafka,
            brokers: config.kafka.brokers,
            clientId: 'simple-time-service-local-authz',
          }).admin({ retry: { retries: 0 } });
          try {
            await admin.connect();
            return true;
          } finally {
            await admin.disconnect().catch(() => undefined);
          }
        }),
      ),
  );
}

/** Removes the principals' ACLs and SCRAM users. */
export async function removePrincipals(params: { admin: AclAdmin; broker: string; usernames: readonly string[] }): Promise<void> {
  if (params.usernames.length === 0) return;
  await params.admin.deleteAcls({ filters: params.usernames.map((u) => principalFilter(principalName(u))) });
  await alterScramUsers({ broker: params.broker, remove: params.usernames });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes the principals of runs whose process is gone (it was killed before it could); returns their names. */
export async function removeStalePrincipals(params: {
  admin: AclAdmin;
  broker: string;
  isAlive?: (pid: number) => boolean;
}): Promise<string[]> {
  const isAlive = params.isAlive ?? alive;
  const { resources } = await params.admin.describeAcls(principalFilter());
  const stale = new Set<string>();
  for (const r of resources) {
    for (const a of r.acls) {
      const match = RUN_USERNAME.exec(a.principal);
      if (match && !isAlive(Number(match[2]))) stale.add(a.principal.slice('User:'.length));
    }
  }
  await removePrincipals({ admin: params.admin, broker: params.broker, usernames: [...stale] });
  return [...stale];
}
