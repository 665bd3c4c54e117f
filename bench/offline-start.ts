/**
 * How long `serverless offline start` takes to serve GET /healthz (what `npm start` and
 * every integration file wait for), in this checkout and, with --before, in another one,
 * in turns, `--rounds` times each. Each start builds into an esbuild work folder of its own
 * and its event source joins consumer groups of its own, both deleted after it; the broker
 * and Pushgateway are the shared local stack's (`npm run stack:start`), whose answers
 * /healthz does not wait for.
 *
 *   git worktree add --detach ../before <commit> && ln -s "$PWD/node_modules" ../before/node_modules
 *   npx tsx bench/offline-start.ts --before ../before [--rounds 5]
 */
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config';
import { createKafka } from '../src/kafka';
import { waitFor } from '../test/helpers/wait-for';
import { BENCH_SERVICE } from './service';

const HTTP_PORT = 27380;
const GROUP_PREFIX = `bench-offline-start-${process.pid}`;

/** The consumer groups the starts' event sources joined (they hold no records). */
async function deleteOwnGroups(): Promise<void> {
  const config = loadConfig({ KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? '127.0.0.1:9092' });
  const admin = createKafka({ kafka: config.kafka, brokers: config.kafka.brokers, clientId: 'bench-offline-start' }).admin();
  await admin.connect();
  try {
    const { groups } = await admin.listGroups();
    const own = groups.map((g) => g.groupId).filter((id) => id.startsWith(GROUP_PREFIX));
    if (own.length > 0) await admin.deleteGroups(own);
  } finally {
    await admin.disconnect();
  }
}
const USAGE = 'usage: npx tsx bench/offline-start.ts [--before <checkout>] [--rounds <n>]';

/** The checkouts to time and the rounds, or a one-line error and exit 2 (bad usage). */
function commandLine(): { checkouts: Array<[string, string]>; rounds: number } {
  try {
    const { values } = parseArgs({ options: { before: { type: 'string' }, rounds: { type: 'string', default: '5' } } });
    const rounds = Number(values.rounds);
    if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds ${values.rounds}: expected a whole number of at least 1`);
    const before = values.before === undefined ? [] : [['before', path.resolve(values.before)] as [string, string]];
    for (const [, dir] of before) {
      if (!existsSync(path.join(dir, 'serverless.yml')))
        throw new Error(`--before ${dir}: not a checkout of this service (no serverless.yml)`);
    }
    return { checkouts: [...before, ['after', path.resolve(__dirname, '..')]], rounds };
  } catch (error) {
    console.error(`[bench] ${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
    process.exit(2);
  }
}

/** Milliseconds from spawning serverless offline in `dir` to its first 2xx on /healthz. */
async function timeToServe(dir: string, round: number): Promise<number> {
  const workFolder = `.esbuild/bench-offline-start-${process.pid}-${round}`;
  const env = {
    ...process.env,
    ...BENCH_SERVICE,
    HTTP_PORT: String(HTTP_PORT),
    LAMBDA_PORT: String(HTTP_PORT + 2),
    ESBUILD_WORK_FOLDER: workFolder,
    KAFKA_CONSUMER_GROUP: GROUP_PREFIX,
  };
  const started = performance.now();
  const child = spawn('npx', ['serverless', 'offline', 'start'], { cwd: dir, env, detached: true, stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    await waitFor(
      async () => ((await fetch(`http://127.0.0.1:${HTTP_PORT}/healthz`, { signal: AbortSignal.timeout(5000) })).ok ? true : undefined),
      { timeoutMs: 120_000, intervalMs: 100, what: `serverless offline in ${dir} to answer /healthz` },
    );
    return performance.now() - started;
  } finally {
    process.kill(-child.pid!, 'SIGINT');
    const killer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 10_000);
    await exited;
    clearTimeout(killer);
    rmSync(path.join(dir, workFolder), { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { checkouts, rounds } = commandLine();
  const samples = new Map<string, number[]>(checkouts.map(([name]) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const [name, dir] of checkouts) samples.get(name)!.push(await timeToServe(dir, round));
  }
  for (const [name, dir] of checkouts) {
    const sorted = [...samples.get(name)!].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    console.log(
      `${name} (${dir}): median ${(median / 1000).toFixed(1)} s to serve; each: ${sorted.map((ms) => (ms / 1000).toFixed(1)).join(', ')} s`,
    );
  }
  // A member stopped without leaving keeps its group until its session times out: tries for a while.
  await waitFor(() => deleteOwnGroups().then(() => true), {
    timeoutMs: 120_000,
    intervalMs: 5000,
    what: `the groups ${GROUP_PREFIX}-* to be deleted`,
  });
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
