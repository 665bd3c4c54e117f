/**
 * A broker of a test's own (infra/local/stack.sh with its own state directory and
 * ports), for fault tests that kill and restart Kafka without disturbing the shared
 * broker other tests use. The jar cache is shared, so it starts in seconds.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { waitFor } from './wait-for';

const run = promisify(execFile);
const stack = path.resolve(__dirname, '../../infra/local/stack.sh');

export interface PrivateBroker {
  brokers: string;
  /** SIGKILL the broker process (a crash, not a clean shutdown) and wait until it is gone. */
  kill: () => Promise<void>;
  /** Start it again (same data) and wait until it is ready. */
  start: () => Promise<void>;
  /** Stop it and delete its data. */
  destroy: () => Promise<void>;
}

export async function startPrivateBroker(params: { port: number }): Promise<PrivateBroker> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sts-broker-'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    LOCAL_STACK_DIR: dir,
    LOCAL_KAFKA_PORT: String(params.port),
    LOCAL_KAFKA_CONTROLLER_PORT: String(params.port + 1),
    // The shared Pushgateway is fine: only the broker is private.
    PUSHGATEWAY_URL: process.env.PUSHGATEWAY_URL ?? 'http://127.0.0.1:9091',
    LOCAL_PROMETHEUS: 'off',
  };
  delete env.KAFKA_BROKERS;
  const start = async (): Promise<void> => {
    await run('bash', [stack, 'start'], { env, timeout: 180_000 });
  };
  const destroy = async (): Promise<void> => {
    await run('bash', [stack, 'stop'], { env, timeout: 60_000 }).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await start();
  } catch (error) {
    // Failed half-way (the broker may be up, the topics step failed): nothing stays behind.
    await destroy();
    throw error;
  }
  return {
    brokers: `127.0.0.1:${params.port}`,
    kill: async () => {
      const pid = Number(readFileSync(path.join(dir, 'kafka.pid'), 'utf8').trim());
      process.kill(pid, 'SIGKILL');
      await waitFor(
        () => {
          try {
            process.kill(pid, 0);
            return undefined;
          } catch {
            return true; // no such process: it is gone
          }
        },
        { timeoutMs: 15_000, what: `broker pid ${pid} to exit after SIGKILL` },
      );
    },
    start,
    destroy,
  };
}
