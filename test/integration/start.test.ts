/**
 * `npm start` as a newcomer sees it, on a stack of its own (fresh state folder, ports
 * 23200-23212, its own Prometheus scraping GET /metrics every 5 s): the first start (a
 * broker formatted from nothing) and a warm one (the stack already running) print no
 * ERROR line and end with the summary of where everything is; the command the summary
 * offers really publishes a command and gets its answer, its admin curl works as pasted,
 * every Prometheus page it (and README.md and docs/) links answers. Then the terminal: an idle minute
 * prints at most 2 lines, a burst of 1,000 bad records a few (docs/local-stack.md, "What the terminal
 * shows"). A configuration src/config.ts refuses is refused before anything starts, and a
 * function that cannot start answers as API Gateway does.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config';
import { CONSUMER_FUNCTIONS, consumerGroupId, consumerTopic } from '../../src/consumers/functions';
import { stageLabel } from '../../src/metrics';
import { createTopic, testKafka, uniqueName, uniqueServiceTopics } from '../helpers/kafka';
import { startOffline } from '../helpers/offline';
import { waitFor } from '../helpers/wait-for';
import { trackedMarkdown } from '../helpers/markdown';
import { privateStack, repo, runCommand } from './local-stack-support';

const stack = privateStack(23200, { prometheus: true });
const HTTP_PORT = 23210;
// An esbuild work folder of its own: test files run side by side (test/helpers/offline.ts).
const ESBUILD_WORK_FOLDER = `.esbuild/start-test-${process.pid}`;
const env: NodeJS.ProcessEnv = { ...stack.env, HTTP_PORT: String(HTTP_PORT), LAMBDA_PORT: String(HTTP_PORT + 2), ESBUILD_WORK_FOLDER };
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
  expect(summary).toMatch(/Try {10}.*npm run send -- --command time\.now/);
  expect(summary).toMatch(/Stop {9}Ctrl-C/);
  expect(summary).toContain('npm run stack:stop');
  expect(summary).toMatch(/GET {2}\/kafka\/status {3}\(function http\)/);
  expect(summary).toMatch(/GET {2}\/metrics {8}\(function metrics\)/);
  expect(summary).toContain(`/consoles/simple-time-service.html?stage=${stageLabel('local', repo)}`);
  expect(summary).toContain(
    `curl -X POST http://127.0.0.1:${HTTP_PORT}/kafka/flush -H "Authorization: Bearer $(cat ${stack.dir}/admin-token)"`,
  );
}

/** Lines printed after `from` characters of output, without blank ones. */
function linesSince(started: Started, from: number): string[] {
  return started
    .output()
    .slice(from)
    .split('\n')
    .filter((l) => l.trim() !== '');
}

/** Every Prometheus page the summary, README.md and docs/ link, on this stack's Prometheus. */
function prometheusLinks(summary: string): string[] {
  const docs = trackedMarkdown(repo)
    .filter((file) => file === 'README.md' || file.startsWith('docs/'))
    .map((file) => readFileSync(path.join(repo, file), 'utf8'))
    .join('\n');
  const links = [...summary.matchAll(/http:\/\/127\.0\.0\.1:\d+\/[^\s,)]*/g), ...docs.matchAll(/http:\/\/127\.0\.0\.1:9090[^\s>),`]*/g)]
    .map(([url]) => url.replace(/:9090\b/, `:${stack.ports.prometheus}`))
    .filter((url) => url.startsWith(`http://127.0.0.1:${stack.ports.prometheus}`));
  return [...new Set(links)];
}

describe('npm start', () => {
  afterAll(async () => {
    await stack.destroy();
    rmSync(path.join(repo, ESBUILD_WORK_FOLDER), { recursive: true, force: true });
  }, 120_000);

  it('first start on a fresh stack: no ERROR line, then the summary; its command publishes and is answered', async () => {
    // Act
    const started = npmStart();
    try {
      const summary = await waitForSummary(started, 240_000);
      console.log(summary);
      const tryLine = /Try {10}(.*)$/m.exec(summary)?.[1] ?? '';
      const published = await runCommand('bash', ['-c', tryLine], { env: { ...env }, timeoutMs: 60_000 });

      const adminLine = /^ +(curl -X POST .*\/kafka\/flush .*)$/m.exec(summary)?.[1] ?? '';
      const flushed = await runCommand('bash', ['-c', adminLine], { env: { ...env }, timeoutMs: 30_000 });
      const pages = await Promise.all(prometheusLinks(summary).map(async (url) => [url, (await fetch(url)).status] as const));

      // Assess
      expect(errorLines(started.output())).toEqual([]);
      expectSummary(summary);
      expect(published.code, published.out).toBe(0);
      expect(published.out).toContain('"answer"');
      expect(published.out).toContain('time.now.processed');
      expect(flushed.out).toContain('"status":"success"');
      expect(pages.length).toBeGreaterThanOrEqual(4);
      expect(pages.filter(([, status]) => status !== 200)).toEqual([]);
    } finally {
      await ctrlC(started);
    }
    expect(started.output()).toMatch(/\[start\] serverless offline stopped; the stack keeps running/);
  }, 300_000);

  it('warm start (the stack already running): no ERROR line, the summary, then an idle minute of at most 2 lines and a burst of 1,000 bad records in a few', async () => {
    // Prepare
    const started = npmStart();
    try {
      const summary = await waitForSummary(started, 180_000);
      const token = readFileSync(path.join(stack.dir, 'admin-token'), 'utf8').trim();

      // Act: a minute of nothing but Prometheus scraping GET /metrics every 5 s
      const idleFrom = started.output().length;
      await new Promise((resolve) => setTimeout(resolve, 60_000));
      const idle = linesSince(started, idleFrom);
      // ... then 1,000 records onCommand dead-letters, and 30 s for them
      const burstFrom = started.output().length;
      const burst = await runCommand(
        'bash',
        ['-c', `seq 1000 | sed 's/^/not json /' | kcat -P -b 127.0.0.1:${stack.ports.kafka} -t ${config.kafka.topics.commands}`],
        { env: { ...env }, timeoutMs: 30_000 },
      );
      await waitFor(() => (/record dead-lettered: \d+ more/.test(started.output().slice(burstFrom)) ? true : undefined), {
        timeoutMs: 60_000,
        what: 'the summary of the dead letters',
      });
      await new Promise((resolve) => setTimeout(resolve, 10_000));
      const burstLines = linesSince(started, burstFrom);
      const counted = [
        ...started
          .output()
          .slice(burstFrom)
          .matchAll(/record dead-lettered: (\d+) more/g),
      ].reduce((sum, m) => sum + Number(m[1]), 0);
      const whole = burstLines.filter((l) => /WARN +onCommand record dead-lettered {2}/.test(l)).length;
      console.log(
        `terminal figures: ${JSON.stringify({ idle_lines_per_minute: idle.length, burst_records: 1000, burst_lines: burstLines.length, burst_bytes: burstLines.join('\n').length })}`,
      );

      // Assess
      expect(started.output()).toContain('kafka already running');
      expect(errorLines(started.output())).toEqual([]);
      expectSummary(summary);
      expect(token).toMatch(/^[A-Za-z0-9_-]{32}$/);
      expect(idle.length, idle.join('\n')).toBeLessThanOrEqual(2);
      expect(burst.code, burst.out).toBe(0);
      expect(whole + counted, burstLines.join('\n')).toBe(1000);
      expect(burstLines.length, burstLines.join('\n')).toBeLessThanOrEqual(20);
    } finally {
      await ctrlC(started);
    }
  }, 300_000);

  it('refuses a configuration src/config.ts refuses, naming the variable, before it starts anything (exit 2)', async () => {
    const dir = path.join(stack.dir, 'never-made');
    const run = await runCommand('npm', ['start'], {
      env: { ...env, LOCAL_STACK_DIR: dir, KAFKA_SEND_TIMEOUT_MS: '3000000000' },
      timeoutMs: 60_000,
    });
    expect(run.code, run.out).toBe(2);
    expect(run.out).toContain(
      '[start] invalid configuration: KAFKA_SEND_TIMEOUT_MS: Too big: expected number to be <=30000; nothing was started',
    );
    expect(existsSync(dir)).toBe(false);
  }, 90_000);
});

describe('a function that cannot start, under serverless offline', () => {
  it('answers 500 {"message":"Internal Server Error"} as API Gateway does, without detail, and logs why once', async () => {
    // Prepare: topics of its own for the event source; the functions' configuration refused
    const topics = uniqueServiceTopics('start-fail');
    const admin = testKafka('sts-start-fail').admin();
    await admin.connect();
    for (const topic of Object.values(topics)) await createTopic(admin, topic, 1);
    await admin.disconnect();
    let offline: Awaited<ReturnType<typeof startOffline>> | undefined;
    try {
      offline = await startOffline({
        httpPort: 23220,
        lambdaPort: 23222,
        env: {
          KAFKA_TOPIC_REQUESTS: topics.requests,
          KAFKA_TOPIC_EVENTS: topics.events,
          KAFKA_TOPIC_COMMANDS: topics.commands,
          KAFKA_TOPIC_DLQ: topics.dlq,
          KAFKA_SEND_TIMEOUT_MS: '3000000000',
          KAFKA_CONSUMER_GROUP: uniqueName('start-fail'),
        },
        ready: (response) => response.status === 500,
      });

      const reasons = () =>
        offline!
          .output()
          .split('\n')
          .filter((l: string) => l.includes('could not start') && l.includes('KAFKA_SEND_TIMEOUT_MS')).length;
      // The container's reason, once its line has come through the pipe.
      const loggedAtStart = await waitFor(() => reasons() || undefined, {
        timeoutMs: 10_000,
        what: 'the reason the function could not start',
      });

      // Act: one request after another (one container)
      const answers: Array<{ status: number; body: string }> = [];
      for (const route of ['/healthz', '/kafka/status', '/']) {
        const response = await fetch(`${offline.baseUrl}${route}`);
        answers.push({ status: response.status, body: await response.text() });
      }

      // Assess
      for (const answer of answers) expect(answer).toEqual({ status: 500, body: '{"message":"Internal Server Error"}' });
      expect(loggedAtStart).toBeGreaterThanOrEqual(1);
      expect(reasons()).toBe(loggedAtStart);
      expect(offline.output()).not.toMatch(/stackTrace|\.ts:\d+:\d+/);
    } finally {
      await offline?.stop();
    }
  }, 180_000);
});
