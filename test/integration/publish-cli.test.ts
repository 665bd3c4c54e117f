/**
 * `npm run publish -- --wait` against the real broker: it reads the answer through a
 * consumer group of its own, and that group must not outlive the command, whether the
 * answer came or not (a developer's broker keeps no trace of a command line run).
 */
import type { Admin, Kafka, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopic, startReader, testConfig, testKafka, topicEnv, uniqueServiceTopics } from '../helpers/kafka';
import { runCommand } from './local-stack-support';

const CLI_GROUP_PREFIX = 'simple-time-service-cli-';

let kafka: Kafka;
let admin: Admin;
let producer: Producer;
const topics = uniqueServiceTopics('publish-cli');

async function cliGroups(): Promise<Set<string>> {
  const { groups } = await admin.listGroups();
  return new Set(groups.map((g) => g.groupId).filter((id) => id.startsWith(CLI_GROUP_PREFIX)));
}

function publish(args: string[]): ReturnType<typeof runCommand> {
  return runCommand(process.execPath, ['--import', 'tsx', 'infra/publish.ts', ...args], {
    env: { ...process.env, KAFKA_BROKERS: testConfig.kafka.brokers.join(','), ...topicEnv(topics) },
    timeoutMs: 60_000,
  });
}

beforeAll(async () => {
  kafka = testKafka('publish-cli-test');
  admin = kafka.admin();
  await admin.connect();
  for (const topic of Object.values(topics)) await createTopic(admin, topic, 1);
  producer = kafka.producer();
  await producer.connect();
}, 60_000);

afterAll(async () => {
  await producer?.disconnect();
  await admin?.disconnect();
});

describe('npm run publish -- --wait', () => {
  it('prints the answer with its correlation id, then leaves no consumer group behind', async () => {
    // Prepare: a stand-in for the commands consumer answers every command on the events topic.
    const before = await cliGroups();
    const commands = await startReader(kafka, [topics.commands]);
    const correlationId = 'cli-answer-1';
    const answering = commands.waitForRecords((r) => r.headers.correlation_id === correlationId, 1, 30_000).then(() =>
      producer.send({
        topic: topics.events,
        messages: [{ value: JSON.stringify({ event_type: 'time.now.processed' }), headers: { correlation_id: correlationId } }],
      }),
    );

    // Act
    const run = await publish(['--command', 'time.now', '--payload', '{}', '--correlation-id', correlationId, '--wait', '--timeout', '20000']);
    await answering;
    await commands.stop();

    // Assess
    expect(run.code, run.out).toBe(0);
    expect(run.out).toContain('"answer"');
    expect(run.out).toContain('time.now.processed');
    const left = [...(await cliGroups())].filter((g) => !before.has(g));
    expect(left).toEqual([]);
  }, 90_000);

  it('gives up after --timeout without an answer, exit code 1, and leaves no consumer group behind', async () => {
    // Prepare
    const before = await cliGroups();

    // Act
    const run = await publish(['--command', 'time.now', '--payload', '{}', '--wait', '--timeout', '2000']);

    // Assess
    expect(run.code, run.out).toBe(1);
    expect(run.out).toMatch(/no answer with correlation_id \S+ within 2000 ms/);
    const left = [...(await cliGroups())].filter((g) => !before.has(g));
    expect(left).toEqual([]);
  }, 90_000);

  it('refuses a --timeout that is not a whole number of milliseconds, before it connects', async () => {
    const run = await publish(['--command', 'time.now', '--payload', '{}', '--wait', '--timeout', 'soon']);
    expect(run.code, run.out).toBe(1);
    expect(run.out).toContain('--timeout: an integer from 100 to 600000 (milliseconds)');
  }, 60_000);
});
