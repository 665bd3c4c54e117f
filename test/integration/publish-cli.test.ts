/**
 * `npm run send` (infra/publish.ts) run as a process against the real broker:
 * - `--wait` reads the answer through a consumer group of its own, and that group must not
 *   outlive the command, whether the answer came or not (a developer's broker keeps no
 *   trace of a command line run); a command the service rejected exits 1;
 * - the command line contract (docs/http-api.md, "Command line tools"): `--help` exits 0 with the
 *   usage, bad usage exits 2 with one line naming the problem and a hint (an envelope
 *   field by its option, npm's swallowing of options without `--`), a failure exits 1
 *   (a topic that does not exist, at once).
 */
import type { Admin, Kafka, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopic, startReader, testConfig, testKafka, topicEnv, uniqueName, uniqueServiceTopics } from '../helpers/kafka';
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

function publish(args: string[], env: Record<string, string> = {}): ReturnType<typeof runCommand> {
  return runCommand(process.execPath, ['--import', 'tsx', 'infra/publish.ts', ...args], {
    env: { ...process.env, KAFKA_BROKERS: testConfig.kafka.brokers.join(','), ...topicEnv(topics), ...env },
    timeoutMs: 60_000,
  });
}

/** The lines a run printed, without blank ones. */
const linesOf = (out: string) => out.split('\n').filter((l) => l.trim() !== '');

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

describe('npm run send -- --wait', () => {
  it('prints the answer with its correlation id, then leaves no consumer group behind', async () => {
    // Prepare: a stand-in for the commands consumer answers every command on the events topic.
    const before = await cliGroups();
    const commands = await startReader(kafka, [topics.commands]);
    const correlationId = 'cli-answer-1';
    const answering = commands
      .waitForRecords((r) => r.headers.correlation_id === correlationId, 1, 30_000)
      .then(() =>
        producer.send({
          topic: topics.events,
          messages: [{ value: JSON.stringify({ event_type: 'time.now.processed' }), headers: { correlation_id: correlationId } }],
        }),
      );

    // Act
    const run = await publish([
      '--command',
      'time.now',
      '--payload',
      '{}',
      '--correlation-id',
      correlationId,
      '--wait',
      '--timeout',
      '20000',
    ]);
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

  it('exits 1 when the service answered that it rejected the command, and prints the answer', async () => {
    // Prepare: a stand-in for the commands consumer rejects every command.
    const commands = await startReader(kafka, [topics.commands]);
    const correlationId = 'cli-rejected-1';
    const rejecting = commands
      .waitForRecords((r) => r.headers.correlation_id === correlationId, 1, 30_000)
      .then(() =>
        producer.send({
          topic: topics.events,
          messages: [
            {
              value: JSON.stringify({ event_type: 'command.rejected', data: { reason: 'unknown_command' } }),
              headers: { correlation_id: correlationId },
            },
          ],
        }),
      );

    // Act
    const run = await publish(['--command', 'no.such.command', '--correlation-id', correlationId, '--wait', '--timeout', '20000']);
    await rejecting;
    await commands.stop();

    // Assess
    expect(run.code, run.out).toBe(1);
    expect(run.out).toContain('command.rejected');
    expect(linesOf(run.out).at(-1)).toMatch(/^\[send\] the service rejected the command: unknown_command/);
  }, 90_000);
});

describe('npm run send: the command line', () => {
  it('--help prints the usage and exits 0', async () => {
    const run = await publish(['--help']);
    expect(run.code, run.out).toBe(0);
    expect(run.out).toMatch(/^usage: npm run send -- /);
  }, 60_000);

  it('bad usage exits 2 with one line naming the problem and a hint, before it connects', async () => {
    for (const [args, problem] of [
      [
        ['--command', 'time.now', '--wait', '--timeout', 'soon'],
        /^\[send\] --timeout: a whole number of milliseconds from 100 to 600000, not "soon"; see npm run send -- --help$/,
      ],
      [['--type'], /^\[send\] --type needs a value; see npm run send -- --help$/],
      [['--type', 'x', '--colour', 'red'], /^\[send\] unknown option --colour; see npm run send -- --help$/],
      [[], /^\[send\] give --type <event_type> or --command <type>; see npm run send -- --help$/],
      [
        ['--type', 'bad type!'],
        /^\[send\] --type "bad type!": letters, digits and \. _ : - only, starting with a letter or digit; see npm run send -- --help$/,
      ],
      [['--type', 'x', '--id', 'not-a-uuid'], /^\[send\] --id "not-a-uuid": Invalid UUID; see npm run send -- --help$/],
      [['--type', 'x', '--data', '[1]'], /^\[send\] --data must be a JSON object; see npm run send -- --help$/],
    ] as Array<[string[], RegExp]>) {
      const run = await publish(args, { KAFKA_BROKERS: '127.0.0.1:1' });
      expect(run.code, `${args.join(' ')}: ${run.out}`).toBe(2);
      expect(linesOf(run.out), args.join(' ')).toEqual([expect.stringMatching(problem)]);
    }
  }, 120_000);

  it('says to put -- before the options when npm took them for itself', async () => {
    // `npm run send --type test_event` hands --type to npm (npm_config_type=true) and test_event to the tool.
    const run = await publish(['test_event'], { npm_config_type: 'true', KAFKA_BROKERS: '127.0.0.1:1' });
    expect(run.code, run.out).toBe(2);
    expect(linesOf(run.out)).toEqual([
      '[send] unexpected argument "test_event"; npm took --type for itself: put -- before the tool\'s options (npm run send -- --type …)',
    ]);
  }, 60_000);

  it('a topic that does not exist fails at once with exit code 1, naming it', async () => {
    const missing = uniqueName('no-such-topic');
    const run = await publish(['--type', 'test_event', '--topic', missing]);
    expect(run.code, run.out).toBe(1);
    expect(linesOf(run.out)).toEqual([`[send] no topic ${missing} on 127.0.0.1:9092 (npm run topics creates the service's topics)`]);
    expect(run.ms).toBeLessThan(10_000);
  }, 60_000);

  it("is npm run send, and npm run publish (npm publish's name) is no script of this package", async () => {
    const send = await runCommand('npm', ['run', '--silent', 'send', '--', '--help'], { env: { ...process.env }, timeoutMs: 60_000 });
    const old = await runCommand('npm', ['run', 'publish'], { env: { ...process.env }, timeoutMs: 60_000 });
    expect(send.code, send.out).toBe(0);
    expect(send.out).toMatch(/^usage: npm run send -- /);
    expect(old.code).not.toBe(0);
    expect(old.out).toContain('Missing script: "publish"');
  }, 120_000);
});
