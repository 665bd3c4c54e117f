/**
 * A Kafka of a test's own (infra/local/stack.sh with its own state directory and ports),
 * for fault tests that kill and restart brokers without disturbing the shared broker
 * other tests use: one broker+controller node, or (startPrivateCluster) three brokers
 * and a controller. With `sasl`, every broker also has its SASL_SSL (SCRAM-SHA-512) and
 * SSL (mutual TLS) listeners; with `authz`, those and Kafka's authorizer too (the local
 * stack's authorizing mode: `clientEnv('authz')` is what serverless offline needs to run
 * each function as its own principal). The jar cache is shared, so it starts in seconds.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Admin } from 'kafkajs';
import { replicasInSync } from '../../infra/local/ready';
import { waitFor } from './wait-for';

const run = promisify(execFile);
const stack = path.resolve(__dirname, '../../infra/local/stack.sh');

export type ClientAuth = 'none' | 'scram' | 'tls' | 'authz';

export interface PrivateBroker {
  /** The PLAINTEXT listener(s), comma-separated. */
  brokers: string;
  /** Its state directory (certificates in `security/`). */
  dir: string;
  /** SIGKILL the broker process (a crash, not a clean shutdown) and wait until it is gone. */
  kill: () => Promise<void>;
  /** Start it again (same data) and wait until it is ready. */
  start: () => Promise<void>;
  /** Stop it and delete its data. */
  destroy: () => Promise<void>;
  /** What a client needs for this authentication (`stack.sh env`): KAFKA_BROKERS, KAFKA_AUTH, … */
  clientEnv: (auth: ClientAuth) => Promise<Record<string, string>>;
}

export type ClusterNode = 'kafka-broker-1' | 'kafka-broker-2' | 'kafka-broker-3';
export const CLUSTER_BROKERS: readonly ClusterNode[] = ['kafka-broker-1', 'kafka-broker-2', 'kafka-broker-3'];

export interface PrivateCluster extends Omit<PrivateBroker, 'kill'> {
  /** The node id of a broker (1, 2, 3), as in partition metadata. */
  nodeId: (node: ClusterNode) => number;
  /** SIGTERM one broker (a controlled shutdown) through `stack.sh stop`, and wait until it is gone. */
  stop: (node: ClusterNode) => Promise<void>;
  /** SIGKILL one broker and wait until it is gone. */
  kill: (node: ClusterNode) => Promise<void>;
  /** The pid of a running node. */
  pid: (node: ClusterNode | 'kafka-controller') => number | undefined;
}

/**
 * The JVM flags of a test's own Kafka (LOCAL_KAFKA_JVM_OPTS): the serial collector and the
 * quick compiler alone spend less CPU than the default G1 and full JIT, which counts while
 * several files run side by side on 2 cores (in one full run: 340 CPU-seconds → 202).
 */
export const TEST_BROKER_JVM_OPTS = '-XX:+UseSerialGC -XX:TieredStopAtLevel=1';

/** `export NAME=value` lines of `stack.sh env`; only plain values (paths, lists, tokens) are expected. */
export function parseEnvLines(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const match = /^export ([A-Z_][A-Z0-9_]*)=([A-Za-z0-9_.,:/@%+=-]*)$/.exec(line);
    if (!match) throw new Error(`stack.sh env: unexpected line ${JSON.stringify(line)}`);
    env[match[1]!] = match[2]!;
  }
  return env;
}

function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}

function readPid(dir: string, name: string): number | undefined {
  try {
    const pid = Number(readFileSync(path.join(dir, `${name}.pid`), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

async function killAndWait(dir: string, name: string): Promise<void> {
  const pid = readPid(dir, name);
  if (pid === undefined) throw new Error(`${name} has no pid file in ${dir}`);
  process.kill(pid, 'SIGKILL');
  await waitFor(() => (gone(pid) ? true : undefined), { timeoutMs: 15_000, what: `${name} (pid ${pid}) to exit after SIGKILL` });
}

/** stack.sh with a state directory and ports of its own; the shared Pushgateway, no Prometheus. */
function ownStack(params: { port: number; brokers: 1 | 3; sasl: boolean; authz?: boolean; prefix: string }) {
  // The port in the name: a test can tell its own folders from those of a file running beside it.
  const dir = mkdtempSync(path.join(os.tmpdir(), `${params.prefix}${params.port}-`));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    LOCAL_STACK_DIR: dir,
    LOCAL_KAFKA_BROKERS: String(params.brokers),
    LOCAL_KAFKA_PORT: String(params.port),
    // The rest follows: controller, SASL_SSL, SSL (infra/local/stack.sh).
    LOCAL_KAFKA_SASL: params.sasl || params.authz ? 'on' : 'off',
    LOCAL_KAFKA_AUTHZ: params.authz ? 'on' : 'off',
    // The shared Pushgateway is fine: only Kafka is private.
    PUSHGATEWAY_URL: process.env.PUSHGATEWAY_URL ?? 'http://127.0.0.1:9091',
    LOCAL_PROMETHEUS: 'off',
    LOCAL_KAFKA_JVM_OPTS: TEST_BROKER_JVM_OPTS,
  };
  for (const name of ['KAFKA_BROKERS', 'KAFKA_AUTH', 'LOCAL_KAFKA_CONTROLLER_PORT', 'LOCAL_KAFKA_SASL_PORT', 'LOCAL_KAFKA_TLS_PORT'])
    delete env[name];
  const stackRun = async (args: string[], timeout = 180_000): Promise<string> =>
    (await run('bash', [stack, ...args], { env, timeout })).stdout;
  const start = async (): Promise<void> => {
    await stackRun(['start']);
  };
  const destroy = async (): Promise<void> => {
    await stackRun(['stop'], 90_000).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  const clientEnv = async (auth: ClientAuth): Promise<Record<string, string>> => parseEnvLines(await stackRun(['env', auth], 30_000));
  return { dir, start, destroy, clientEnv, stackRun };
}

async function started<T>(own: { start: () => Promise<void>; destroy: () => Promise<void> }, value: T): Promise<T> {
  try {
    await own.start();
  } catch (error) {
    // Failed half-way (the broker may be up, the topics step failed): nothing stays behind.
    await own.destroy();
    throw error;
  }
  return value;
}

/**
 * One broker+controller node on `port` (controller port+1; with `sasl` or `authz`, SASL_SSL
 * port+2 and SSL port+3; `authz`: the authorizing mode).
 */
export async function startPrivateBroker(params: { port: number; sasl?: boolean; authz?: boolean }): Promise<PrivateBroker> {
  const own = ownStack({ port: params.port, brokers: 1, sasl: params.sasl ?? false, authz: params.authz ?? false, prefix: 'sts-broker-' });
  return started(own, {
    brokers: `127.0.0.1:${params.port}`,
    dir: own.dir,
    kill: () => killAndWait(own.dir, 'kafka'),
    start: own.start,
    destroy: own.destroy,
    clientEnv: own.clientEnv,
  });
}

/**
 * Three brokers on port..port+2 and their controller on port+3 (with `sasl`: SASL_SSL on
 * port+4..port+6, SSL on port+7..port+9); topics get 3 replicas, min.insync.replicas=2.
 * `start` starts what is not running and waits until every broker is registered and
 * every replica of the service's topics is in sync.
 */
export async function startPrivateCluster(params: { port: number; sasl?: boolean }): Promise<PrivateCluster> {
  const own = ownStack({ port: params.port, brokers: 3, sasl: params.sasl ?? false, prefix: 'sts-cluster-' });
  return started(own, {
    brokers: [0, 1, 2].map((i) => `127.0.0.1:${params.port + i}`).join(','),
    dir: own.dir,
    nodeId: (node: ClusterNode) => CLUSTER_BROKERS.indexOf(node) + 1,
    stop: async (node: ClusterNode) => {
      const pid = readPid(own.dir, node);
      await own.stackRun(['stop', node], 60_000);
      if (pid !== undefined && !gone(pid)) throw new Error(`${node} (pid ${pid}) still runs after stack.sh stop`);
    },
    kill: (node: ClusterNode) => killAndWait(own.dir, node),
    pid: (node: ClusterNode | 'kafka-controller') => readPid(own.dir, node),
    start: own.start,
    destroy: own.destroy,
    clientEnv: own.clientEnv,
  });
}

/** Waits (bounded) until every partition of `topics` has all its replicas in sync. */
export async function waitInSync(admin: Pick<Admin, 'fetchTopicMetadata'>, topics: string[], timeoutMs = 60_000): Promise<void> {
  await waitFor(
    async () => {
      await replicasInSync(admin, topics);
      return true;
    },
    { timeoutMs, intervalMs: 250, what: `every replica of ${topics.join(', ')} to be in sync` },
  );
}
