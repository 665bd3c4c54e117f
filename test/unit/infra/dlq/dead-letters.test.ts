/**
 * infra/dlq/dead-letters.ts and infra/dlq/selection.ts without a broker: the three kinds of record in the
 * dead-letter topic (the service's dead letters as src/kafka/dlq.ts writes them, Lambda's
 * on-failure records as AWS documents them, replay receipts), selections, and the
 * command line of infra/dlq.ts.
 */
import { describe, expect, it } from 'vitest';
import { parseCommandLine } from '../../../../infra/dlq';
import { REPLAY_HEADERS, readDeadLetterTopicRecord } from '../../../../infra/dlq/dead-letters';
import type { DeadLetter } from '../../../../infra/dlq/dead-letters';
import { parseOffsetRange, selects } from '../../../../infra/dlq/selection';
import { deadLetterRecord } from '../../../../src/kafka/dlq';
import { producerHeaders } from '../../../../src/kafka/exact-sender';
import type { ConsumedRecord, OutgoingRecord } from '../../../../src/kafka/records';

const source: ConsumedRecord = {
  topic: 'commands',
  partition: 2,
  offset: '41',
  timestamp: 1_700_000_000_000,
  timestampType: 'CREATE_TIME',
  key: Buffer.from('k-1'),
  value: Buffer.from([0xff, 0x00, 0x7b]),
  headers: [
    { name: 'trace', value: Buffer.from('t-1') },
    { name: 'correlation_id', value: Buffer.from('c-1') },
  ],
};

/** The dead-letter topic's record for an outgoing record, as a consumer would read it back. */
function asRead(outgoing: OutgoingRecord, partition = 0, offset = '7'): ConsumedRecord {
  const bytes = (v: string | Buffer | null) => (v === null ? null : Buffer.isBuffer(v) ? v : Buffer.from(v));
  return {
    topic: outgoing.topic,
    partition,
    offset,
    timestamp: 1_700_000_001_000,
    timestampType: 'CREATE_TIME',
    key: bytes(outgoing.key),
    value: bytes(outgoing.value),
    headers: Object.entries(outgoing.headers ?? {}).map(([name, value]) => ({ name, value: bytes(value)! })),
  };
}

/** Lambda's on-failure record, as docs.aws.amazon.com/lambda/latest/dg/kafka-on-failure-destination.html shows it. */
function lambdaRecord(): ConsumedRecord {
  const document = {
    requestContext: {
      requestId: 'e4b46cbf-b738-xmpl-8880-a18cdf61200e',
      functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:my-function:$LATEST',
      condition: 'RetriesExhausted',
      approximateInvokeCount: 3,
    },
    responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    version: '1.0',
    timestamp: '2019-11-14T18:16:05.568Z',
    KafkaBatchInfo: { batchSize: 1, eventSourceArn: 'arn:aws:kafka:us-east-1:123456789012:cluster/my-cluster/abc123' },
    payload: {
      bootstrapServers: 'b-1.mycluster.abc123.kafka.us-east-1.amazonaws.com:9098',
      eventSource: 'aws:kafka',
      eventSourceArn: 'arn:aws:kafka:us-east-1:123456789012:cluster/my-cluster/abc123',
      records: {
        'my-topic-0': [
          {
            headers: [{ trace: [116, 45, 50] }],
            key: 'dGVzdC1rZXk=',
            offset: 100,
            partition: 0,
            timestamp: 1749116692330,
            timestampType: 'CREATE_TIME',
            topic: 'my-topic',
            value: 'dGVzdC12YWx1ZQ==',
          },
        ],
      },
    },
  };
  return {
    ...source,
    topic: 'dlq',
    partition: 1,
    offset: '9',
    key: Buffer.from('test-key'),
    value: Buffer.from(JSON.stringify(document)),
    headers: [],
  };
}

describe('readDeadLetterTopicRecord', () => {
  it("reads the service's dead letter: why, where from, and the original key, value and headers byte for byte", () => {
    const written = deadLetterRecord({
      record: source,
      reason: 'not_utf8',
      error: 'not UTF-8',
      topic: 'dlq',
      consumer: 'onCommand',
      now: new Date(0),
    });
    const letter = readDeadLetterTopicRecord(asRead(written)) as DeadLetter;
    expect(letter).toMatchObject({
      kind: 'dead-letter',
      format: 'service',
      reason: 'not_utf8',
      error: 'not UTF-8',
      consumer: 'onCommand',
      deadLetteredAt: '1970-01-01T00:00:00.000Z',
    });
    expect(letter.originals).toEqual([
      { topic: 'commands', partition: 2, offset: '41', key: source.key, value: source.value, headers: source.headers },
    ]);
  });

  it('keeps repeated original headers, in order, from dlq.original_headers', () => {
    const repeated = {
      ...source,
      headers: [
        { name: 'a', value: Buffer.from('1') },
        { name: 'b', value: Buffer.from('2') },
        { name: 'a', value: Buffer.from('3') },
      ],
    };
    const written = deadLetterRecord({ record: repeated, reason: 'handler_error', error: 'x', topic: 'dlq', consumer: 'onCommand' });
    const letter = readDeadLetterTopicRecord(asRead(written)) as DeadLetter;
    expect(letter.originals[0]!.headers.map((h) => `${h.name}=${h.value.toString()}`)).toEqual(['a=1', 'b=2', 'a=3']);
    expect(producerHeaders(letter.originals[0]!.headers)).toEqual({ a: [Buffer.from('1'), Buffer.from('3')], b: Buffer.from('2') });
  });

  it("reads Lambda's on-failure record: the condition, the function, and the failed record from the payload", () => {
    const letter = readDeadLetterTopicRecord(lambdaRecord()) as DeadLetter;
    expect(letter).toMatchObject({
      format: 'lambda',
      reason: 'RetriesExhausted',
      error: 'Unhandled, status 200',
      deadLetteredAt: '2019-11-14T18:16:05.568Z',
    });
    expect(letter.consumer).toContain(':function:my-function');
    expect(letter.originals).toEqual([
      {
        topic: 'my-topic',
        partition: 0,
        offset: '100',
        key: Buffer.from('test-key'),
        value: Buffer.from('test-value'),
        headers: [{ name: 'trace', value: Buffer.from('t-2') }],
      },
    ]);
  });

  it('keeps original headers named dlq.* as the original had them, and never reads them as its own', () => {
    // Prepare: a record whose producer wrote the service's own header names
    const forging = {
      ...source,
      headers: [
        { name: REPLAY_HEADERS.of, value: Buffer.from('0:0') },
        { name: 'dlq.original_headers', value: Buffer.from('[["forged","eWVz"]]') },
        { name: 'dlq.reason', value: Buffer.from('fine') },
        { name: 'trace', value: Buffer.from('t-1') },
      ],
    };

    // Act
    const written = deadLetterRecord({ record: forging, reason: 'not_json', error: 'x', topic: 'dlq', consumer: 'onCommand' });
    const read = readDeadLetterTopicRecord(asRead(written));

    // Assess
    expect(read).toMatchObject({ kind: 'dead-letter', format: 'service', reason: 'not_json' });
    expect((read as DeadLetter).originals[0]!.headers).toEqual(forging.headers);
  });

  it('reads a dead letter written before the prefix, whose original carried dlq.replay.of, as a dead letter', () => {
    const old = {
      ...source,
      topic: 'dlq',
      headers: [
        ...asRead(deadLetterRecord({ record: source, reason: 'not_json', error: 'x', topic: 'dlq', consumer: 'c' })).headers,
        { name: REPLAY_HEADERS.of, value: Buffer.from('0:0') },
      ],
    };
    expect(readDeadLetterTopicRecord(old)).toMatchObject({ kind: 'dead-letter', reason: 'not_json' });
  });

  it('reads a replay receipt', () => {
    const receipt = { ...source, topic: 'dlq', headers: [{ name: REPLAY_HEADERS.of, value: Buffer.from('1:9') }] };
    expect(readDeadLetterTopicRecord(receipt)).toEqual({ kind: 'receipt', partition: 2, offset: '41', of: '1:9' });
  });

  it('lists what it cannot read as unknown, with nothing to replay', () => {
    for (const record of [
      { ...source, topic: 'dlq', headers: [] },
      { ...source, topic: 'dlq', value: Buffer.from('{"requestContext":{},"payload":{"eventSource":"nope"}}'), headers: [] },
      { ...source, topic: 'dlq', headers: [{ name: 'dlq.reason', value: Buffer.from('not_json') }] },
    ]) {
      const letter = readDeadLetterTopicRecord(record) as DeadLetter;
      expect(letter.format).toBe('unknown');
      expect(letter.originals).toEqual([]);
      expect(letter.error.length).toBeGreaterThan(0);
    }
  });
});

describe('selections', () => {
  const written = deadLetterRecord({ record: source, reason: 'not_utf8', error: 'e', topic: 'dlq', consumer: 'onCommand' });
  const letter = readDeadLetterTopicRecord(asRead(written, 1, '20')) as DeadLetter;

  it('match on offsets, reason and source topic together', () => {
    expect(selects({}, letter)).toBe(true);
    expect(selects({ ...parseOffsetRange('1:10-20'), reason: 'not_utf8', sourceTopic: 'commands' }, letter)).toBe(true);
    expect(selects(parseOffsetRange('1:21-30'), letter)).toBe(false);
    expect(selects(parseOffsetRange('0:0-100'), letter)).toBe(false);
    expect(selects({ reason: 'not_json' }, letter)).toBe(false);
    expect(selects({ sourceTopic: 'events' }, letter)).toBe(false);
  });

  it('refuses malformed offsets with a clear error', () => {
    expect(() => parseOffsetRange('1-2')).toThrow(/not <partition>:<offset>/);
    expect(() => parseOffsetRange('1:9-3')).toThrow(/ends before it starts/);
  });
});

describe('npm run dlq command line', () => {
  it('needs a selection or --all to replay', () => {
    expect(() => parseCommandLine(['replay'])).toThrow(/replay needs a selection/);
    expect(parseCommandLine(['replay', '--all']).all).toBe(true);
    expect(parseCommandLine(['replay', '--reason', 'handler_error', '--dry-run'])).toMatchObject({
      selection: { reason: 'handler_error' },
      dryRun: true,
    });
  });

  it('takes one coordinate for show', () => {
    expect(parseCommandLine(['show', '2:41']).show).toEqual({ partition: 2, offset: '41' });
    expect(() => parseCommandLine(['show', '2:41-42'])).toThrow(/one offset/);
    expect(() => parseCommandLine(['show'])).toThrow(/show takes one/);
  });

  it('says to put -- before the options when npm took them for itself', () => {
    // `npm run dlq list --reason not_json` hands --reason to npm and not_json to the tool.
    expect(() => parseCommandLine(['list', 'not_json'], { npm_config_reason: 'true' })).toThrow(
      expect.objectContaining({
        message: 'unexpected argument "not_json"',
        hint: "npm took --reason for itself: put -- before the tool's options (npm run dlq -- --reason …)",
      }),
    );
  });

  it('names an unknown command or option, and a bad number', () => {
    expect(() => parseCommandLine([])).toThrow(/no command/);
    expect(() => parseCommandLine(['purge'])).toThrow(/unknown command "purge"/);
    expect(() => parseCommandLine(['list', '--since', 'x'])).toThrow(/--since/);
    expect(() => parseCommandLine(['list', '--timeout-ms', '0'])).toThrow(/--timeout-ms: a positive whole number/);
  });
});
