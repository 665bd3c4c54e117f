/**
 * A three-broker cluster restarted broker by broker under load, as MSK patches itself,
 * then a broker crash, then two brokers down at once.
 *
 * On a cluster of this test's own (infra/local/stack.sh, LOCAL_KAFKA_BROKERS=3: topics with
 * three replicas and min.insync.replicas=2), `serverless offline` (the HTTP function and
 * every consumer through the local MSK event source) takes a steady load from a few
 * clients: GET / (its http_request and http_response events) and POST /kafka/publish of
 * custom events, error events and time.now commands, each with a unique marker. Each
 * broker in turn gets SIGTERM (a controlled shutdown), is started again and waited for
 * until it is back in every ISR; then one broker gets SIGKILL and comes back the same way.
 *
 * Measured, not assumed (kafkajs follows leader changes by refreshing metadata): every
 * acknowledged publish (200 with its id) must be handled by its consumer, once, and none
 * dead-lettered (read from the dead-letter topic: a restart must not use up retries); GET / answers 200
 * throughout; the longest run of 503 from /kafka/publish and the longest pause of each
 * consumer per restart are reported; afterwards every partition's consumer catches up.
 *
 * Then two brokers are stopped (min.insync.replicas is not met): /kafka/publish answers
 * 503, GET / 200; when they return, the service and its consumers recover by themselves.
 *
 * The load is small enough for CI; RELIABILITY_HEAVY=1 runs more clients, faster.
 * Figures go to RELIABILITY.md ("Rolling restart of a three-broker cluster").
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Admin, Kafka } from 'kafkajs';
import { loadConfig } from '../../src/config';
import { CONSUMER_FUNCTIONS, consumerGroupId, consumerTopic } from '../../src/consumers/functions';
import { createKafka } from '../../src/kafka';
import { uniqueName, uniqueServiceTopics } from '../helpers/kafka';
import { CONSUMER_LINES, startService } from '../helpers/offline';
import type { Offline } from '../helpers/offline';
import { CLUSTER_BROKERS, startPrivateCluster, waitInSync } from '../helpers/private-broker';
import type { ClusterNode, PrivateCluster } from '../helpers/private-broker';
import { waitFor } from '../helpers/wait-for';
import type { Call } from './figures';
import { longestGapMs, longestStreakMs, statusCounts } from './figures';
import type { LogLine } from './support';
import { call, deadLettered, isAcknowledgement, logLines, publishInit } from './support';

const heavy = process.env.RELIABILITY_HEAVY === '1';
const BASE = 26400; // brokers 26400-26402, controller 26403
const HTTP_PORT = 26450;
const LAMBDA_PORT = 26452;
const TOKEN = 'reliability-rolling-admin-token-0123456789';
const CLIENTS = heavy ? 6 : 3;
const PAUSE_MS = heavy ? 20 : 150;
/** POST /kafka/publish's success status. */
const ACKED = 200;

/** A publish the service acknowledged: 200 with the event's id (support.ts). */
function acknowledged(p: Publish): boolean {
  return isAcknowledgement({ status: p.status, body: p.id === undefined ? undefined : { id: p.id } });
}
const OFFSETS_TOPIC = '__consumer_offsets';

const topics = uniqueServiceTopics('roll');
const group = uniqueName('roll-group');
const config = loadConfig({
  KAFKA_CONSUMER_GROUP: group,
  KAFKA_TOPIC_REQUESTS: topics.requests,
  KAFKA_TOPIC_EVENTS: topics.events,
  KAFKA_TOPIC_COMMANDS: topics.commands,
  KAFKA_TOPIC_DLQ: topics.dlq,
});

type Kind = 'custom' | 'error' | 'command';

/** Which function handles an acknowledged publish of each kind, and the log line it writes. */
const HANDLED_BY: Record<Kind, { fn: RegExp; message: string; idKey: string }> = {
  custom: { fn: /onCustomEvent/, message: 'custom event', idKey: 'event_id' },
  error: { fn: /onError/, message: 'error event', idKey: 'event_id' },
  command: { fn: /onCommand/, message: 'command processed', idKey: 'command_id' },
};

interface Publish extends Call {
  kind: Kind;
  marker: string;
  id: string | undefined;
  /** Where the service wrote it (from the publish answer): topic-partition@offset. */
  at: string | undefined;
}

interface Window {
  label: string;
  from: number;
  to: number;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** One call, with when it started and ended. */
async function timedCall(url: string, init: RequestInit = {}): Promise<Call & { body: Record<string, unknown> | undefined }> {
  const start = Date.now();
  const answer = await call(url, init);
  return { start, end: Date.now(), status: answer.status, body: answer.body };
}

function publishBody(kind: Kind, marker: string, i: number): Record<string, unknown> {
  switch (kind) {
    case 'custom':
      return { event_type: 'rolling_probe', data: { marker, i }, correlation_id: marker };
    case 'error':
      return {
        event_type: 'error',
        data: { error_message: `probe ${marker}`, error_type: 'RollingProbe', service: 'rolling-restart-test' },
        correlation_id: marker,
      };
    case 'command':
      return { event_type: 'time.now', data: { timezone: 'UTC' }, topic: topics.commands, correlation_id: marker };
  }
}

/** A steady load from CLIENTS clients until stopped; every answer is recorded. */
function startLoad(offline: Offline, runId: string, clients = CLIENTS) {
  const publishes: Publish[] = [];
  const gets: Call[] = [];
  let stopped = false;
  let next = 0;
  const client = async (): Promise<void> => {
    while (!stopped) {
      const i = next++;
      const kind: Kind = i % 10 === 3 ? 'error' : i % 10 === 7 ? 'command' : 'custom';
      const marker = `${runId}-${i}`;
      const [published, got] = await Promise.all([
        timedCall(`${offline.baseUrl}/kafka/publish`, publishInit(TOKEN, publishBody(kind, marker, i))),
        timedCall(`${offline.baseUrl}/`, { headers: { 'x-correlation-id': `get-${marker}` } }),
      ]);
      const b = published.body;
      const at = b && typeof b.topic === 'string' ? `${b.topic}-${String(b.partition)}@${String(b.offset)}` : undefined;
      publishes.push({ ...published, kind, marker, id: typeof b?.id === 'string' ? b.id : undefined, at });
      gets.push(got);
      await sleep(PAUSE_MS);
    }
  };
  const running = Promise.all(Array.from({ length: clients }, client));
  return {
    publishes,
    gets,
    stop: async (): Promise<void> => {
      stopped = true;
      await running;
    },
  };
}

/** Times (ms) at which a function handled a record, from its log lines. */
function handledTimes(lines: LogLine[], fn: string, message: string): number[] {
  return lines.filter((l) => l.message === message && String(l.function_name).includes(fn)).map((l) => Date.parse(String(l.timestamp)));
}

/** Per acknowledged publish, how many times its function handled it. */
function handledCounts(lines: LogLine[], publishes: Publish[]): Map<string, number> {
  const counts = new Map<string, number>();
  const wanted = new Map(publishes.filter(acknowledged).map((p) => [`${p.kind}:${p.id}`, 0]));
  for (const line of lines) {
    for (const kind of Object.keys(HANDLED_BY) as Kind[]) {
      const { fn, message, idKey } = HANDLED_BY[kind];
      if (line.message !== message || !fn.test(String(line.function_name))) continue;
      const key = `${kind}:${String(line[idKey])}`;
      if (wanted.has(key)) counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return counts;
}

/** Partitions whose consumer group has not caught up with the end of the topic. */
async function partitionsBehind(admin: Admin): Promise<string[]> {
  const behind: string[] = [];
  for (const fn of CONSUMER_FUNCTIONS) {
    const topic = consumerTopic(config.kafka, fn);
    const groupId = consumerGroupId(config.kafka, fn);
    const ends = await admin.fetchTopicOffsets(topic);
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    for (const end of ends) {
      const offset = committed?.partitions.find((p) => p.partition === end.partition)?.offset ?? '-1';
      const lag = Number(end.high) - Math.max(Number(offset), 0);
      if (lag > 0) behind.push(`${groupId} ${topic}-${end.partition} (lag ${lag})`);
    }
  }
  return behind;
}

/**
 * After a load: waits (bounded) until every acknowledged publish was handled and every
 * partition caught up, then says what was not: publishes never handled (lost, or on the
 * dead-letter topic: their retries used up), handled twice, partitions behind.
 */
async function settle(
  offline: Offline,
  kafka: Kafka,
  admin: Admin,
  publishes: Publish[],
): Promise<{ lost: Publish[]; twice: Publish[]; deadLettered: Array<Publish & { reason: string }>; behind: string[] }> {
  const acked = publishes.filter(acknowledged);
  const handled = () => {
    const counts = handledCounts(logLines(offline), publishes);
    return {
      unhandled: acked.filter((p) => !counts.has(`${p.kind}:${p.id}`)),
      twice: acked.filter((p) => (counts.get(`${p.kind}:${p.id}`) ?? 0) > 1),
    };
  };
  // The figures say what is missing: a timeout here is not the failure itself.
  await waitFor(() => (handled().unhandled.length === 0 ? true : undefined), {
    timeoutMs: 120_000,
    intervalMs: 1000,
    what: 'every acknowledged publish to be handled',
  }).catch(() => undefined);
  let behind: string[] = [];
  await waitFor(
    async () => {
      behind = await partitionsBehind(admin);
      return behind.length === 0 ? true : undefined;
    },
    { timeoutMs: 90_000, intervalMs: 1000, what: 'every partition to be caught up' },
  ).catch(() => undefined);
  // An acknowledged publish not handled may have been dead-lettered (its retries used up): not lost, but not handled either.
  const dead = await deadLettered(kafka, admin, topics.dlq);
  const { unhandled, twice } = handled();
  return {
    lost: unhandled.filter((p) => !dead.has(p.id!)),
    deadLettered: unhandled.flatMap((p) => (dead.has(p.id!) ? [{ ...p, reason: dead.get(p.id!)! }] : [])),
    twice,
    behind,
  };
}

/**
 * What the local event source said it did: fetches it refused (they began past what it
 * had been handed; it fetched again from there), records it settled before and skipped
 * when a lost commit brought them back, records retention deleted before they were read.
 */
function eventSourceCounts(output: string): Record<string, number> {
  const count = (pattern: RegExp) => output.split('\n').filter((l) => pattern.test(l)).length;
  return {
    fetches_refused: count(/offline-msk: .* was not taken: offsets from \d+ were never handed over/),
    settled_records_skipped_after_a_lost_commit: output
      .split('\n')
      .flatMap((l) => /came back at an older offset \(a commit was lost\); (\d+) record/.exec(l)?.[1] ?? [])
      .reduce((sum, n) => sum + Number(n), 0),
    deleted_before_read: count(/were deleted by the broker \(its retention\) before they were read/),
  };
}

/** The broker leading most partitions of these topics. */
async function busiestLeader(admin: Admin, cluster: PrivateCluster, names: string[]): Promise<ClusterNode> {
  const { topics: found } = await admin.fetchTopicMetadata({ topics: names });
  const counts = new Map<number, number>();
  for (const t of found) for (const p of t.partitions) counts.set(p.leader, (counts.get(p.leader) ?? 0) + 1);
  return [...CLUSTER_BROKERS].sort((a, b) => (counts.get(cluster.nodeId(b)) ?? 0) - (counts.get(cluster.nodeId(a)) ?? 0))[0]!;
}

describe('a three-broker cluster under load', () => {
  let cluster: PrivateCluster;
  let kafka: Kafka;
  let admin: Admin;
  let offline: Offline;
  const testTopics = Object.values(topics);

  beforeAll(async () => {
    cluster = await startPrivateCluster({ port: BASE });
    kafka = createKafka({ kafka: config.kafka, brokers: cluster.brokers.split(','), clientId: uniqueName('roll-admin') });
    admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      waitForLeaders: true,
      topics: testTopics.map((topic) => ({ topic, numPartitions: 3, replicationFactor: 3 })),
    });
    offline = await startService({
      httpPort: HTTP_PORT,
      lambdaPort: LAMBDA_PORT,
      topics,
      group,
      env: { KAFKA_BROKERS: cluster.brokers, ADMIN_TOKEN: TOKEN },
    });
    // Warm: the producer connected and every consumer joined (each handles its first record).
    const runId = uniqueName('warm');
    const load = startLoad(offline, runId, 1);
    await waitFor(
      () => {
        const lines = logLines(offline);
        return CONSUMER_LINES.every(({ fn, message }) => handledTimes(lines, fn, message).length > 0) ? true : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 500, what: 'every consumer function to handle its first record' },
    );
    await load.stop();
  }, 400_000);

  afterAll(async () => {
    await offline?.stop();
    await admin?.disconnect().catch(() => undefined);
    await cluster?.destroy();
  }, 180_000);

  it('restarts each broker in turn (SIGTERM), then crashes one (SIGKILL): nothing acknowledged is lost or done twice, GET / always answers 200', async () => {
    // Prepare
    const runId = uniqueName('roll');
    const load = startLoad(offline, runId);
    const windows: Window[] = [];
    await sleep(5000);

    // Act: each broker in turn, each back in every ISR before the next
    for (const node of CLUSTER_BROKERS) {
      const from = Date.now();
      await cluster.stop(node);
      await cluster.start();
      await waitInSync(admin, [...testTopics, OFFSETS_TOPIC], 120_000);
      windows.push({ label: `SIGTERM ${node}`, from, to: Date.now() });
      await sleep(3000);
    }
    // Then a crash of the broker that leads most of the service's partitions.
    const victim = await busiestLeader(admin, cluster, testTopics);
    const killedAt = Date.now();
    await cluster.kill(victim);
    await sleep(30_000);
    await cluster.start();
    await waitInSync(admin, [...testTopics, OFFSETS_TOPIC], 120_000);
    windows.push({ label: `SIGKILL ${victim}`, from: killedAt, to: Date.now() });
    await sleep(5000);
    await load.stop();

    // Assess: every acknowledged publish handled, once; every partition caught up
    const acked = load.publishes.filter(acknowledged);
    const { lost, twice, deadLettered: dead, behind } = await settle(offline, kafka, admin, load.publishes);
    const lines = logLines(offline);

    const perRestart = windows.map((w) => {
      const publishes = load.publishes.filter((p) => p.start >= w.from && p.start <= w.to);
      const pauses = Object.fromEntries(
        CONSUMER_LINES.map(({ fn, message }) => [fn, longestGapMs(handledTimes(lines, fn, message), w.from, w.to)]),
      );
      return {
        restart: w.label,
        seconds: Math.round((w.to - w.from) / 100) / 10,
        publish_statuses: statusCounts(publishes),
        longest_503_ms: longestStreakMs(publishes, 503, ACKED),
        longest_consumer_pause_ms: Math.max(...Object.values(pauses)),
        consumer_pause_ms: pauses,
      };
    });
    const figures = {
      clients: CLIENTS,
      publishes: load.publishes.length,
      publish_statuses: statusCounts(load.publishes),
      acknowledged: acked.length,
      answered_200_without_acknowledgement: load.publishes.filter((p) => p.status === ACKED && !acknowledged(p)).length,
      acknowledged_lost: lost.length,
      acknowledged_dead_lettered: dead.length,
      duplicate_effects: twice.length,
      get_requests: load.gets.length,
      get_statuses: statusCounts(load.gets),
      get_not_200: load.gets.filter((g) => g.status !== 200).length,
      get_max_ms: Math.max(...load.gets.map((g) => g.end - g.start)),
      longest_503_ms: longestStreakMs(load.publishes, 503, ACKED),
      partitions_without_progress: behind.length,
      // The local event source's own account of what it did about the restarts (its warning lines).
      event_source: eventSourceCounts(offline.output()),
      per_restart: perRestart,
    };
    console.log(`rolling-restart figures: ${JSON.stringify(figures)}`);
    if (lost.length > 0)
      console.log(
        `lost: ${lost
          .slice(0, 20)
          .map((p) => `${p.kind}:${p.id} (${p.at})`)
          .join(', ')}`,
      );
    if (behind.length > 0) console.log(`behind: ${behind.join('; ')}`);
    if (dead.length > 0)
      console.log(
        `dead-lettered: ${dead
          .slice(0, 20)
          .map((p) => `${p.kind}:${p.id} (${p.at}, ${p.reason})`)
          .join(', ')}`,
      );
    if (twice.length > 0)
      console.log(
        `twice (ms after the SIGKILL): ${twice
          .slice(0, 20)
          .map((p) => `${p.kind}:${p.id} (${p.at})@${p.start - killedAt}`)
          .join(', ')}`,
      );

    expect(acked.length).toBeGreaterThan(100);
    expect(lost).toEqual([]);
    // A broker restart is maintenance, not a poison record: no acknowledged publish runs out of retries.
    expect(dead).toEqual([]);
    // Nothing twice, the SIGKILL included: a record whose offset commit died with the
    // coordinator is not delivered again by the local event source that settled it.
    expect(twice).toEqual([]);
    expect(figures.get_not_200).toBe(0);
    expect(load.publishes.every((p) => acknowledged(p) || p.status === 503)).toBe(true);
    expect(behind).toEqual([]);
  }, 900_000);

  // Only with RELIABILITY_HEAVY=1: after two brokers return, the local event source's kafkajs
  // consumer can stay out of its group while it fetches (RELIABILITY.md, section 6: passed
  // in 2 of 4 runs), a defect of the local emulator that CI would report as flaky.
  it.runIf(heavy)(
    'two brokers down (min.insync.replicas not met): publish answers 503, GET / 200; both back, it recovers by itself',
    async () => {
      // Prepare
      const runId = uniqueName('down2');
      const load = startLoad(offline, runId, 2);
      await sleep(3000);

      // Act: two brokers stop (controlled shutdowns: the last one leads everything, alone in sync)
      const [, second, third] = CLUSTER_BROKERS;
      await cluster.stop(second!);
      await cluster.stop(third!);
      const downAt = Date.now();
      await sleep(12_000);
      const returnAt = Date.now();
      await cluster.start();
      const backAt = Date.now();
      const recovered = await waitFor(() => load.publishes.find((p) => p.start >= backAt && acknowledged(p)), {
        timeoutMs: 60_000,
        intervalMs: 200,
        what: 'an acknowledged publish after the brokers came back',
      });
      await waitInSync(admin, [...testTopics, OFFSETS_TOPIC], 120_000);
      await sleep(5000);
      await load.stop();

      // Assess: while down (after 2 s for the last requests in flight), refused and served
      const down = (c: Call) => c.start >= downAt + 2000 && c.end <= returnAt;
      const publishesDown = load.publishes.filter(down);
      const getsDown = load.gets.filter(down);
      const acked = load.publishes.filter(acknowledged);
      const { lost, twice, deadLettered: dead, behind } = await settle(offline, kafka, admin, load.publishes);
      const figures = {
        publishes_while_down: statusCounts(publishesDown),
        get_while_down: statusCounts(getsDown),
        get_max_ms_while_down: Math.max(...getsDown.map((g) => g.end - g.start)),
        publish_max_ms_while_down: Math.max(...publishesDown.map((p) => p.end - p.start)),
        brokers_restarted_in_ms: backAt - returnAt,
        first_ack_after_start_returned_ms: recovered.start - backAt,
        acknowledged: acked.length,
        acknowledged_lost: lost.length,
        acknowledged_dead_lettered: dead.length,
        duplicate_effects: twice.length,
        get_not_200: load.gets.filter((g) => g.status !== 200).length,
        partitions_without_progress: behind.length,
      };
      console.log(`two-brokers-down figures: ${JSON.stringify(figures)}`);
      if (behind.length > 0) {
        console.log(`behind: ${behind.join('; ')}`);
        // What the event source and the functions said meanwhile (errors and warnings, the last 40).
        const said = logLines(offline).filter((l) => l.level === 'ERROR' || l.level === 'WARN');
        const raw = offline
          .output()
          .split('\n')
          .filter((l) => /crash|offline-msk|rebalanc|commit/i.test(l) && !l.includes('{"level"'));
        console.log(`log lines: ${[...said.slice(-40).map((l) => JSON.stringify(l)), ...raw.slice(-40)].join('\n')}`);
      }

      expect(publishesDown.length).toBeGreaterThan(10);
      expect(publishesDown.every((p) => p.status === 503)).toBe(true);
      expect(getsDown.length).toBeGreaterThan(10);
      expect(getsDown.every((g) => g.status === 200)).toBe(true);
      expect(load.gets.every((g) => g.status === 200)).toBe(true);
      expect(lost).toEqual([]);
      expect(dead).toEqual([]);
      expect(twice).toEqual([]);
      expect(behind).toEqual([]);
    },
    600_000,
  );
});
