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

function run(command: 'start' | 'stop', inherit: boolean): number {
  const result = spawnSync('bash', [stack, command], {
    stdio: inherit ? 'inherit' : 'ignore',
    timeout: 300_000,
  });
  return result.status ?? 1;
}

/**
 * Whether any part of the local stack runs, by `stack.sh status`'s lines (`running`, or
 * `starting`: its process is alive but did not answer within the status's few seconds, as
 * on a loaded machine). Then someone else started it and the run never stops it. Status's
 * exit code is not enough: a part slow to answer makes it non-zero.
 */
export function stackIsUp(statusOutput: string): boolean {
  return /^(kafka\S*|pushgateway|prometheus) +(running|starting)\b/m.test(statusOutput);
}

/**
 * The local stack's Pushgateway URL, with its credentials when it requires them (`stack.sh
 * env`), for the test files (they inherit this process's environment); unchanged when
 * PUSHGATEWAY_URL is set.
 */
function pushgatewayUrl(): string | undefined {
  const listed = spawnSync('bash', [stack, 'env', 'none'], { encoding: 'utf8', timeout: 30_000 });
  const line = /^export PUSHGATEWAY_URL=(\S+)$/m.exec(listed.stdout ?? '');
  return line?.[1];
}

/**
 * The authorizing mode, when the stack runs it (LOCAL_KAFKA_AUTHZ=on, as .ci/run starts
 * it): what serverless offline needs to run each function as its own principal (`stack.sh
 * env authz`), for test/helpers/offline.ts; undefined otherwise.
 */
function authzEnv(): string | undefined {
  const listed = spawnSync('bash', [stack, 'env', 'authz'], { encoding: 'utf8', timeout: 30_000 });
  if (listed.status !== 0) return undefined;
  const env: Record<string, string> = {};
  for (const [, name, value] of (listed.stdout ?? '').matchAll(/^export ([A-Z_]+)=(\S+)$/gm)) env[name!] = value!;
  return JSON.stringify(env);
}

export default async function setup(): Promise<() => Promise<void>> {
  // The integration and reliability projects share this set-up; in one run (npm test) the
  // first does it, and its teardown checks the broker once, after both.
  if (process.env.TEST_STACK_SET_UP === '1') return async () => {};
  process.env.TEST_STACK_SET_UP = '1';
  const wasRunning = stackIsUp(spawnSync('bash', [stack, 'status'], { encoding: 'utf8', timeout: 60_000 }).stdout ?? '');
  if (run('start', true) !== 0) {
    throw new Error('the local stack (Kafka broker, Pushgateway) could not start: see the [stack] lines above');
  }
  const pushgateway = process.env.PUSHGATEWAY_URL ?? pushgatewayUrl();
  if (pushgateway !== undefined) process.env.PUSHGATEWAY_URL = pushgateway;
  const authz = authzEnv();
  if (authz === undefined) {
    if (process.env.LOCAL_KAFKA_AUTHZ === 'on')
      throw new Error('LOCAL_KAFKA_AUTHZ=on, and the local stack runs without its authorizer: see the [stack] lines above');
  } else {
    process.env.TEST_AUTHZ_ENV = authz;
    console.log('[authz] the local stack authorizes: serverless offline runs each function as its own principal');
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
