/**
 * The local MSK event source end to end: `serverless offline start` on its own ports with
 * test/fixtures/service/serverless.yml, records produced with kafkajs to the real local
 * broker, and the tiny test functions writing what they received to files. Besides the
 * event, batching, filters and retries: another member joining the group while a batch is
 * in flight, a poison record on one partition while records arrive on another, retries
 * exhausted and a record too old (found on the destination topic in AWS's format), values
 * that are not UTF-8, tombstones and JSON scalars against filters, and an SQS destination.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Admin, Consumer, Producer, ProducerRecord } from 'kafkajs';
import type { KafkaEvent } from '../../src/event';
import { brokers as testBrokers, createTopic, decodeKafkaEvent, packageRoot, testKafka, uniqueName, waitFor } from './support';

const serviceDir = path.resolve(__dirname, '../fixtures/service');
const serverlessBin = path.join(packageRoot('serverless'), 'bin/serverless.js');
const brokers = testBrokers.join(',');
const ARN = 'arn:aws:kafka:us-east-1:123456789012:cluster/local/11111111-2222-3333-4444-555555555555-1';

const fixture = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(path.resolve(__dirname, '../fixtures', name), 'utf8')) as Record<string, unknown>;

interface Invocation {
  at: number;
  released?: boolean;
  event: KafkaEvent;
}

describe('serverless offline with the local MSK event source', () => {
  const kafka = testKafka('sts-offline-msk-test');
  const out = mkdtempSync(path.join(os.tmpdir(), 'offline-msk-'));
  const prefix = uniqueName('offline-msk');
  const topics = {
    T_SHAPE: `${prefix}-shape`,
    T_BATCH: `${prefix}-batch`,
    T_WINDOW: `${prefix}-window`,
    T_ATTIME: `${prefix}-attime`,
    T_FILTER: `${prefix}-filter`,
    T_FAIL: `${prefix}-fail`,
    T_PARTIAL: `${prefix}-partial`,
    T_ORDER: `${prefix}-order`,
    T_MEMBER: `${prefix}-member`,
    T_POISON: `${prefix}-poison`,
    T_EXHAUST: `${prefix}-exhaust`,
    T_AGED: `${prefix}-aged`,
    T_SCALARS: `${prefix}-scalars`,
    T_SQS: `${prefix}-sqs`,
    T_DEAD: `${prefix}-dead`,
    T_SLOW: `${prefix}-slow`,
  };
  const partitions: Partial<Record<keyof typeof topics, number>> = { T_ORDER: 3, T_MEMBER: 3, T_POISON: 2 };
  const groups = [
    'shape',
    'selfmanaged',
    'batch',
    'attime',
    'window',
    'filter',
    'fail',
    'partial',
    'order',
    'member',
    'poison',
    'exhaust',
    'aged',
    'scalars',
    'tosqs',
    'slow',
    'dead-reader',
  ].map((g) => `${prefix}-${g}`);
  let admin: Admin;
  let producer: Producer;
  let deadReader: Consumer | undefined;
  const deadLetters: Array<{ key: string | null; value: Record<string, unknown> }> = [];
  /** A send retried while the new topic's leader settles (bounded). */
  const send = (record: ProducerRecord) =>
    waitFor(() => producer.send({ acks: -1, ...record }), { timeoutMs: 15_000, what: `a send to ${record.topic}` });
  let offline: ChildProcess | undefined;
  let logs = '';
  let exitCode: number | null | undefined;

  const invocations = (fn: string): Invocation[] => {
    const file = path.join(out, `${fn}.jsonl`);
    if (!existsSync(file)) return [];
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => JSON.parse(l) as Invocation);
  };
  const received = (fn: string) => invocations(fn).flatMap((i) => decodeKafkaEvent(i.event).records);
  const committedOffsets = async (groupId: string, topic: string) => {
    const [result] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return Object.fromEntries((result?.partitions ?? []).map((p) => [p.partition, p.offset]));
  };

  beforeAll(async () => {
    admin = kafka.admin();
    await admin.connect();
    await Promise.all(
      Object.entries(topics)
        .filter(([name]) => name !== 'T_ATTIME')
        .map(([name, topic]) => createTopic(admin, topic, partitions[name as keyof typeof topics] ?? 1)),
    );
    // The AT_TIMESTAMP records are stamped 2020-2023: with the broker's retention (a day,
    // checked every minute) their segment would be deleted before they are read. This
    // topic keeps its records whatever their age.
    await admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic: topics.T_ATTIME, numPartitions: 1, replicationFactor: 1, configEntries: [{ name: 'retention.ms', value: '-1' }] }],
    });
    producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    // Produced before offline starts: TRIM_HORIZON must deliver them, LATEST must not.
    await send({ topic: topics.T_BATCH, messages: Array.from({ length: 12 }, (_, i) => ({ key: `k${i}`, value: JSON.stringify({ i }) })) });
    await send({ topic: topics.T_WINDOW, messages: [{ value: JSON.stringify({ old: true }) }] });
    // AT_TIMESTAMP 1650000000 s: the records stamped before it are skipped, the ones at or after it delivered.
    await send({
      topic: topics.T_ATTIME,
      messages: [
        { value: 'before-1', timestamp: '1600000000000' },
        { value: 'before-2', timestamp: '1649999999999' },
        { value: 'at', timestamp: '1650000000000' },
        { value: 'after', timestamp: '1700000000000' },
      ],
    });
    // What Lambda writes to the on-failure destination topic.
    deadReader = kafka.consumer({ groupId: `${prefix}-dead-reader`, maxWaitTimeInMs: 100 });
    await deadReader.connect();
    await deadReader.subscribe({ topics: [topics.T_DEAD], fromBeginning: true });
    await deadReader.run({
      eachMessage: ({ message }) => {
        deadLetters.push({ key: message.key?.toString() ?? null, value: JSON.parse(message.value!.toString()) as Record<string, unknown> });
        return Promise.resolve();
      },
    });

    offline = spawn(process.execPath, [serverlessBin, 'offline', 'start'], {
      cwd: serviceDir,
      env: {
        ...process.env,
        ...topics,
        G_PREFIX: prefix,
        OFFLINE_MSK_OUT: out,
        KAFKA_BROKERS: brokers,
        HTTP_PORT: '21100',
        LAMBDA_PORT: '21102',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    offline.stdout?.on('data', (d: Buffer) => (logs += d.toString()));
    offline.stderr?.on('data', (d: Buffer) => (logs += d.toString()));
    offline.once('exit', (code) => (exitCode = code));
    await waitFor(() => (logs.includes('event source mapping(s) running') ? true : undefined), {
      timeoutMs: 90_000,
      intervalMs: 200,
      what: `serverless offline with the offline-msk plugin to start; output so far:\n${logs}`,
    }).catch((error: Error) => {
      throw new Error(`${error.message}\n${logs}`);
    });
  }, 120_000);

  afterAll(async () => {
    if (offline && exitCode === undefined) {
      offline.kill('SIGKILL');
    }
    await deadReader?.disconnect();
    await producer?.disconnect();
    await admin?.deleteGroups(groups).catch(() => undefined);
    await admin?.deleteTopics({ topics: Object.values(topics) }).catch(() => undefined);
    await admin?.disconnect();
    rmSync(out, { recursive: true, force: true });
  });

  it('sends the function exactly the MSK event AWS sends, field by field', async () => {
    // Prepare
    const expected = fixture('msk-event.json');
    const expectedRecord = Object.values(expected.records as Record<string, Array<Record<string, unknown>>>)[0]![0]!;
    const timestamp = Date.now() - 1234;

    // Act
    const [ack] = await send({
      topic: topics.T_SHAPE,
      messages: [
        {
          key: Buffer.from([0, 1, 2, 250]),
          value: JSON.stringify({ event_type: 'shape', n: 1 }),
          timestamp: String(timestamp),
          headers: { headerKey: 'headerValue', bin: Buffer.from([0, 255]) },
        },
      ],
    });
    const [invocation] = await waitFor(() => (invocations('shape').length > 0 ? invocations('shape') : undefined));

    // Assess
    const event = invocation!.event as unknown as Record<string, unknown>;
    expect(Object.keys(event)).toEqual(Object.keys(expected));
    expect(event.eventSource).toBe('aws:kafka');
    expect(event.eventSourceArn).toBe(ARN);
    expect(event.bootstrapServers).toBe(brokers);
    const records = event.records as Record<string, Array<Record<string, unknown>>>;
    expect(Object.keys(records)).toEqual([`${topics.T_SHAPE}-0`]);
    const record = records[`${topics.T_SHAPE}-0`]![0]!;
    expect(Object.keys(record)).toEqual(Object.keys(expectedRecord));
    for (const field of Object.keys(expectedRecord)) expect(typeof record[field], field).toBe(typeof expectedRecord[field]);
    expect(record).toEqual({
      topic: topics.T_SHAPE,
      partition: 0,
      offset: Number(ack!.baseOffset),
      timestamp,
      timestampType: 'CREATE_TIME',
      key: Buffer.from([0, 1, 2, 250]).toString('base64'),
      value: Buffer.from(JSON.stringify({ event_type: 'shape', n: 1 })).toString('base64'),
      headers: [{ headerKey: [...Buffer.from('headerValue')] }, { bin: [0, 255] }],
    });
  });

  it('sends the self-managed Kafka event for a kafka event: no eventSourceArn', async () => {
    const expected = fixture('self-managed-kafka-event.json');

    const [invocation] = await waitFor(() => (invocations('selfmanaged').length > 0 ? invocations('selfmanaged') : undefined));

    const event = invocation!.event as unknown as Record<string, unknown>;
    expect(Object.keys(event)).toEqual(Object.keys(expected));
    expect(event.eventSource).toBe('SelfManagedKafka');
    expect(event.bootstrapServers).toBe(brokers);
  });

  it('honours TRIM_HORIZON and batchSize: records produced before start, at most 5 per invocation', async () => {
    const all = await waitFor(() => (received('batch').length >= 12 ? received('batch') : undefined));

    expect(all.map((r) => JSON.parse(r.value!.toString()) as unknown)).toEqual(Array.from({ length: 12 }, (_, i) => ({ i })));
    const sizes = invocations('batch').map((i) => decodeKafkaEvent(i.event).records.length);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(5);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(12);
    await waitFor(async () => ((await committedOffsets(`${prefix}-batch`, topics.T_BATCH))[0] === '12' ? true : undefined));
  });

  it('honours AT_TIMESTAMP: a new group starts at the first record stamped at or after startingPositionTimestamp', async () => {
    const all = await waitFor(() => (received('attime').length >= 2 ? received('attime') : undefined));

    expect(all.map((r) => r.value!.toString())).toEqual(['at', 'after']);
    await waitFor(async () => ((await committedOffsets(`${prefix}-attime`, topics.T_ATTIME))[0] === '4' ? true : undefined));
    expect(received('attime')).toHaveLength(2);
  });

  it('honours LATEST and the batching window: three records sent one by one arrive in one invocation', async () => {
    // Act
    for (const n of [1, 2, 3]) {
      await producer.send({ topic: topics.T_WINDOW, acks: -1, messages: [{ value: JSON.stringify({ n }) }] });
    }
    const [invocation] = await waitFor(() => (invocations('window').length > 0 ? invocations('window') : undefined), {
      timeoutMs: 15_000,
    });

    // Assess
    const values = decodeKafkaEvent(invocation!.event).records.map((r) => JSON.parse(r.value!.toString()) as unknown);
    expect(values).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    expect(invocations('window')).toHaveLength(1);
  });

  it('honours filterPatterns: only matching records reach the function, and all offsets are committed', async () => {
    // Act
    await producer.send({
      topic: topics.T_FILTER,
      acks: -1,
      messages: [
        { value: JSON.stringify({ event_type: 'drop', n: 0 }) },
        { value: JSON.stringify({ event_type: 'keep', n: 1 }) },
        { value: 'keep (not JSON)' },
        { value: JSON.stringify({ event_type: 'also.this', n: 3 }) },
        { value: null },
        { value: JSON.stringify({ event_type: 'drop', n: 5 }) },
      ],
    });
    await waitFor(async () => ((await committedOffsets(`${prefix}-filter`, topics.T_FILTER))[0] === '6' ? true : undefined));

    // Assess
    expect(received('filter').map((r) => (JSON.parse(r.value!.toString()) as { n: number }).n)).toEqual([1, 3]);
  });

  it('delivers a failed batch again and commits nothing before the function succeeds', async () => {
    // Prepare
    await producer.send({
      topic: topics.T_FAIL,
      acks: -1,
      messages: [{ value: JSON.stringify({ n: 0 }) }, { value: JSON.stringify({ n: 1 }) }],
    });

    // Act: let it fail twice, look at the group, then let it succeed
    await waitFor(() => (invocations('failUntilReleased').length >= 2 ? true : undefined));
    const whileFailing = await committedOffsets(`${prefix}-fail`, topics.T_FAIL);
    writeFileSync(path.join(out, 'release'), '');
    await waitFor(() => (invocations('failUntilReleased').some((i) => i.released) ? true : undefined));
    await waitFor(async () => ((await committedOffsets(`${prefix}-fail`, topics.T_FAIL))[0] === '2' ? true : undefined));

    // Assess
    expect(whileFailing[0]).toBe('-1');
    const batches = invocations('failUntilReleased').map((i) => decodeKafkaEvent(i.event).records.map((r) => r.offset));
    for (const offsets of batches) expect(offsets).toEqual(['0', '1']);
    expect(logs).toContain('batch failed, delivering it again');
  });

  it('honours a partial batch response: delivers again from the failed record', async () => {
    // Act
    await producer.send({
      topic: topics.T_PARTIAL,
      acks: -1,
      messages: [0, 1, 2, 3, 4].map((n) => ({ value: JSON.stringify({ n, fail: n === 2 }) })),
    });
    await waitFor(async () => ((await committedOffsets(`${prefix}-partial`, topics.T_PARTIAL))[0] === '5' ? true : undefined));

    // Assess
    const batches = invocations('partial').map((i) => decodeKafkaEvent(i.event).records.map((r) => Number(r.offset)));
    expect(batches).toEqual([
      [0, 1, 2, 3, 4],
      [2, 3, 4],
    ]);
  });

  it('keeps per-partition order in a batch that mixes partitions', async () => {
    // Act
    await producer.send({
      topic: topics.T_ORDER,
      acks: -1,
      messages: Array.from({ length: 60 }, (_, seq) => ({ key: `key-${seq % 6}`, value: JSON.stringify({ seq }) })),
    });
    const all = await waitFor(() => (received('order').length >= 60 ? received('order') : undefined));

    // Assess
    const byPartition = new Map<number, number[]>();
    for (const r of all) byPartition.set(r.partition, [...(byPartition.get(r.partition) ?? []), Number(r.offset)]);
    expect(byPartition.size).toBeGreaterThan(1);
    for (const offsets of byPartition.values()) expect(offsets).toEqual(offsets.map((_, i) => i));
    expect(invocations('order').some((i) => Object.keys(i.event.records).length > 1)).toBe(true);
  });

  it('loses nothing when another member joins the group while a batch is in flight, and never runs two batches of a partition at once', async () => {
    // Prepare: 20 records on each of 3 partitions; the function holds its batches
    const group = `${prefix}-member`;
    await send({
      topic: topics.T_MEMBER,
      messages: Array.from({ length: 60 }, (_, i) => ({ partition: i % 3, value: JSON.stringify({ i }) })),
    });
    await waitFor(() => (existsSync(path.join(out, 'member-began.jsonl')) ? true : undefined), { what: 'a batch in flight' });

    // Act: another member joins (it takes some partitions and commits nothing), then the batches finish, then it leaves
    const other = kafka.consumer({ groupId: group, maxWaitTimeInMs: 100, sessionTimeout: 10_000, heartbeatInterval: 1_000 });
    const otherJoined = new Promise<void>((resolve) => other.on(other.events.GROUP_JOIN, () => resolve()));
    await other.connect();
    await other.subscribe({ topics: [topics.T_MEMBER], fromBeginning: true });
    await other.run({ autoCommit: false, eachMessage: () => Promise.resolve() });
    await otherJoined;
    writeFileSync(path.join(out, 'release-member'), '');
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await other.disconnect();
    await waitFor(
      async () => {
        const committed = await committedOffsets(group, topics.T_MEMBER);
        return [0, 1, 2].every((p) => committed[p] === '20') ? true : undefined;
      },
      { timeoutMs: 45_000, what: 'the group to commit every record after the rebalances' },
    );

    // Assess: every record reached the function, and each partition's batches never overlapped
    const calls = invocations('member') as Array<Invocation & { began: number; ended: number }>;
    for (const p of [0, 1, 2]) {
      const delivered = new Set(
        calls.flatMap((c) =>
          decodeKafkaEvent(c.event)
            .records.filter((r) => r.partition === p)
            .map((r) => Number(r.offset)),
        ),
      );
      expect(
        [...delivered].sort((a, b) => a - b),
        `t-${p}`,
      ).toEqual(Array.from({ length: 20 }, (_, i) => i));
      const spans = calls.filter((c) => decodeKafkaEvent(c.event).records.some((r) => r.partition === p)).sort((a, b) => a.began - b.began);
      for (let i = 1; i < spans.length; i++)
        expect(spans[i]!.began, `t-${p}: a batch began before the previous one ended`).toBeGreaterThanOrEqual(spans[i - 1]!.ended);
    }
  }, 90_000);

  it('keeps delivering a partition while another is stuck on a poison record (whose buffer fills and pauses)', async () => {
    // Prepare: a poison record and 40 more behind it on partition 0 (its buffer holds 20)
    await send({
      topic: topics.T_POISON,
      messages: [
        { partition: 0, value: JSON.stringify({ poison: true }) },
        ...Array.from({ length: 40 }, (_, i) => ({ partition: 0, value: JSON.stringify({ i }) })),
      ],
    });
    await waitFor(() => (invocations('poison').some((i) => (i as Invocation & { failed: boolean }).failed) ? true : undefined), {
      what: 'the poison record to fail',
    });

    // Act: records keep arriving on partition 1
    for (let n = 0; n < 5; n++) {
      await send({ topic: topics.T_POISON, messages: [{ partition: 1, value: JSON.stringify({ n }) }] });
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await waitFor(async () => ((await committedOffsets(`${prefix}-poison`, topics.T_POISON))[1] === '5' ? true : undefined), {
      what: 'partition 1 to be committed',
    });

    // Assess: partition 1 went through, never in a batch with the poison; partition 0 is held at the poison record
    const calls = invocations('poison') as Array<Invocation & { failed: boolean }>;
    const partition1 = calls.filter((c) => decodeKafkaEvent(c.event).records.some((r) => r.partition === 1));
    expect(partition1.every((c) => !c.failed)).toBe(true);
    expect(partition1.flatMap((c) => decodeKafkaEvent(c.event).records.map((r) => r.offset))).toEqual(['0', '1', '2', '3', '4']);
    expect((await committedOffsets(`${prefix}-poison`, topics.T_POISON))[0]).toBe('-1');
    expect(calls.filter((c) => c.failed).every((c) => decodeKafkaEvent(c.event).records.every((r) => r.partition === 0))).toBe(true);
  });

  it('writes records whose retries are exhausted to the destination topic in AWS format, keyed as they were, and moves on', async () => {
    // Act
    const [ack] = await send({
      topic: topics.T_EXHAUST,
      messages: [
        { key: 'good-0', value: JSON.stringify({ n: 0 }) },
        { key: 'bad-1', value: JSON.stringify({ n: 1, fail: true }), headers: { trace: 'abc' } },
        { key: 'after-2', value: JSON.stringify({ n: 2 }) },
      ],
    });
    await waitFor(async () => ((await committedOffsets(`${prefix}-exhaust`, topics.T_EXHAUST))[0] === '3' ? true : undefined), {
      what: 'the exhausted records to be committed',
    });
    const dead = await waitFor(() => {
      const found = deadLetters.filter((d) => JSON.stringify(d.value).includes(topics.T_EXHAUST));
      return found.length >= 2 ? found : undefined;
    });

    // Assess: the function reported 1 and everything after it, twice (one retry); both went to the destination
    expect(invocations('exhaust').map((i) => decodeKafkaEvent(i.event).records.map((r) => r.offset))).toEqual([
      ['0', '1', '2'],
      ['1', '2'],
    ]);
    expect(dead.map((d) => d.key)).toEqual(['bad-1', 'after-2']);
    const base = Number(ack!.baseOffset);
    const [first] = dead;
    expect(Object.keys(first!.value)).toEqual(['requestContext', 'responseContext', 'version', 'timestamp', 'KafkaBatchInfo', 'payload']);
    expect(first!.value).toMatchObject({
      requestContext: {
        functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:offline-msk-test-test-exhaust:$LATEST',
        condition: 'RetriesExhausted',
        approximateInvokeCount: 2,
      },
      responseContext: { statusCode: 200, executedVersion: '$LATEST' },
      version: '1.0',
      KafkaBatchInfo: { batchSize: 1, eventSourceArn: ARN, bootstrapServers: brokers, recordInfo: { offset: String(base + 1) } },
    });
    const payload = decodeKafkaEvent(first!.value.payload);
    expect(payload.records).toHaveLength(1);
    expect(payload.records[0]).toMatchObject({ topic: topics.T_EXHAUST, offset: String(base + 1), key: Buffer.from('bad-1') });
    expect(payload.records[0]!.headers).toEqual([{ name: 'trace', value: Buffer.from('abc') }]);
    expect(JSON.parse(payload.records[0]!.value!.toString())).toEqual({ n: 1, fail: true });
  });

  it('never sends a record older than maximumRecordAgeInSeconds: it is on the destination topic as RecordAgeExceeded', async () => {
    // Act
    await send({
      topic: topics.T_AGED,
      messages: [
        { key: 'old', value: 'two minutes old', timestamp: String(Date.now() - 120_000) },
        { key: 'new', value: 'fresh' },
      ],
    });
    await waitFor(async () => ((await committedOffsets(`${prefix}-aged`, topics.T_AGED))[0] === '2' ? true : undefined), {
      what: 'both records to be committed',
    });
    const [dead] = await waitFor(() => {
      const found = deadLetters.filter((d) => JSON.stringify(d.value).includes(topics.T_AGED));
      return found.length > 0 ? found : undefined;
    });

    // Assess
    expect(received('aged').map((r) => r.value!.toString())).toEqual(['fresh']);
    expect(dead!.key).toBe('old');
    expect(dead!.value).toMatchObject({
      requestContext: { condition: 'RecordAgeExceeded', approximateInvokeCount: 0 },
      responseContext: null,
    });
  });

  it('matches neither a non-UTF-8 value nor a tombstone with exists: false, and matches JSON scalars as numbers', async () => {
    // Act
    await send({
      topic: topics.T_SCALARS,
      messages: [
        { value: Buffer.from([0xff, 0xfe, 0x00]) },
        { value: null },
        { value: '150' },
        { value: '"150"' },
        { value: '99' },
        { value: JSON.stringify({ n: 150 }) },
      ],
    });
    await waitFor(async () => ((await committedOffsets(`${prefix}-scalars`, topics.T_SCALARS))[0] === '6' ? true : undefined), {
      what: 'every record to be committed',
    });

    // Assess
    expect(received('scalars').map((r) => r.value?.toString())).toEqual(['150']);
  });

  it('logs, loudly, the invocation record Lambda would send to an SQS destination', async () => {
    await send({ topic: topics.T_SQS, messages: [{ value: 'lost?' }] });
    await waitFor(async () => ((await committedOffsets(`${prefix}-tosqs`, topics.T_SQS))[0] === '1' ? true : undefined), {
      what: 'the record to be given up',
    });

    expect(logs).toContain(
      'on AWS, Lambda sends the SQS destination arn:aws:sqs:us-east-1:123456789012:failed-batches this invocation record',
    );
    expect(logs).toContain('"condition": "RetryAttemptsExhausted"');
    expect(logs).toContain(`"${topics.T_SQS}-0": {`);
  });

  it("ends an invocation that runs over the function's timeout, as a failure, and the function's next invocation runs", async () => {
    await send({ topic: topics.T_SLOW, messages: [{ value: 'slow' }, { value: 'fast' }] });
    await waitFor(async () => ((await committedOffsets(`${prefix}-slow`, topics.T_SLOW))[0] === '2' ? true : undefined), {
      timeoutMs: 20_000,
      what: 'both records to be committed',
    });

    expect(invocations('slow').map((i) => decodeKafkaEvent(i.event).records.map((r) => r.value!.toString()))).toEqual([['slow'], ['fast']]);
    expect(logs).toContain('Task timed out after 1.00 seconds');
    expect(logs).toMatch(/discarded 1 record\(s\) of \S+-slow-0 \(offsets 0\.\.0, RetriesExhausted\)/);
  });

  it('stops cleanly with serverless offline: the process exits and no consumer is left in any group', async () => {
    // Act
    offline!.kill('SIGINT');
    await waitFor(() => (exitCode !== undefined ? true : undefined), { timeoutMs: 30_000, what: 'serverless offline to exit' });

    // Assess
    expect(exitCode).toBe(0);
    const mappingGroups = groups.filter((g) => !g.endsWith('-dead-reader')); // one per mapping
    expect(logs).toContain(`offline-msk: stopped ${mappingGroups.length} event source mapping(s)`);
    const { groups: described } = await admin.describeGroups(mappingGroups);
    for (const group of described) expect(group.members, group.groupId).toHaveLength(0);
  });
});
