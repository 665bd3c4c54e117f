/**
 * What the local authorizing mode (LOCAL_KAFKA_AUTHZ=on) costs `serverless offline`, on
 * one broker of the bench's own that authorizes: the same service started with every
 * function on the PLAINTEXT listener (the super user: what the tests run without the mode)
 * and with every function as its own principal (SCRAM over TLS, ACLs from its IAM role),
 * alternately, `rounds` times each. Per start: from spawning `serverless offline start` to
 * its event source mappings running; then the first GET / (the http function's producer
 * connects) to its record handled by onHttpRequest; then `requests` more GET / one after
 * another (HTTP answer time), and the stop. Nothing of the shared stack is used but its
 * jar cache (and its Pushgateway, which the functions push to under the benchmarks' own
 * service name and stage, bench/service.ts).
 *
 *   npx tsx bench/authz-mode.ts [rounds=3] [requests=50]
 */
import { randomUUID } from 'node:crypto';
import { loadConfig } from '../src/config';
import { createKafka } from '../src/kafka';
import { logLines, startService } from '../test/helpers/offline';
import { startPrivateBroker } from '../test/helpers/private-broker';
import { waitFor } from '../test/helpers/wait-for';
import { BENCH_SERVICE } from './service';
import { fmt, summarize } from './stats';

const rounds = Number(process.argv[2] ?? 3);
const requests = Number(process.argv[3] ?? 50);
const PORT = 27300;

interface Round {
  mode: 'plaintext' | 'authz';
  startMs: number;
  firstHandledMs: number;
  getMs: number[];
  stopMs: number;
}

async function round(mode: Round['mode'], env: Record<string, string>, n: number): Promise<Round> {
  const suffix = `${Date.now().toString(36)}-${n}`;
  const topics = {
    requests: `bench-authz-requests-${suffix}`,
    events: `bench-authz-events-${suffix}`,
    commands: `bench-authz-commands-${suffix}`,
    dlq: `bench-authz-dlq-${suffix}`,
  };
  const config = loadConfig({ KAFKA_BROKERS: `127.0.0.1:${PORT}` });
  const admin = createKafka({ kafka: config.kafka, brokers: config.kafka.brokers, clientId: 'bench-authz' }).admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: Object.values(topics).map((topic) => ({ topic, numPartitions: 3, replicationFactor: 1 })),
  });
  const t0 = performance.now();
  const offline = await startService({
    httpPort: 27350,
    lambdaPort: 27352,
    topics,
    group: `bench-authz-${suffix}`,
    env: { ...BENCH_SERVICE, ...env, LOG_LEVEL: 'INFO' },
  });
  const startMs = performance.now() - t0;
  let stopped = false;
  try {
    const first = `first-${randomUUID()}`;
    const t1 = performance.now();
    await (await fetch(`${offline.baseUrl}/`, { headers: { 'x-correlation-id': first } })).arrayBuffer();
    await waitFor(() => logLines(offline).find((l) => l.message === 'http request' && l.correlation_id === first), {
      timeoutMs: 60_000,
      intervalMs: 20,
    });
    const firstHandledMs = performance.now() - t1;
    const getMs: number[] = [];
    for (let i = 0; i < requests; i++) {
      const t = performance.now();
      await (await fetch(`${offline.baseUrl}/`)).arrayBuffer();
      getMs.push(performance.now() - t);
    }
    const t2 = performance.now();
    await offline.stop();
    stopped = true;
    return { mode, startMs, firstHandledMs, getMs, stopMs: performance.now() - t2 };
  } finally {
    if (!stopped) await offline.stop();
    await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => undefined);
    await admin.disconnect();
  }
}

async function main(): Promise<void> {
  const broker = await startPrivateBroker({ port: PORT, authz: true });
  try {
    const modes: Array<[Round['mode'], Record<string, string>]> = [
      ['plaintext', { KAFKA_BROKERS: broker.brokers }],
      ['authz', await broker.clientEnv('authz')],
    ];
    const results: Round[] = [];
    for (let n = 0; n < rounds; n++) for (const [mode, env] of modes) results.push(await round(mode, env, n));
    console.log(`${rounds} rounds per mode, ${requests} GET / each, one authorizing broker (the PLAINTEXT listener is its super user's)`);
    console.log('mode       start p50         first GET / handled p50    GET / p50 / p99            stop p50');
    for (const [mode] of modes) {
      const of = results.filter((r) => r.mode === mode);
      const start = summarize(of.map((r) => r.startMs));
      const first = summarize(of.map((r) => r.firstHandledMs));
      const get = summarize(of.flatMap((r) => r.getMs));
      const stop = summarize(of.map((r) => r.stopMs));
      console.log(
        `${mode.padEnd(10)} ${fmt(start.p50).padStart(14)}    ${fmt(first.p50).padStart(24)}    ${fmt(get.p50).padStart(10)} / ${fmt(get.p99).padEnd(8)}    ${fmt(stop.p50).padStart(9)}`,
      );
    }
  } finally {
    await broker.destroy();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
