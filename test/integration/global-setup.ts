/**
 * Starts the real local stack (infra/local/stack.sh start: Kafka in KRaft mode and
 * the Pushgateway) before the integration tests. If it cannot start, this throws and
 * the run fails: integration tests never skip. A stack this run started is stopped
 * afterwards; one that was already running is left as it was.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const stack = path.resolve(__dirname, '../../infra/local/stack.sh');

function run(command: 'start' | 'stop' | 'status', inherit: boolean): number {
  const result = spawnSync('bash', [stack, command], {
    stdio: inherit ? 'inherit' : 'ignore',
    timeout: 300_000,
  });
  return result.status ?? 1;
}

export default function setup(): () => void {
  const wasRunning = run('status', false) === 0;
  if (run('start', true) !== 0) {
    throw new Error('the local stack (Kafka broker, Pushgateway) could not start: see the [stack] lines above');
  }
  return () => {
    if (!wasRunning && process.env.KEEP_STACK !== '1') run('stop', true);
  };
}
