/**
 * `npm run topics` (infra/topics.ts) against the real local broker, run as the command it
 * is, with unique topic names through the environment: the first run creates the four
 * topics with the configured partitions, the second is a no-op, a run asking for more
 * partitions grows them and one asking for fewer says they keep theirs; `--help` prints
 * the usage and creates nothing, bad usage exits 2, an unreachable broker exits 1.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testKafka, uniqueName } from '../helpers/kafka';
import { runCommand } from './local-stack-support';

const run = promisify(execFile);
const repo = path.resolve(__dirname, '../..');
const tsx = path.join(repo, 'node_modules/.bin/tsx');

describe('npm run topics', () => {
  const prefix = uniqueName('sts-topics');
  const topics = {
    KAFKA_TOPIC_REQUESTS: `${prefix}-requests`,
    KAFKA_TOPIC_EVENTS: `${prefix}-events`,
    KAFKA_TOPIC_COMMANDS: `${prefix}-commands`,
    KAFKA_TOPIC_DLQ: `${prefix}-dlq`,
  };
  const names = Object.values(topics);
  let admin: Admin;

  const topicsProcess = (args: string[], env: Record<string, string> = {}) =>
    runCommand(process.execPath, ['--import', 'tsx', 'infra/topics.ts', ...args], {
      env: { ...process.env, ...topics, KAFKA_BROKERS: '127.0.0.1:9092', ...env },
      timeoutMs: 60_000,
    });

  const topicsCommand = (partitions = '4') =>
    run(tsx, ['infra/topics.ts'], {
      cwd: repo,
      timeout: 60_000,
      env: {
        ...process.env,
        ...topics,
        KAFKA_BROKERS: '127.0.0.1:9092',
        MSK_CLUSTER_ARN: '',
        KAFKA_AUTH: 'none',
        KAFKA_TOPIC_PARTITIONS: partitions,
        KAFKA_TOPIC_REPLICATION_FACTOR: '2',
      },
    });

  beforeAll(async () => {
    admin = testKafka('sts-topics-test').admin();
    await admin.connect();
  });

  afterAll(async () => {
    const present = new Set(await admin.listTopics());
    const mine = names.filter((t) => present.has(t));
    if (mine.length > 0) await admin.deleteTopics({ topics: mine, timeout: 10_000 });
    await admin.disconnect();
  });

  it('--help prints the usage, exits 0 and creates nothing; bad usage exits 2; no broker exits 1', async () => {
    // Act
    const help = await topicsProcess(['--help']);
    const bad = await topicsProcess(['--partitions', '3']);
    const down = await topicsProcess([], { KAFKA_BROKERS: '127.0.0.1:1', KAFKA_CONNECT_TIMEOUT_MS: '1000' });

    // Assess
    expect(help.code, help.out).toBe(0);
    expect(help.out).toMatch(/^usage: npm run topics\n/);
    const present = new Set(await admin.listTopics());
    expect(names.filter((t) => present.has(t))).toEqual([]);
    expect(bad.code, bad.out).toBe(2);
    expect(bad.out.trim()).toBe('[topics] unknown option --partitions; see npm run topics -- --help');
    expect(down.code, down.out).toBe(1);
    expect(down.out.trim().split('\n')).toEqual([expect.stringMatching(/^\[topics\] failed: .*127\.0\.0\.1:1/)]);
  }, 60_000);

  it('creates the four topics with the configured partitions, then finds them all there', async () => {
    // Prepare
    const before = new Set(await admin.listTopics());
    expect(names.filter((t) => before.has(t))).toEqual([]);

    // Act
    const first = await topicsCommand();

    // Assess
    expect(first.stdout).toContain(`[topics] created: ${names.join(', ')}; already there: none`);
    // One local broker: the factor of 2 is capped, and the command says so.
    expect(first.stdout).toContain('[topics] replication factor 2 capped at 1');
    const metadata = await admin.fetchTopicMetadata({ topics: names });
    expect(metadata.topics.map((t) => t.name).sort()).toEqual([...names].sort());
    for (const topic of metadata.topics) {
      expect(topic.partitions).toHaveLength(4);
      for (const partition of topic.partitions) expect(partition.replicas).toHaveLength(1);
    }

    // Act: again
    const second = await topicsCommand();

    // Assess: nothing created, the topics unchanged
    expect(second.stdout).toContain(`[topics] created: none; already there: ${names.join(', ')}`);
    const after = await admin.fetchTopicMetadata({ topics: names });
    expect(after.topics.map((t) => [t.name, t.partitions.length]).sort()).toEqual(names.map((n) => [n, 4]).sort());
  });

  it('grows the topics when asked for more partitions, and says they keep theirs when asked for fewer', async () => {
    // Act
    const grown = await topicsCommand('6');
    const lowered = await topicsCommand('2');

    // Assess
    expect(grown.stdout).toContain(`[topics] grown: ${names.map((n) => `${n} 4 -> 6`).join(', ')}`);
    expect(lowered.stdout).toContain(
      `[topics] asked for 2 partitions; Kafka cannot remove partitions, so these keep theirs: ${names.map((n) => `${n} (6)`).join(', ')}`,
    );
    const after = await admin.fetchTopicMetadata({ topics: names });
    expect(after.topics.map((t) => [t.name, t.partitions.length]).sort()).toEqual(names.map((n) => [n, 6]).sort());
  });
});
