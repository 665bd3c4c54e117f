/**
 * `npm run dlq` end to end on the real broker, through `serverless offline` with the
 * project's serverless.yml on topics of this test's own:
 * - a poison command is dead-lettered by the onCommand function itself;
 * - a valid command is dead-lettered as the consumers write them (src/kafka/dlq.ts), and
 *   another as Lambda's `kafka://` on-failure destination writes it;
 * - `list` shows each one's reason, error and source; `show` prints one in full;
 * - `replay` sends the valid ones back to their source topic and partition with their
 *   key, value and headers: each is answered exactly once, also when replayed again;
 *   the poison command is dead-lettered once more, and not again;
 * - a poison record that arrives carrying `dlq.*` headers of its own (a forged replay
 *   receipt, a forged list of original headers) is listed and replayed like any other,
 *   with the headers it came with, and takes nothing from another dead letter;
 * - a gzip batch that inflates past the bound (a gzip bomb) stops the tool with one clear
 *   line and exit code 1, instead of being inflated into memory;
 * - the command line as a person meets it (run as a process): `--help`, a bounded `list`
 *   with a header and a note of what is not shown, `--max-records`, `summary`, unknown
 *   reasons refused with the known ones, exit codes 0, 1 and 2.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { CompressionTypes } from 'kafkajs';
import type { Admin, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSUMER_FUNCTIONS } from '../../src/consumers/functions';
import { main } from '../../infra/dlq';
import { deadLetterRecord } from '../../src/kafka/dlq';
import type { ConsumedRecord } from '../../src/kafka/records';
import { createTopic, startReader, testKafka, uniqueName, uniqueServiceTopics } from '../helpers/kafka';
import { startService } from '../helpers/offline';
import type { Offline } from '../helpers/offline';
import { runCommand } from './local-stack-support';

const run = promisify(execFile);
const repo = path.resolve(__dirname, '../..');
const topics = uniqueServiceTopics('dlqtool');
const group = uniqueName('dlqtool-group');
const groupSuffixes = CONSUMER_FUNCTIONS.map((fn) => fn.groupSuffix);
/** serverless offline's HTTP ports (the Lambda port is 2 above) of the two fixtures. */
const REPLAY_PORT = 25010;
const FORGED_PORT = 25020;

function command(correlationId: string): string {
  return JSON.stringify({
    type: 'time.now',
    correlation_id: correlationId,
    timestamp: new Date().toISOString(),
    payload: { format: 'iso' },
    source: 'dlq-test',
  });
}

/** `npm run dlq -- <args>` in this process, on a dead-letter topic; its output lines. */
async function dlqOn(dlqTopic: string, args: string[]): Promise<string[]> {
  const lines: string[] = [];
  await main([...args, '--topic', dlqTopic, '--timeout-ms', '30000'], (line) => lines.push(line));
  return lines;
}

const dlq = (...args: string[]) => dlqOn(topics.dlq, args);

/** The service under `serverless offline` on topics of its own, a producer and a reader of `read`. */
interface Fixture {
  admin: Admin;
  producer: Producer;
  reader: Awaited<ReturnType<typeof startReader>>;
  offline: Offline;
}

async function startFixture(name: string, own: typeof topics, ownGroup: string, httpPort: number, read: string[]): Promise<Fixture> {
  const admin = testKafka(`sts-${name}-admin`).admin();
  await admin.connect();
  for (const topic of Object.values(own)) await createTopic(admin, topic, 3);
  const producer = testKafka(`sts-${name}-producer`).producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const reader = await startReader(testKafka(`sts-${name}-reader`), read);
  const offline = await startService({ httpPort, lambdaPort: httpPort + 2, topics: own, group: ownGroup });
  return { admin, producer, reader, offline };
}

async function stopFixture(fixture: Partial<Fixture>, own: typeof topics, ownGroup: string): Promise<void> {
  await fixture.offline?.stop();
  await fixture.reader?.stop();
  await fixture.producer?.disconnect();
  if (fixture.admin) {
    await fixture.admin.deleteTopics({ topics: Object.values(own), timeout: 10_000 }).catch(() => undefined);
    await fixture.admin.deleteGroups(groupSuffixes.map((suffix) => `${ownGroup}-${suffix}`)).catch(() => undefined);
    await fixture.admin.disconnect();
  }
}

describe('npm run dlq on the local broker', () => {
  let admin: Admin;
  let producer: Producer;
  let offline: Offline;
  let reader: Awaited<ReturnType<typeof startReader>>;
  const poisonKey = uniqueName('poison');
  const serviceId = uniqueName('service-dead-letter');
  const lambdaId = uniqueName('lambda-dead-letter');

  const answers = (correlationId: string) =>
    reader.records.filter((r) => r.topic === topics.events && r.headers.correlation_id === correlationId);

  beforeAll(async () => {
    ({ admin, producer, reader, offline } = await startFixture('dlq', topics, group, REPLAY_PORT, [
      topics.events,
      topics.dlq,
      topics.commands,
    ]));

    // A poison command, dead-lettered by onCommand.
    await producer.send({
      topic: topics.commands,
      messages: [{ partition: 1, key: poisonKey, value: 'not a command at all', headers: { trace: 'p-1' } }],
    });
    // A valid command that a consumer gave up on earlier, written the way the consumers write it.
    const failed: ConsumedRecord = {
      topic: topics.commands,
      partition: 2,
      offset: '0',
      timestamp: Date.now() - 60_000,
      timestampType: 'CREATE_TIME',
      key: Buffer.from(`key-${serviceId}`),
      value: Buffer.from(command(serviceId)),
      headers: [{ name: 'trace', value: Buffer.from('s-1') }],
    };
    const written = deadLetterRecord({
      record: failed,
      reason: 'handler_error',
      error: 'the time service was down',
      topic: topics.dlq,
      consumer: 'onCommand',
    });
    await producer.send({ topic: topics.dlq, messages: [{ key: written.key, value: written.value, headers: written.headers }] });
    // And one Lambda's on-failure destination wrote after its retries (its documented format).
    const lambdaPayload = {
      requestContext: {
        requestId: 'r-1',
        functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:onCommand',
        condition: 'RetriesExhausted',
        approximateInvokeCount: 11,
      },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      version: '1.0',
      timestamp: new Date().toISOString(),
      payload: {
        eventSource: 'aws:kafka',
        eventSourceArn: 'arn:aws:kafka:us-east-1:123456789012:cluster/c/u',
        bootstrapServers: '127.0.0.1:9092',
        records: {
          [`${topics.commands}-0`]: [
            {
              topic: topics.commands,
              partition: 0,
              offset: 0,
              timestamp: Date.now(),
              timestampType: 'CREATE_TIME',
              key: Buffer.from(`key-${lambdaId}`).toString('base64'),
              value: Buffer.from(command(lambdaId)).toString('base64'),
              headers: [{ trace: [...Buffer.from('l-1')] }],
            },
          ],
        },
      },
    };
    await producer.send({ topic: topics.dlq, messages: [{ key: `key-${lambdaId}`, value: JSON.stringify(lambdaPayload) }] });
    await reader.waitForRecords((r) => r.topic === topics.dlq && r.key === poisonKey, 1, 60_000);
  }, 240_000);

  afterAll(() => stopFixture({ admin, producer, reader, offline }, topics, group), 60_000);

  it('lists every dead letter with its reason, error, source and state', async () => {
    // Act
    const lines = (await dlq('list', '--json')).map(
      (l) =>
        JSON.parse(l) as {
          reason: string;
          error: string;
          format: string;
          source: Array<{ topic: string; partition: number }>;
          replayed: boolean;
          consumer: string | null;
        },
    );

    // Assess
    expect(lines).toHaveLength(3);
    const poison = lines.find((l) => l.format === 'service' && l.reason !== 'handler_error');
    expect(poison).toMatchObject({ reason: 'not_json', replayed: false, source: [{ topic: topics.commands, partition: 1 }] });
    expect(poison?.consumer).toMatch(/onCommand/);
    expect(lines.find((l) => l.reason === 'handler_error')).toMatchObject({
      error: 'the time service was down',
      source: [{ topic: topics.commands, partition: 2 }],
    });
    expect(lines.find((l) => l.format === 'lambda')).toMatchObject({
      reason: 'RetriesExhausted',
      error: 'Unhandled, status 200',
      source: [{ topic: topics.commands, partition: 0 }],
    });
  });

  it('shows one dead letter in full, as `npm run dlq` prints it', async () => {
    // Prepare
    const [poison] = await dlq('list', '--json', '--reason', 'not_json');
    const at = (JSON.parse(poison!) as { dead_letter: string }).dead_letter;

    // Act: the real command line, in its own process
    const { stdout } = await run('npm', ['run', '--silent', 'dlq', '--', 'show', at, '--topic', topics.dlq, '--timeout-ms', '30000'], {
      cwd: repo,
      timeout: 60_000,
      env: { ...process.env, KAFKA_BROKERS: '127.0.0.1:9092' },
    });

    // Assess
    const shown = JSON.parse(stdout) as { records: Array<{ key: string; value: string; headers: string[][] }> };
    expect(shown.records).toEqual([
      {
        topic: topics.commands,
        partition: 1,
        offset: expect.any(String) as unknown,
        key: poisonKey,
        value: 'not a command at all',
        headers: [['trace', 'p-1']],
      },
    ]);
  });

  it('replays by reason: the command is answered once, with its original key and headers', async () => {
    // Act
    const out = await dlq('replay', '--reason', 'handler_error');

    // Assess
    expect(out.at(-1)).toBe('1 replayed, 0 already replayed');
    const [back] = await reader.waitForRecords((r) => r.topic === topics.commands && r.key === `key-${serviceId}`, 1, 10_000);
    expect(back).toMatchObject({ partition: 2, headers: { trace: 's-1' } });
    const [answer] = await reader.waitForRecords((r) => r.topic === topics.events && r.headers.correlation_id === serviceId, 1, 30_000);
    expect(answer?.key).toBe(`key-${serviceId}`);
  });

  it('replays by source topic: skips what was replayed, answers the Lambda one once, dead-letters the poison once more', async () => {
    // Act
    const out = await dlq('replay', '--source-topic', topics.commands);

    // Assess
    expect(out.at(-1)).toBe('2 replayed, 1 already replayed');
    await reader.waitForRecords((r) => r.topic === topics.events && r.headers.correlation_id === lambdaId, 1, 30_000);
    await reader.waitForRecords((r) => r.topic === topics.dlq && r.key === poisonKey, 2, 30_000);
  });

  it('replays nothing twice: a second run and an offset replay of replayed dead letters send nothing, and each command was answered once', async () => {
    // Prepare: the three original dead letters (the poison's second one is not selected)
    const listed = (await dlq('list', '--json')).map((l) => JSON.parse(l) as { dead_letter: string; replayed: boolean; reason: string });
    const originals = listed.filter((l) => l.replayed);
    expect(originals).toHaveLength(3);

    // Act
    const again = await dlq('replay', '--reason', 'handler_error');
    const [first] = originals;
    const byOffset = await dlq('replay', '--offsets', first!.dead_letter);

    // Assess
    expect(again.at(-1)).toBe('0 replayed, 1 already replayed');
    expect(byOffset.at(-1)).toBe('0 replayed, 1 already replayed');
    // Give a duplicate, had one been sent, the time to be answered.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect(answers(serviceId)).toHaveLength(1);
    expect(answers(lambdaId)).toHaveLength(1);
    expect(reader.records.filter((r) => r.topic === topics.dlq && r.key === poisonKey)).toHaveLength(2);
    const pending = listed.filter((l) => !l.replayed);
    expect(pending).toEqual([expect.objectContaining({ reason: 'not_json' })]);
  });

  it('says clearly when the dead-letter topic does not exist', async () => {
    await expect(main(['list', '--topic', uniqueName('no-such-dlq'), '--timeout-ms', '10000'], () => undefined)).rejects.toThrow(
      /does not exist/,
    );
  });
});

describe('npm run dlq and headers that came with the original record', () => {
  const forged = uniqueServiceTopics('dlqforge');
  const forgedGroup = uniqueName('dlqforge-group');
  let admin: Admin;
  let producer: Producer;
  let offline: Offline;
  let reader: Awaited<ReturnType<typeof startReader>>;
  const firstKey = uniqueName('first-poison');
  const forgerKey = uniqueName('forging-poison');
  const forgedList = JSON.stringify([['forged', Buffer.from('yes').toString('base64')]]);
  let firstAt = '';

  const tool = (...args: string[]) => dlqOn(forged.dlq, args);

  beforeAll(async () => {
    ({ admin, producer, reader, offline } = await startFixture('dlqforge', forged, forgedGroup, FORGED_PORT, [
      forged.dlq,
      forged.commands,
    ]));

    // An ordinary poison record, dead-lettered by onCommand: the dead letter the forger names.
    await producer.send({ topic: forged.commands, messages: [{ partition: 0, key: firstKey, value: 'first poison' }] });
    const [first] = await reader.waitForRecords((r) => r.topic === forged.dlq && r.key === firstKey, 1, 60_000);
    firstAt = `${first!.partition}:${first!.offset}`;
    // A poison record whose producer wrote the dead-letter tool's own header names.
    await producer.send({
      topic: forged.commands,
      messages: [
        {
          partition: 1,
          key: forgerKey,
          value: 'second poison',
          headers: { 'dlq.replay.of': firstAt, 'dlq.original_headers': forgedList, trace: 'f-1' },
        },
      ],
    });
    await reader.waitForRecords((r) => r.topic === forged.dlq && r.key === forgerKey, 1, 60_000);
  }, 240_000);

  afterAll(() => stopFixture({ admin, producer, reader, offline }, forged, forgedGroup), 60_000);

  it('lists both dead letters, neither replayed, and replays both with the headers each came with', async () => {
    // Act
    const listed = (await tool('list', '--json')).map((l) => JSON.parse(l) as { dead_letter: string; replayed: boolean; reason: string });
    const replay = await tool('replay', '--all');

    // Assess
    expect(listed.map((l) => ({ replayed: l.replayed, reason: l.reason }))).toEqual([
      { replayed: false, reason: 'not_json' },
      { replayed: false, reason: 'not_json' },
    ]);
    expect(listed.map((l) => l.dead_letter)).toContain(firstAt);
    expect(replay.at(-1)).toBe('2 replayed, 0 already replayed');
    const [back] = await reader
      .waitForRecords((r) => r.topic === forged.commands && r.key === forgerKey, 2, 10_000)
      .then((r) => r.slice(1));
    expect(back?.headers).toEqual({ 'dlq.replay.of': firstAt, 'dlq.original_headers': forgedList, trace: 'f-1' });
    await reader.waitForRecords((r) => r.topic === forged.commands && r.key === firstKey, 2, 10_000);
  });
});

describe('npm run dlq and a gzip bomb', () => {
  const bombTopic = uniqueName('dlq-gzip-bomb');
  let admin: Admin;

  beforeAll(async () => {
    admin = testKafka('sts-dlq-bomb-admin').admin();
    await admin.connect();
    await createTopic(admin, bombTopic, 1);
  }, 60_000);

  afterAll(async () => {
    await admin?.deleteTopics({ topics: [bombTopic], timeout: 10_000 }).catch(() => undefined);
    await admin?.disconnect();
  }, 60_000);

  it('refuses a batch that inflates past its bound: exit code 1 and one line naming the bound', async () => {
    // Prepare: one gzip batch of 48 records of 1 MiB of zeros (about 50 KB on the wire, 48 MiB inflated).
    const producer = testKafka('sts-dlq-bomb-producer').producer();
    await producer.connect();
    const zeros = Buffer.alloc(1024 * 1024);
    try {
      await producer.send({
        topic: bombTopic,
        compression: CompressionTypes.GZIP,
        messages: Array.from({ length: 48 }, () => ({ value: zeros })),
      });
    } finally {
      await producer.disconnect();
    }

    // Act: the real command line, in its own process
    const run = await runCommand(
      process.execPath,
      ['--import', 'tsx', 'infra/dlq.ts', 'list', '--topic', bombTopic, '--timeout-ms', '30000'],
      {
        env: { ...process.env, KAFKA_BROKERS: '127.0.0.1:9092' },
        timeoutMs: 90_000,
      },
    );

    // Assess
    expect(run.code, run.out).toBe(1);
    expect(run.out).toMatch(/^\[dlq\] .*inflates to more than 33554432 bytes; refused/m);
  }, 120_000);
});

describe('npm run dlq: the command line', () => {
  const cliDlq = uniqueName('dlq-cli');
  let admin: Admin;
  const env = { ...process.env, KAFKA_BROKERS: '127.0.0.1:9092' };
  const tool = (...args: string[]) =>
    runCommand(process.execPath, ['--import', 'tsx', 'infra/dlq.ts', ...args], { env, timeoutMs: 90_000 });
  const lines = (out: string) => out.split('\n').filter((l) => l.trim() !== '');

  beforeAll(async () => {
    // 60 dead letters as the consumers write them (55 not_json from one topic, 5
    // handler_error from another) and one replay receipt, on one partition.
    admin = testKafka('sts-dlq-cli-admin').admin();
    await admin.connect();
    await createTopic(admin, cliDlq, 1);
    const producer = testKafka('sts-dlq-cli-producer').producer();
    await producer.connect();
    const letter = (i: number) => {
      const [topic, reason] = i < 55 ? (['cli-source-commands', 'not_json'] as const) : (['cli-source-events', 'handler_error'] as const);
      const source: ConsumedRecord = {
        topic,
        partition: 0,
        offset: String(i),
        timestamp: Date.now(),
        timestampType: 'CREATE_TIME',
        key: null,
        value: Buffer.from(`poison ${i}`),
        headers: [],
      };
      const written = deadLetterRecord({ record: source, reason, error: `error ${i}`, topic: cliDlq, consumer: 'onCommand' });
      return { key: written.key, value: written.value, headers: written.headers };
    };
    await producer.send({ topic: cliDlq, messages: Array.from({ length: 60 }, (_, i) => letter(i)) });
    await producer.send({ topic: cliDlq, messages: [{ key: '0:0', value: '{}', headers: { 'dlq.replay.of': '0:0' } }] });
    await producer.disconnect();
  }, 60_000);

  afterAll(async () => {
    await admin?.deleteTopics({ topics: [cliDlq], timeout: 10_000 }).catch(() => undefined);
    await admin?.disconnect();
  }, 60_000);

  it('--help prints the usage and exits 0', async () => {
    const run = await tool('--help');
    expect(run.code, run.out).toBe(0);
    expect(run.out).toMatch(/^usage: npm run dlq -- list/);
    expect(run.out).toContain('summary');
  }, 60_000);

  it('list shows a header, the 50 newest, and how many more there are', async () => {
    // Act
    const run = await tool('list', '--topic', cliDlq);
    const all = await tool('list', '--topic', cliDlq, '--limit', 'all');

    // Assess
    expect(run.code, run.out).toBe(0);
    const out = lines(run.out);
    expect(out[0]).toMatch(/^DEAD LETTER +DEAD-LETTERED AT +REASON +SOURCE +STATE +ERROR$/);
    expect(out).toHaveLength(1 + 50 + 1);
    expect(out[1]).toMatch(/^0:10 /);
    expect(out.at(-1)).toBe(`60 dead letters in ${cliDlq}: the 50 newest shown, 10 more (--limit <n>, or --limit all)`);
    expect(lines(all.out)).toHaveLength(1 + 60 + 1);
    expect(lines(all.out).at(-1)).toBe(`60 dead letters in ${cliDlq}`);
  }, 120_000);

  it('--max-records 5 reads the first 5 and says what it left unread', async () => {
    const run = await tool('list', '--topic', cliDlq, '--max-records', '5');
    expect(run.code, run.out).toBe(0);
    const out = lines(run.out);
    expect(out).toHaveLength(1 + 5 + 1);
    expect(out.at(-1)).toBe(`5 dead letters in ${cliDlq}, of the first 5 records read; 56 more records not read (--max-records)`);
  }, 60_000);

  it('refuses an unknown reason, listing the known ones (exit 2)', async () => {
    const run = await tool('list', '--topic', cliDlq, '--reason', 'bogus');
    expect(run.code, run.out).toBe(2);
    expect(lines(run.out)).toEqual([
      expect.stringMatching(
        /^\[dlq\] --reason bogus: no such reason; known: empty_value, not_utf8, not_json, .*handler_error, RetriesExhausted, RecordAgeExceeded, unknown$/,
      ),
    ]);
  }, 60_000);

  it('summary counts dead letters by reason and source, and by age', async () => {
    const run = await tool('summary', '--topic', cliDlq);
    expect(run.code, run.out).toBe(0);
    const out = lines(run.out);
    expect(out[0]).toBe(`60 dead letters in ${cliDlq}: 59 pending, 1 replayed`);
    expect(out).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^REASON +SOURCE TOPIC +PENDING +REPLAYED$/),
        expect.stringMatching(/^not_json +cli-source-commands +54 +1$/),
        expect.stringMatching(/^handler_error +cli-source-events +5 +0$/),
        expect.stringMatching(/^DEAD-LETTERED +PENDING +REPLAYED$/),
        expect.stringMatching(/^in the last hour +59 +1$/),
      ]),
    );
  }, 60_000);

  it('bad usage exits 2 with one line; what fails while running exits 1', async () => {
    for (const [args, code, line] of [
      [['purge'], 2, /^\[dlq\] unknown command "purge" \(list, summary, show, replay\); see npm run dlq -- --help$/],
      [['list', '--since', 'x'], 2, /^\[dlq\] unknown option --since; see npm run dlq -- --help$/],
      [
        ['replay', '--topic', cliDlq],
        2,
        /^\[dlq\] replay needs a selection \(--offsets, --reason, --source-topic\) or --all; see npm run dlq -- --help$/,
      ],
      [['list', '--limit', 'none'], 2, /^\[dlq\] --limit: a positive whole number or all, not "none"; see npm run dlq -- --help$/],
      [['show', '0:999', '--topic', cliDlq], 1, /^\[dlq\] no dead letter at 0:999 in dlq-cli-/],
      [['list', '--topic', `${cliDlq}-missing`], 1, /^\[dlq\] the topic dlq-cli-.*-missing does not exist$/],
      [
        ['replay', '--all', '--dry-run', '--topic', cliDlq, '--max-records', '5'],
        1,
        /^\[dlq\] replay reads the whole topic \(its receipts\): 56 records not read; raise --max-records to at least 61$/,
      ],
    ] as Array<[string[], number, RegExp]>) {
      const run = await tool(...args);
      expect(run.code, `${args.join(' ')}: ${run.out}`).toBe(code);
      expect(lines(run.out), args.join(' ')).toEqual([expect.stringMatching(line)]);
    }
  }, 180_000);
});
