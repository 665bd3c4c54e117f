/**
 * The local stack's cluster mode (LOCAL_KAFKA_BROKERS=3): three KRaft brokers and a
 * controller of their own on 127.0.0.1, topics with three replicas and
 * min.insync.replicas=2, ports listed by `status` and printed as the KAFKA_BROKERS value
 * to use; start and stop idempotent, one broker stopped and started again alone. On a
 * state directory and ports of the test's own (26200-26219), so the shared stack is never
 * touched.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Admin } from 'kafkajs';
import { ConfigResourceTypes } from 'kafkajs';
import { loadConfig } from '../../src/config';
import { createKafka } from '../../src/kafka';
import { uniqueName } from '../helpers/kafka';
import { waitInSync } from '../helpers/private-broker';
import { alive, privateStack, runCommand, stackScript } from './local-stack-support';
import type { PrivateStack } from './local-stack-support';

const BASE = 26200;
const BROKERS = `127.0.0.1:${BASE},127.0.0.1:${BASE + 1},127.0.0.1:${BASE + 2}`;
const NODES = ['kafka-controller', 'kafka-broker-1', 'kafka-broker-2', 'kafka-broker-3'] as const;
const SERVICE_TOPICS = [
  'simple-time-service-requests',
  'simple-time-service-events',
  'simple-time-service-commands',
  'simple-time-service-dlq',
];

function pidOf(stack: PrivateStack, node: string): number | undefined {
  try {
    const pid = Number(readFileSync(path.join(stack.dir, `${node}.pid`), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function pids(stack: PrivateStack): Record<string, number | undefined> {
  return Object.fromEntries(NODES.map((n) => [n, pidOf(stack, n)]));
}

/** The command line of a process, one argument per element. */
function args(pid: number | undefined): string[] {
  return pid === undefined ? [] : readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
}

describe('stack.sh with LOCAL_KAFKA_BROKERS=3', () => {
  let stack: PrivateStack;
  let admin: Admin;

  beforeAll(async () => {
    // The cluster's ports from BASE (controller BASE+3); the Pushgateway after them.
    stack = privateStack(BASE, {
      extra: { LOCAL_KAFKA_BROKERS: '3', LOCAL_KAFKA_CONTROLLER_PORT: String(BASE + 3), LOCAL_PUSHGATEWAY_PORT: String(BASE + 15) },
    });
    const started = await stack.run('start', {}, 240_000);
    expect(started.code, started.out).toBe(0);
    // Printed as the value to use.
    expect(started.out).toContain(`[stack] kafka: KAFKA_BROKERS=${BROKERS}`);
    const config = loadConfig({ KAFKA_BROKERS: BROKERS });
    admin = createKafka({ kafka: config.kafka, brokers: config.kafka.brokers, clientId: uniqueName('cluster-admin') }).admin();
    await admin.connect();
  }, 300_000);

  afterAll(async () => {
    await admin?.disconnect();
    await stack?.destroy();
  }, 120_000);

  it('runs three brokers and a controller of their own, listed by status with the KAFKA_BROKERS value', async () => {
    // Act
    const cluster = await admin.describeCluster();
    const status = await stack.run('status', {}, 30_000);

    // Assess
    expect(cluster.brokers.map((b) => `${b.host}:${b.port}`).sort()).toEqual(BROKERS.split(','));
    expect(cluster.brokers.map((b) => b.nodeId).sort()).toEqual([1, 2, 3]);
    expect(status.code, status.out).toBe(0);
    expect(status.out).toMatch(new RegExp(`^kafka-controller +running +pid \\d+ +127\\.0\\.0\\.1:${BASE + 3} .*\\(controller\\)`, 'm'));
    for (let i = 1; i <= 3; i++) {
      expect(status.out).toMatch(new RegExp(`^kafka-broker-${i} +running +pid \\d+ +127\\.0\\.0\\.1:${BASE + i - 1} `, 'm'));
    }
    expect(status.out).toContain(`brokers      KAFKA_BROKERS=${BROKERS}`);
    expect(status.out).not.toMatch(/^kafka +/m);
    // Each node is its own JVM, with the controller's smaller heap.
    for (const node of NODES) expect(alive(pidOf(stack, node)), node).toBe(true);
    expect(args(pidOf(stack, 'kafka-controller'))).toContain('-Xmx256m');
    expect(args(pidOf(stack, 'kafka-broker-1'))).toContain('-Xmx512m');
  });

  it('gives the service topics, and topics created without a replication factor, 3 replicas with min.insync.replicas=2', async () => {
    // Prepare: a topic the way a client that names no replication factor makes it
    const topic = uniqueName('cluster-default-rf');
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 2 }] });

    // Act
    const metadata = await admin.fetchTopicMetadata({ topics: [...SERVICE_TOPICS, topic] });
    const configs = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [...SERVICE_TOPICS, topic].map((name) => ({
        type: ConfigResourceTypes.TOPIC,
        name,
        configNames: ['min.insync.replicas'],
      })),
    });

    // Assess
    for (const t of metadata.topics) {
      for (const p of t.partitions) {
        expect(p.replicas, `${t.name}-${p.partitionId}`).toHaveLength(3);
        expect(p.isr, `${t.name}-${p.partitionId}`).toHaveLength(3);
      }
    }
    for (const resource of configs.resources) {
      expect(resource.configEntries.find((e) => e.configName === 'min.insync.replicas')?.configValue, resource.resourceName).toBe('2');
    }
  });

  it('start is idempotent; a broker stopped alone is started again alone and rejoins every ISR', async () => {
    // Prepare
    const before = pids(stack);
    const stackCommand = (...words: string[]) => runCommand('bash', [stackScript, ...words], { env: stack.env, timeoutMs: 120_000 });

    // Act: start again; stop broker 2 (twice); status; start
    const again = await stack.run('start', {}, 120_000);
    const afterAgain = pids(stack);
    const stopTwo = await stackCommand('stop', 'kafka-broker-2');
    const stopTwoAgain = await stackCommand('stop', 'kafka-broker-2');
    const degraded = await stack.run('status', {}, 30_000);
    const restarted = await stack.run('start', {}, 180_000);
    const after = pids(stack);
    await waitInSync(admin, SERVICE_TOPICS);

    // Assess: the second start started nothing; the stop ended broker 2 only, and the next
    // start started broker 2 only
    expect(again.code, again.out).toBe(0);
    for (const node of NODES) expect(again.out).toContain(`${node} already running (pid ${before[node]})`);
    expect(afterAgain).toEqual(before);
    expect(stopTwo.code, stopTwo.out).toBe(0);
    expect(stopTwo.out).toContain(`stopping kafka-broker-2 (pid ${before['kafka-broker-2']})`);
    expect(alive(before['kafka-broker-2'])).toBe(false);
    expect(stopTwoAgain.code, stopTwoAgain.out).toBe(0);
    expect(degraded.code).toBe(3);
    expect(degraded.out).toMatch(/^kafka-broker-2 +stopped$/m);
    expect(degraded.out).not.toContain('KAFKA_BROKERS=');
    expect(restarted.code, restarted.out).toBe(0);
    expect(restarted.out).toContain('starting kafka-broker-2');
    expect(restarted.out).toContain('3 brokers registered, every replica in sync');
    expect(after['kafka-broker-2']).not.toBe(before['kafka-broker-2']);
    expect({ ...after, 'kafka-broker-2': 0 }).toEqual({ ...before, 'kafka-broker-2': 0 });
  }, 300_000);

  it('refuses a broker count other than 1 or 3, and ports that collide, before starting anything', async () => {
    // Act
    const two = await stack.run('start', { LOCAL_KAFKA_BROKERS: '2' }, 30_000);
    const injected = await stack.run('start', { LOCAL_KAFKA_BROKERS: '3$(id)' }, 30_000);
    const collide = await stack.run('start', { LOCAL_KAFKA_SASL: 'on', LOCAL_KAFKA_SASL_PORT: String(BASE + 2) }, 30_000);
    const sasl = await stack.run('start', { LOCAL_KAFKA_SASL: 'yes' }, 30_000);

    // Assess
    expect(two.code).not.toBe(0);
    expect(two.out).toContain('LOCAL_KAFKA_BROKERS=2: expected 1');
    expect(injected.code).not.toBe(0);
    expect(injected.out).toContain('LOCAL_KAFKA_BROKERS=3$(id): expected a whole number');
    expect(collide.code).not.toBe(0);
    expect(collide.out).toContain(`LOCAL_KAFKA_SASL_PORT: port ${BASE + 2} is also LOCAL_KAFKA_PORT's`);
    expect(sasl.code).not.toBe(0);
    expect(sasl.out).toContain('LOCAL_KAFKA_SASL=yes: expected on or off');
  });

  it('stop ends the brokers, then their controller, also when the single broker is chosen; a second stop is fine', async () => {
    // Prepare
    const before = pids(stack);

    // Act: without LOCAL_KAFKA_BROKERS (the single broker chosen), status lists the
    // cluster's nodes too, and stop ends them
    const single = await stack.run('status', { LOCAL_KAFKA_BROKERS: '' }, 30_000);
    const stopped = await stack.run('stop', { LOCAL_KAFKA_BROKERS: '' }, 90_000);
    const again = await stack.run('stop', {}, 30_000);
    const status = await stack.run('status', {}, 30_000);

    // Assess
    expect(single.code).toBe(3);
    expect(single.out).toMatch(new RegExp(`^kafka +stopped  \\(127\\.0\\.0\\.1:${BASE} is kafka-broker-1's\\)$`, 'm'));
    for (const node of NODES) expect(single.out).toMatch(new RegExp(`^${node} +running `, 'm'));
    expect(stopped.code, stopped.out).toBe(0);
    const order = ['kafka-broker-1', 'kafka-broker-2', 'kafka-broker-3', 'kafka-controller'].map((n) =>
      stopped.out.indexOf(`stopping ${n} (pid ${before[n]})`),
    );
    expect(
      order.every((i) => i >= 0),
      stopped.out,
    ).toBe(true);
    expect(Math.max(...order.slice(0, 3))).toBeLessThan(order[3]!);
    for (const node of NODES) expect(alive(before[node]), node).toBe(false);
    expect(again.code, again.out).toBe(0);
    expect(again.out).toContain('kafka is not running');
    expect(status.code).toBe(3);
    for (const node of NODES) expect(status.out).toMatch(new RegExp(`^${node} +stopped$`, 'm'));
  }, 120_000);
});
