/**
 * `npm start` as a newcomer sees it, on a stack of its own (fresh state folder, ports
 * 23200-23212): the first start (a broker formatted from nothing) and a warm one (the
 * stack already running) print no ERROR line and end with the summary of where
 * everything is; the command the summary offers really publishes a command and gets
 * its answer.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config';
import { CONSUMER_FUNCTIONS, consumerGroupId, consumerTopic } from '../../src/consumers/functions';
import { waitFor } from '../helpers/wait-for';
import { privateStack, repo, runCommand } from './local-stack-support';

const stack = privateStack(23200, { prometheus: true });
const HTTP_PORT = 23210;
const env: NodeJS.ProcessEnv = { ...stack.env, HTTP_PORT: String(HTTP_PORT), LAMBDA_PORT: String(HTTP_PORT + 2) };
const config = loadConfig({ ...env, KAFKA_BROKERS: `127.0.0.1:${stack.ports.kafka}` });

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function npmStart(): Started {
  // Its own process group: Ctrl-C in a terminal signals npm, node and serverless alike.
  const child = spawn('npm', ['start'], { cwd: repo, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function ctrlC(started: Started): Promise<void> {
  if (started.child.pid === undefined || started.child.exitCode !== null) return;
  process.kill(-started.child.pid, 'SIGINT');
  const timer = setTimeout(() => {
    try {
      process.kill(-started.child.pid!, 'SIGKILL');
    } catch {
      // gone
    }
  }, 20_000);
  await started.exited;
  clearTimeout(timer);
}

/** Lines a newcomer would read as failure: an ERROR log line or serverless' error mark. */
function errorLines(output: string): string[] {
  return output.split('\n').filter((line) => /\bERROR\b|^\s*[×✖]/.test(line));
}

async function waitForSummary(started: Started, timeoutMs: number): Promise<string> {
  try {
    await waitFor(() => (summaryOf(started.output()).includes('npm run stack:stop') ? true : undefined), {
      timeoutMs,
      intervalMs: 250,
      what: "npm start's summary",
    });
  } catch (error) {
    throw new Error(`${(error as Error).message}\n--- npm start output ---\n${started.output().slice(-5000)}`);
  }
  return summaryOf(started.output());
}

function summaryOf(output: string): string {
  const start = output.indexOf('simple-time-service is serving');
  return start < 0 ? '' : output.slice(start);
}

function expectSummary(summary: string): void {
  expect(summary).toContain(`API          http://127.0.0.1:${HTTP_PORT}`);
  expect(summary).toMatch(/GET {2}\/healthz/);
  expect(summary).toMatch(/POST \/kafka\/publish/);
  expect(summary).toContain(`Prometheus   http://127.0.0.1:${stack.ports.prometheus}`);
  expect(summary).toContain(`Dashboard    http://127.0.0.1:${stack.ports.prometheus}/consoles/simple-time-service.html`);
  expect(summary).toContain(`Kafka        127.0.0.1:${stack.ports.kafka}`);
  for (const topic of Object.values(config.kafka.topics)) expect(summary).toContain(topic);
  for (const fn of CONSUMER_FUNCTIONS) {
    expect(summary).toMatch(new RegExp(`${fn.name} +${consumerTopic(config.kafka, fn)} → ${consumerGroupId(config.kafka, fn)}`));
  }
  expect(summary).toMatch(/Try {10}.*npm run publish -- --command time\.now/);
  expect(summary).toMatch(/Stop {9}Ctrl-C/);
  expect(summary).toContain('npm run stack:stop');
}

describe('npm start', () => {
  afterAll(async () => {
    await stack.destroy();
  }, 120_000);

  it('first start on a fresh stack: no ERROR line, then the summary; its command publishes and is answered', async () => {
    // Act
    const started = npmStart();
    try {
      const summary = await waitForSummary(started, 240_000);
      console.log(summary);
      const tryLine = /Try {10}(.*)$/m.exec(summary)?.[1] ?? '';
      const published = await runCommand('bash', ['-c', tryLine], { env: { ...env }, timeoutMs: 60_000 });

      // Assess
      expect(errorLines(started.output())).toEqual([]);
      expectSummary(summary);
      expect(published.code, published.out).toBe(0);
      expect(published.out).toContain('"answer"');
      expect(published.out).toContain('time.now.processed');
    } finally {
      await ctrlC(started);
    }
    expect(started.output()).toContain('stopped 5 event source mapping(s)');
  }, 300_000);

  it('warm start (the stack already running): no ERROR line, then the summary', async () => {
    // Act
    const started = npmStart();
    try {
      const summary = await waitForSummary(started, 180_000);

      // Assess
      expect(started.output()).toContain('kafka already running');
      expect(errorLines(started.output())).toEqual([]);
      expectSummary(summary);
    } finally {
      await ctrlC(started);
    }
  }, 240_000);
});
