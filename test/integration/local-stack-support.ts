/**
 * Private local stacks for the tests of infra/local/stack.sh and .ci/run: each has its
 * own state directory and ports, so the shared default stack (9092/9091/9090) is never
 * touched. Scripts run in their own process group with a bound; what they start with
 * setsid (the servers) is stopped by `destroy`.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TEST_BROKER_JVM_OPTS } from '../helpers/private-broker';

export const repo = path.resolve(__dirname, '../..');
export const stackScript = path.join(repo, 'infra/local/stack.sh');

export interface Run {
  /** Exit code, or null when killed (timeout or signal). */
  code: number | null;
  timedOut: boolean;
  /** stdout and stderr, interleaved as they came. */
  out: string;
  ms: number;
}

/** Runs a command in its own process group; after `timeoutMs` the whole group is killed. */
export function runCommand(
  command: string,
  args: string[],
  options: { env: NodeJS.ProcessEnv; timeoutMs: number; cwd?: string; input?: string },
): Promise<Run> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const stdin = options.input === undefined ? 'ignore' : 'pipe';
    const child = spawn(command, args, { env: options.env, cwd: options.cwd ?? repo, detached: true, stdio: [stdin, 'pipe', 'pipe'] });
    if (options.input !== undefined) child.stdin?.end(options.input);
    let out = '';
    let timedOut = false;
    child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }, options.timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code: timedOut ? null : code, timedOut, out, ms: performance.now() - t0 });
    });
  });
}

export interface PrivateStackPorts {
  kafka: number;
  controller: number;
  pushgateway: number;
  prometheus: number;
}

export interface PrivateStack {
  dir: string;
  ports: PrivateStackPorts;
  env: NodeJS.ProcessEnv;
  /** infra/local/stack.sh <command> [args] with this stack's environment (plus `extra`). */
  run: (command: string, extra?: Record<string, string>, timeoutMs?: number, args?: string[]) => Promise<Run>;
  /** The pid recorded in one of the stack's pid files, if any. */
  pid: (name: 'kafka' | 'pushgateway' | 'prometheus') => number | undefined;
  /** `stop`, then delete the state directory. */
  destroy: () => Promise<void>;
}

/** Environment with every variable that would point stack.sh elsewhere removed. */
export function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of [
    'KAFKA_BROKERS',
    'PUSHGATEWAY_URL',
    'KAFKA_VERSION',
    'LOCAL_STACK_DIR',
    'LOCAL_KAFKA_PORT',
    'LOCAL_KAFKA_CONTROLLER_PORT',
    'LOCAL_PUSHGATEWAY_PORT',
    'LOCAL_PROMETHEUS_PORT',
    'LOCAL_PROMETHEUS',
    'LOCAL_STACK_READY_TIMEOUT',
    // CI runs the shared stack in the authorizing mode; a stack of a test's own takes it only
    // when the test asks (its SCRAM and TLS listeners take the ports base+2 and base+3).
    'LOCAL_KAFKA_AUTHZ',
  ]) {
    delete env[name];
  }
  return env;
}

/**
 * A stack of the test's own: ports base (broker), base+1 (controller), base+2
 * (Pushgateway), base+3 (Prometheus). Prometheus is off unless `prometheus` is set.
 * The jar cache is the shared one (read only once filled), unless `extra` says otherwise.
 */
export function privateStack(
  base: number,
  options: { prometheus?: boolean; dir?: string; extra?: Record<string, string> } = {},
): PrivateStack {
  const dir = options.dir ?? mkdtempSync(path.join(os.tmpdir(), 'sts-stack-'));
  const ports = { kafka: base, controller: base + 1, pushgateway: base + 2, prometheus: base + 3 };
  const env: NodeJS.ProcessEnv = {
    ...cleanEnv(),
    LOCAL_STACK_DIR: dir,
    LOCAL_KAFKA_PORT: String(ports.kafka),
    LOCAL_KAFKA_CONTROLLER_PORT: String(ports.controller),
    LOCAL_PUSHGATEWAY_PORT: String(ports.pushgateway),
    LOCAL_PROMETHEUS_PORT: String(ports.prometheus),
    LOCAL_PROMETHEUS: options.prometheus ? 'on' : 'off',
    LOCAL_KAFKA_JVM_OPTS: TEST_BROKER_JVM_OPTS,
    ...options.extra,
  };
  const run = (command: string, extra: Record<string, string> = {}, timeoutMs = 150_000, args: string[] = []) =>
    runCommand('bash', [stackScript, command, ...args], { env: { ...env, ...extra }, timeoutMs });
  const pid = (name: 'kafka' | 'pushgateway' | 'prometheus'): number | undefined => {
    try {
      const value = Number(readFileSync(path.join(dir, `${name}.pid`), 'utf8').trim());
      return Number.isInteger(value) && value > 0 ? value : undefined;
    } catch {
      return undefined;
    }
  };
  const destroy = async (): Promise<void> => {
    await run('stop', {}, 90_000).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  return { dir, ports, env, run, pid, destroy };
}

export function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * A PATH of one directory holding links to everything on `searchPath` except `hidden` (first
 * one of a name wins, as for the shell), for "this machine lacks that program".
 */
export function pathWithout(hidden: string[], into: string, searchPath = process.env.PATH ?? ''): string {
  mkdirSync(into, { recursive: true });
  const seen = new Set<string>();
  for (const dir of searchPath.split(':')) {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of entries) {
      if (seen.has(name) || hidden.includes(name)) continue;
      seen.add(name);
      symlinkSync(path.join(dir, name), path.join(into, name));
    }
  }
  return into;
}

/** An executable shell script at `file`. */
export function script(file: string, body: string): string {
  writeFileSync(file, `#!/usr/bin/env bash\n${body}\n`, { mode: 0o755 });
  return file;
}
