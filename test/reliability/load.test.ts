/**
 * Heavy (RELIABILITY_HEAVY=1 only: the vitest project excludes this file otherwise).
 * A bounded loopback load with autocannon against `serverless offline`: 60 s of GET /,
 * then 60 s of GET / mixed with POST /kafka/publish (10 connections). No errors, no timeouts, no non-2xx;
 * the memory of the offline process (the functions' worker threads live in it) before and
 * after the ~10,000+ invocations; and the TCP connections from that process to the broker
 * (ss -tnp), before the first request, after warm-up and during the load: the HTTP
 * function's producer opens its connections once per container, not per invocation.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Admin } from 'kafkajs';
import { createTopic, testKafka, uniqueName, uniqueServiceTopics } from '../helpers/kafka';
import { startService } from '../helpers/offline';
import type { Offline } from '../helpers/offline';
import { waitFor } from '../helpers/wait-for';
import { call, logLines, publishInit } from './support';

const TOKEN = 'reliability-load-admin-token-0123456789';
const HTTP_PORT = 3620;
const BROKER_PORT = 9092;
const DURATION_S = 60;
const CONNECTIONS = 10;
const topics = uniqueServiceTopics('load');
const group = uniqueName('load-group');

/** The pid of the process listening on the HTTP port (serverless offline's node). */
function offlinePid(): number {
  const out = execFileSync('ss', ['-ltnpH', `sport = :${HTTP_PORT}`], { encoding: 'utf8' });
  const match = /pid=(\d+)/.exec(out);
  if (!match?.[1]) throw new Error(`no process listens on ${HTTP_PORT}: ${out}`);
  return Number(match[1]);
}

/** Established TCP connections from `pid` to the broker port. */
function brokerConnections(pid: number): number {
  const out = execFileSync('ss', ['-tnpH', 'state', 'established', `dport = :${BROKER_PORT}`], { encoding: 'utf8' });
  return out.split('\n').filter((line) => line.includes(`pid=${pid},`)).length;
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
  return Math.round(kb / 1024);
}

describe('loopback load against serverless offline (heavy)', () => {
  let admin: Admin;
  let offline: Offline;
  let pid: number;
  let idleConnections: number;

  beforeAll(async () => {
    admin = testKafka('sts-load-admin').admin();
    await admin.connect();
    for (const topic of Object.values(topics)) await createTopic(admin, topic, 3);
    offline = await startService({ httpPort: HTTP_PORT, lambdaPort: 3622, topics, group, env: { ADMIN_TOKEN: TOKEN } });
    pid = offlinePid();
    idleConnections = brokerConnections(pid); // the plugin's consumers, before any invocation
  }, 240_000);

  afterAll(async () => {
    await offline?.stop();
    await admin?.disconnect();
  }, 60_000);

  it('serves 60 s of GET / and 60 s of GET / + POST /kafka/publish without an error, memory growth or new connections', async () => {
    // Prepare: the HTTP function's producer alone first (a publish to the dead-letter
    // topic, which no consumer function reads), then every consumer function once
    expect(
      (await call(`${offline.baseUrl}/kafka/publish`, publishInit(TOKEN, { event_type: 'load_dlq_probe', data: {}, topic: topics.dlq })))
        .status,
    ).toBe(200);
    const httpProducerConnections = brokerConnections(pid) - idleConnections;
    const warmId = uniqueName('warm');
    expect((await call(`${offline.baseUrl}/`, { headers: { 'x-correlation-id': warmId } })).status).toBe(200);
    expect(
      (await call(`${offline.baseUrl}/kafka/publish`, publishInit(TOKEN, { event_type: 'load_warmup', data: {}, correlation_id: warmId })))
        .status,
    ).toBe(200);
    for (const message of ['http request', 'http response', 'custom event']) {
      await waitFor(() => logLines(offline).find((l) => l.message === message && l.correlation_id === warmId), {
        timeoutMs: 60_000,
        what: `'${message}' for the warm-up`,
      });
    }
    const oneContainerEach = brokerConnections(pid);
    const warm = await autocannon({ url: offline.baseUrl, connections: CONNECTIONS, duration: 5 });
    const warmConnections = brokerConnections(pid);
    const rssBefore = rssMb(pid);

    // Act: sample the connections every second while autocannon runs
    // and which HTTP containers answer (execution_environment_id of a sampled GET /).
    const samples: number[] = [];
    const containers = new Set<string>();
    const sampler = setInterval(() => {
      samples.push(brokerConnections(pid));
      void call(`${offline.baseUrl}/`).then((a) => {
        const host = a.body?.host as { execution_environment_id?: string } | undefined;
        if (host?.execution_environment_id) containers.add(host.execution_environment_id);
      });
    }, 1000);
    const getOnly = await autocannon({ url: offline.baseUrl, connections: CONNECTIONS, duration: DURATION_S, timeout: 10 });
    // serverless offline has now made as many containers as the load needs: the second run
    // reuses them, so its memory and connections show what invocations alone add.
    const rssMid = rssMb(pid);
    const midConnections = brokerConnections(pid);
    const firstRunSamples = samples.length;
    const mixed = await autocannon({
      url: offline.baseUrl,
      connections: CONNECTIONS,
      duration: DURATION_S,
      timeout: 10,
      requests: [
        { method: 'GET', path: '/' },
        {
          method: 'POST',
          path: '/kafka/publish',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify({ event_type: 'load_probe', data: { n: 1 } }),
        },
      ],
    });
    clearInterval(sampler);
    const rssAfter = rssMb(pid);
    const afterConnections = brokerConnections(pid);

    // Assess
    const figures = {
      warmup_requests: warm.requests.total,
      get_only: {
        requests: getOnly.requests.total,
        rps: getOnly.requests.average,
        p50_ms: getOnly.latency.p50,
        p99_ms: getOnly.latency.p99,
        errors: getOnly.errors,
        timeouts: getOnly.timeouts,
        non2xx: getOnly.non2xx,
      },
      mixed: {
        requests: mixed.requests.total,
        rps: mixed.requests.average,
        p50_ms: mixed.latency.p50,
        p99_ms: mixed.latency.p99,
        errors: mixed.errors,
        timeouts: mixed.timeouts,
        non2xx: mixed.non2xx,
      },
      invocations_measured: getOnly.requests.total + mixed.requests.total,
      rss_mb: { before: rssBefore, after_first_run: rssMid, after_second_run: rssAfter, second_run_growth: rssAfter - rssMid },
      threads_in_offline_process: Number(
        execFileSync('ls', [`/proc/${pid}/task`], { encoding: 'utf8' })
          .split('\n')
          .filter(Boolean).length,
      ),
      http_containers_seen_during_load: containers.size,
      broker_connections: {
        idle_plugin_only: idleConnections,
        http_producer_alone: httpProducerConnections,
        one_container_each: oneContainerEach,
        after_warmup: warmConnections,
        during_load_min: Math.min(...samples),
        during_load_max: Math.max(...samples),
        after_first_run: midConnections,
        second_run_max: Math.max(...samples.slice(firstRunSamples)),
        samples,
        after: afterConnections,
      },
    };
    console.log(`load figures: ${JSON.stringify(figures)}`);
    for (const run of [getOnly, mixed]) {
      expect(run.errors).toBe(0);
      expect(run.timeouts).toBe(0);
      expect(run.non2xx).toBe(0);
    }
    expect(figures.invocations_measured).toBeGreaterThanOrEqual(10_000);
    console.log(
      `HTTP containers (worker threads) made by serverless offline: about ${midConnections - idleConnections} (one producer connection each)`,
    );
    // One connection per HTTP container: its producer alone opened one (a single broker).
    expect(httpProducerConnections).toBe(1);
    // None per invocation: over the second run's thousands of invocations the count moves
    // by at most 2 (a container serverless offline adds when every one is busy, the
    // sampler's GET / being an 11th concurrent request, opens its one connection); a
    // connection per invocation would add thousands.
    expect(Math.max(...samples.slice(firstRunSamples), afterConnections) - midConnections).toBeLessThanOrEqual(2);
    // No leak: the second run's ~7,000 invocations on the same containers leave the
    // process within 64 MB of where it was (RSS of the whole process, every worker thread).
    expect(rssAfter - rssMid).toBeLessThan(64);
  }, 300_000);
});
