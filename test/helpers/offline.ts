/**
 * Starts `serverless offline` as a child process for integration tests, on its own
 * ports and with its own environment, waits (bounded) until it answers, and stops it.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { topicEnv } from './kafka';
import { uniqueName } from './names';
import { waitFor } from './wait-for';
import type { ConsumerName } from '../../src/consumers';

const repo = path.resolve(__dirname, '../..');

/**
 * When the shared local stack authorizes (LOCAL_KAFKA_AUTHZ=on, as in CI), serverless
 * offline runs in the authorizing mode against it: what `stack.sh env authz` printed,
 * passed on by test/integration/global-setup.ts. Not for a test that brings its own broker.
 */
function sharedStackEnv(own: Record<string, string> | undefined): Record<string, string> {
  const authz = process.env.TEST_AUTHZ_ENV;
  if (own?.KAFKA_BROKERS !== undefined || !authz) return { KAFKA_BROKERS: '127.0.0.1:9092' };
  return JSON.parse(authz) as Record<string, string>;
}

export interface Offline {
  baseUrl: string;
  output: () => string;
  stop: () => Promise<void>;
}

export async function startOffline(params: {
  httpPort: number;
  lambdaPort: number;
  env?: Record<string, string>;
  config?: string;
  readyTimeoutMs?: number;
  /** What counts as serving (default: GET /healthz answers 2xx). */
  ready?: (response: Response) => boolean;
}): Promise<Offline> {
  const { httpPort, lambdaPort } = params;
  // An esbuild work folder of its own: test files run side by side, and two builds in one
  // folder delete each other's files (serverless.yml's outputWorkFolder).
  const workFolder = `.esbuild/offline-${process.pid}-${httpPort}`;
  const args = ['serverless', 'offline', 'start'];
  if (params.config) args.push('--config', params.config);
  const child: ChildProcess = spawn('npx', args, {
    cwd: repo,
    env: {
      ...process.env,
      HTTP_PORT: String(httpPort),
      LAMBDA_PORT: String(lambdaPort),
      ...sharedStackEnv(params.env),
      // The local stack's Pushgateway, with its credentials (test/integration/global-setup.ts).
      PUSHGATEWAY_URL: process.env.PUSHGATEWAY_URL ?? 'http://127.0.0.1:9091',
      // Consumer groups of the test's own, never the service's (a developer's running
      // `npm start` uses those), and deleted after the file (test/helpers/cleanup.ts).
      KAFKA_CONSUMER_GROUP: uniqueName('offline-group'),
      ESBUILD_WORK_FOLDER: workFolder,
      ...params.env,
    },
    // Its own process group, so stop() ends serverless and its worker threads together.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const removeWorkFolder = (): void => fs.rmSync(path.join(repo, workFolder), { recursive: true, force: true });
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.pid === undefined) return removeWorkFolder();
    process.kill(-child.pid, 'SIGINT');
    const timer = setTimeout(() => {
      if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, 'SIGKILL');
    }, 10_000);
    await exited;
    clearTimeout(timer);
    removeWorkFolder();
  };

  const baseUrl = `http://127.0.0.1:${httpPort}`;
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`serverless offline exited:\n${output}`);
        // A probe is given the function's own 10 s: one abandoned earlier would leave its
        // invocation running while the next probe made serverless offline start a second container.
        const response = await fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(10_000) });
        return (params.ready ?? ((r: Response) => r.ok))(response) ? true : undefined;
      },
      { timeoutMs: params.readyTimeoutMs ?? 60_000, intervalMs: 200, what: 'serverless offline to answer /healthz' },
    );
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}\n--- serverless offline output ---\n${output}`);
  }
  return { baseUrl, output: () => output, stop };
}

export interface ServiceTopics {
  requests: string;
  events: string;
  commands: string;
  dlq: string;
}

/**
 * `serverless offline` with the project's serverless.yml on topics and a consumer-group
 * prefix of the test's own, waiting (bounded) until the local MSK event source runs.
 * The topics must exist on the broker the env points at.
 */
export async function startService(params: {
  httpPort: number;
  lambdaPort: number;
  topics: ServiceTopics;
  group: string;
  env?: Record<string, string>;
}): Promise<Offline> {
  const { topics } = params;
  const offline = await startOffline({
    httpPort: params.httpPort,
    lambdaPort: params.lambdaPort,
    env: {
      ...topicEnv(topics),
      KAFKA_CONSUMER_GROUP: params.group,
      KAFKA_AUTO_OFFSET_RESET: 'earliest',
      ...params.env,
    },
    readyTimeoutMs: 120_000,
  });
  try {
    await waitFor(() => (offline.output().includes('event source mapping(s) running') ? true : undefined), {
      timeoutMs: 60_000,
      what: 'the local MSK event source to start',
    });
  } catch (error) {
    await offline.stop();
    throw error;
  }
  return offline;
}

/** The log line each consumer function writes per record it handles. */
export const CONSUMER_LINES: Array<{ fn: ConsumerName; message: string }> = [
  { fn: 'onHttpRequest', message: 'http request' },
  { fn: 'onHttpResponse', message: 'http response' },
  { fn: 'onError', message: 'error event' },
  { fn: 'onCommand', message: 'command processed' },
  { fn: 'onCustomEvent', message: 'custom event' },
];

export type LogLine = Record<string, unknown>;

/** The structured log lines (JSON) serverless offline printed so far. */
export function logLines(offline: Offline): LogLine[] {
  const lines: LogLine[] = [];
  for (const line of offline.output().split('\n')) {
    const start = line.indexOf('{"level"');
    if (start < 0) continue;
    try {
      lines.push(JSON.parse(line.slice(start)) as LogLine);
    } catch {
      // A line cut by the pipe's chunking is read again on the next poll.
    }
  }
  return lines;
}
