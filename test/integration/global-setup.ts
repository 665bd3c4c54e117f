/**
 * Starts the real local stack (infra/local/stack.sh start: Kafka in KRaft mode, the
 * Pushgateway and Prometheus, ready for consumer groups) before the integration tests.
 * If it cannot start, this throws and the run fails: integration tests never skip. A
 * stack this run started is stopped afterwards; one that was already running is left
 * as it was.
 *
 * It also checks that the run leaves the broker as it found it: the topics and consumer
 * groups listed after the run must be those listed before it, no more (each test file
 * deletes what it made: test/helpers/cleanup.ts) and no fewer (a test never touches the
 * service's own names, which a developer's running `npm start` uses). A difference fails
 * the run, named.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { brokerContents, cleanupProblem, testBrokers } from '../helpers/broker-contents';
import type { BrokerContents } from '../helpers/broker-contents';

const stack = path.resolve(__dirname, '../../infra/local/stack.sh');

function run(command: 'start' | 'stop' | 'status', inherit: boolean): number {
  const result = spawnSync('bash', [stack, command], {
    stdio: inherit ? 'inherit' : 'ignore',
    timeout: 300_000,
  });
  return result.status ?? 1;
}

export default async function setup(): Promise<() => Promise<void>> {
  const wasRunning = run('status', false) === 0;
  if (run('start', true) !== 0) {
    throw new Error('the local stack (Kafka broker, Pushgateway) could not start: see the [stack] lines above');
  }
  const brokers = testBrokers().join(',');
  const before: BrokerContents = await brokerContents();
  return async () => {
    try {
      const after = await brokerContents();
      const problem = cleanupProblem(brokers, before, after);
      console.log(
        `[cleanup] broker ${brokers}: before the run ${before.topics.length} topics and ${before.groups.length} consumer groups, ` +
          `after it ${after.topics.length} and ${after.groups.length}`,
      );
      if (problem) {
        // An error thrown here is only printed: the exit code says it too.
        process.exitCode = 1;
        console.error(problem);
      }
    } finally {
      if (!wasRunning && process.env.KEEP_STACK !== '1') run('stop', true);
    }
  };
}
