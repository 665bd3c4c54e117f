/**
 * A packaged function (one zip of `serverless package`) run as Lambda runs it: unpacked into
 * a read-only folder, loaded once by test/helpers/lambda-runner.cjs under a given Node.js
 * (Node 22 for the nodejs22.x runtime), then invoked with events over an IPC channel.
 *
 * Read-only as /var/task is: the files lose their write bits, and when the tests run as root
 * (whom write bits do not stop) the runner gets a private mount namespace in which the folder
 * is bind-mounted read-only (`unshare --mount`, util-linux).
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const runner = path.resolve(__dirname, 'lambda-runner.cjs');

export interface RunnerError {
  errorType: string;
  errorMessage: string;
}

export type Invocation = { ok: true; result: unknown } | { ok: false; error: RunnerError };

export interface InitReport {
  ok: boolean;
  error?: RunnerError;
  /** Whether the function could not write into its task root. */
  readOnly: boolean;
  /** process.version inside the function. */
  node: string;
  /** The packages the bundle loads by name, each loaded at init. */
  externals: string[];
}

export interface ZipFunction {
  init: InitReport;
  /** What the function printed (its logs). */
  output: () => string;
  invoke: (event: unknown, timeoutMs?: number) => Promise<Invocation>;
  stop: () => Promise<void>;
}

type RunnerMessage =
  ({ type: 'init' } & InitReport) | ({ type: 'result'; id: number } & ({ ok: true; result: unknown } | { ok: false; error: RunnerError }));

/** Unpacks `zip` into `dir` (which must not exist) and takes away every write bit. */
export function unpackReadOnly(zip: string, dir: string): void {
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  const unzip = spawnSync('python3', ['-m', 'zipfile', '-e', zip, dir], { encoding: 'utf8', timeout: 120_000 });
  if (unzip.status !== 0) throw new Error(`unpacking ${zip} failed: ${unzip.stderr || unzip.error?.message}`);
  const chmod = spawnSync('chmod', ['-R', 'a-w', dir], { encoding: 'utf8' });
  if (chmod.status !== 0) throw new Error(`chmod -R a-w ${dir} failed: ${chmod.stderr}`);
}

/** Gives the write bits back, so the folder can be deleted. */
export function removeUnpacked(dir: string): void {
  if (!fs.existsSync(dir)) return;
  spawnSync('chmod', ['-R', 'u+w', dir]);
  fs.rmSync(dir, { recursive: true, force: true });
}

/**
 * Starts the function whose zip was unpacked into `dir` and waits (bounded) for its init.
 * `env` is the function's whole environment, as Lambda gives it (nothing is inherited).
 */
export async function startZipFunction(params: {
  node: string;
  dir: string;
  env: Record<string, string>;
  initTimeoutMs?: number;
}): Promise<ZipFunction> {
  const { node, dir, env } = params;
  const asRoot = process.getuid?.() === 0;
  const [command, args] = asRoot
    ? ['unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', 'mount --bind -o ro "$0" "$0" && exec "$@"', dir, node, runner]]
    : [node, [runner]];
  const child: ChildProcess = spawn(command, args, {
    cwd: dir,
    env: { ...env, LAMBDA_TASK_ROOT: dir },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  let nextId = 1;
  const pending = new Map<number, (answer: Invocation) => void>();
  let onInit: ((report: InitReport) => void) | undefined;
  child.on('message', (message: RunnerMessage) => {
    if (message.type === 'init') {
      const { type: _type, ...report } = message;
      onInit?.(report);
    } else if (message.type === 'result') {
      const answer: Invocation = message.ok ? { ok: true, result: message.result } : { ok: false, error: message.error };
      pending.get(message.id)?.(answer);
      pending.delete(message.id);
    }
  });

  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };

  const initTimeoutMs = params.initTimeoutMs ?? 30_000;
  const init = await new Promise<InitReport>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no init from ${dir} within ${initTimeoutMs} ms:\n${output}`)), initTimeoutMs);
    onInit = (report) => {
      clearTimeout(timer);
      resolve(report);
    };
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`the function in ${dir} exited before its init (${child.exitCode ?? child.signalCode}):\n${output}`));
    });
  }).catch(async (error: unknown) => {
    await stop();
    throw error;
  });

  const invoke = (event: unknown, timeoutMs = 10_000): Promise<Invocation> =>
    new Promise<Invocation>((resolve, reject) => {
      if (child.exitCode !== null || child.signalCode !== null) {
        reject(new Error(`the function in ${dir} is not running:\n${output}`));
        return;
      }
      const id = nextId++;
      // The runner times the handler out itself; this bound is for a runner that hangs.
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`no answer from ${dir} within ${timeoutMs + 5_000} ms`));
      }, timeoutMs + 5_000);
      pending.set(id, (answer) => {
        clearTimeout(timer);
        resolve(answer);
      });
      child.send({ type: 'invoke', id, event, timeoutMs });
    });

  return { init, output: () => output, invoke, stop };
}
