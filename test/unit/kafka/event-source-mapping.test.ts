/**
 * The event source mapping with a fake function and a fake commit: batching, window,
 * filtering, retries, partial batch responses, order, and stopping.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { EventSourceMapping, MAPPING_DEFAULTS } from '../../../src/kafka/event-source';
import type { InvokeResult, MappingSettings, PartitionOffset } from '../../../src/kafka/event-source';
import { compileFilterPatterns } from '../../../src/kafka/filter-patterns';
import { decodeKafkaEvent } from '../../../src/kafka/msk-event';
import type { KafkaEvent } from '../../../src/kafka/msk-event';
import type { ConsumedRecord } from '../../../src/kafka/records';
import { waitFor } from '../../helpers/wait-for';

const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

function record(partition: number, offset: number, value: unknown = { event_type: 'x', n: offset }): ConsumedRecord {
  return {
    topic: 't',
    partition,
    offset: String(offset),
    timestamp: 1_700_000_000_000 + offset,
    timestampType: 'CREATE_TIME',
    key: Buffer.from(`k${offset}`),
    value: Buffer.from(JSON.stringify(value)),
    headers: [],
  };
}

function range(partition: number, from: number, to: number): ConsumedRecord[] {
  return Array.from({ length: to - from + 1 }, (_, i) => record(partition, from + i));
}

interface Harness {
  mapping: EventSourceMapping;
  events: KafkaEvent[];
  commits: PartitionOffset[][];
  /** What the fake function answers, by invocation number (0-based); success by default. */
  answers: Array<InvokeResult | Promise<InvokeResult> | ((event: KafkaEvent) => Promise<InvokeResult>)>;
}

const running: EventSourceMapping[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((m) => m.stop()));
});

function harness(settings: Partial<MappingSettings> = {}): Harness {
  const h: Harness = { events: [], commits: [], answers: [] } as unknown as Harness;
  h.mapping = new EventSourceMapping(
    {
      functionName: 'fn',
      batchSize: 10,
      batchingWindowMs: 20,
      source: { kind: 'msk', eventSourceArn: 'arn:aws:kafka:us-east-1:123456789012:cluster/c/1', bootstrapServers: ['127.0.0.1:9092'] },
      filter: compileFilterPatterns([]),
      reportBatchItemFailures: false,
      maximumRetryAttempts: -1,
      initialBackoffMs: 1,
      maxBackoffMs: 5,
      maxBufferedRecords: 1_000,
      maxEventBytes: MAPPING_DEFAULTS.maxEventBytes,
      ...settings,
    },
    {
      invoke: (event) => {
        const answer = h.answers[h.events.length] ?? { ok: true, payload: null };
        h.events.push(JSON.parse(JSON.stringify(event)) as KafkaEvent);
        return typeof answer === 'function' ? answer(event) : Promise.resolve(answer);
      },
      commit: (offsets) => {
        h.commits.push(offsets);
        return Promise.resolve();
      },
      log: silent,
    },
  );
  running.push(h.mapping);
  h.mapping.start();
  return h;
}

const offsetsOf = (event: KafkaEvent) =>
  decodeKafkaEvent(event).records.map((r) => `${r.partition}:${r.offset}`);

/** The committed offset per partition after all commits so far. */
function committed(h: Harness): Record<string, string> {
  const out: Record<string, string> = {};
  for (const c of h.commits) for (const o of c) out[`${o.topic}-${o.partition}`] = o.offset;
  return out;
}

describe('EventSourceMapping', () => {
  it('sends at most batchSize records per invocation and commits after each success', async () => {
    // Prepare
    const h = harness({ batchSize: 10 });

    // Act
    await h.mapping.push(range(0, 0, 24));
    await waitFor(() => (committed(h)['t-0'] === '25' ? true : undefined));

    // Assess
    expect(h.events.map((e) => offsetsOf(e).length)).toEqual([10, 10, 5]);
    expect(h.events.flatMap(offsetsOf)).toEqual(range(0, 0, 24).map((r) => `0:${r.offset}`));
    expect(h.events[0]!.eventSource).toBe('aws:kafka');
  });

  it('gathers records pushed within the window into one invocation', async () => {
    const h = harness({ batchSize: 100, batchingWindowMs: 300 });

    await h.mapping.push([record(0, 0)]);
    await h.mapping.push([record(1, 0)]);
    await h.mapping.push([record(0, 1)]);
    await waitFor(() => (h.events.length > 0 ? true : undefined));

    expect(h.events).toHaveLength(1);
    expect(Object.keys(h.events[0]!.records)).toEqual(['t-0', 't-1']);
    expect(offsetsOf(h.events[0]!)).toEqual(['0:0', '0:1', '1:0']);
  });

  it('never sends records that match no filter pattern, and commits past them', async () => {
    // Prepare
    const h = harness({ filter: compileFilterPatterns([{ value: { event_type: ['keep'] } }]) });
    const records = [record(0, 0, { event_type: 'drop' }), record(0, 1, { event_type: 'keep' }), record(0, 2, 'not json'), record(0, 3, { event_type: 'drop' })];

    // Act
    await h.mapping.push(records);
    await waitFor(() => (committed(h)['t-0'] === '4' ? true : undefined));

    // Assess
    expect(h.events.flatMap(offsetsOf)).toEqual(['0:1']);
    expect(h.mapping.stats.filtered).toBe(3);
  });

  it('commits a batch that is filtered out entirely without invoking the function', async () => {
    const h = harness({ filter: compileFilterPatterns([{ value: { event_type: ['keep'] } }]) });

    await h.mapping.push([record(2, 40, { event_type: 'drop' })]);
    await waitFor(() => (committed(h)['t-2'] === '41' ? true : undefined));

    expect(h.events).toHaveLength(0);
  });

  it('delivers a failed batch again, and commits nothing before the function succeeds', async () => {
    // Prepare
    const h = harness();
    h.answers = [{ ok: false, error: 'boom' }, { ok: false, error: 'boom again' }];

    // Act
    await h.mapping.push(range(0, 5, 7));
    await waitFor(() => (committed(h)['t-0'] === '8' ? true : undefined));

    // Assess
    expect(h.events.map(offsetsOf)).toEqual([
      ['0:5', '0:6', '0:7'],
      ['0:5', '0:6', '0:7'],
      ['0:5', '0:6', '0:7'],
    ]);
    expect(h.commits).toEqual([[{ topic: 't', partition: 0, offset: '8' }]]);
  });

  it('with ReportBatchItemFailures, commits up to the failed record and delivers again from it', async () => {
    // Prepare
    const h = harness({ reportBatchItemFailures: true, batchSize: 100 });
    h.answers = [{ ok: true, payload: { batchItemFailures: [{ itemIdentifier: { partition: 't-0', offset: 3 } }] } }];

    // Act
    await h.mapping.push([...range(0, 0, 4), ...range(1, 0, 1)]);
    await waitFor(() => (committed(h)['t-0'] === '5' ? true : undefined));

    // Assess
    expect(h.events.map(offsetsOf)).toEqual([
      ['0:0', '0:1', '0:2', '0:3', '0:4', '1:0', '1:1'],
      ['0:3', '0:4'],
    ]);
    expect(h.commits[0]).toEqual([
      { topic: 't', partition: 0, offset: '3' },
      { topic: 't', partition: 1, offset: '2' },
    ]);
  });

  it('treats an invalid partial response as a failure of the whole batch', async () => {
    const h = harness({ reportBatchItemFailures: true });
    h.answers = [{ ok: true, payload: { batchItemFailures: [{ itemIdentifier: 't-0:1' }] } }];

    await h.mapping.push(range(0, 0, 1));
    await waitFor(() => (committed(h)['t-0'] === '2' ? true : undefined));

    expect(h.events.map(offsetsOf)).toEqual([['0:0', '0:1'], ['0:0', '0:1']]);
  });

  it('ignores batchItemFailures when ReportBatchItemFailures is off, as Lambda does', async () => {
    const h = harness({ reportBatchItemFailures: false });
    h.answers = [{ ok: true, payload: { batchItemFailures: [{ itemIdentifier: { partition: 't-0', offset: 0 } }] } }];

    await h.mapping.push(range(0, 0, 1));
    await waitFor(() => (committed(h)['t-0'] === '2' ? true : undefined));

    expect(h.events).toHaveLength(1);
  });

  it('discards a batch after maximumRetryAttempts retries and moves on', async () => {
    const h = harness({ maximumRetryAttempts: 1 });
    h.answers = [{ ok: false, error: 'a' }, { ok: false, error: 'b' }];

    await h.mapping.push(range(0, 0, 0));
    await waitFor(() => (committed(h)['t-0'] === '1' ? true : undefined));
    await h.mapping.push(range(0, 1, 1));
    await waitFor(() => (committed(h)['t-0'] === '2' ? true : undefined));

    expect(h.events.map(offsetsOf)).toEqual([['0:0'], ['0:0'], ['0:1']]);
  });

  it('keeps each partition in offset order through failures, and ignores records it has seen', async () => {
    // Prepare
    const h = harness({ batchSize: 3, reportBatchItemFailures: true });
    h.answers = [
      { ok: true, payload: { batchItemFailures: [{ itemIdentifier: { partition: 't-0', offset: 1 } }] } },
      { ok: false, error: 'x' },
    ];

    // Act
    await h.mapping.push(range(0, 0, 5));
    await h.mapping.push(range(0, 0, 2)); // the consumer went back to a committed offset
    await waitFor(() => (committed(h)['t-0'] === '6' ? true : undefined));

    // Assess
    const delivered = h.events.flatMap(offsetsOf).map((o) => Number(o.split(':')[1]));
    const firstTimes = delivered.filter((o, i) => delivered.indexOf(o) === i);
    expect(firstTimes).toEqual([0, 1, 2, 3, 4, 5]);
    for (const event of h.events) {
      const offsets = offsetsOf(event).map((o) => Number(o.split(':')[1]));
      expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    }
  });

  it('stops: finishes the invocation in flight, commits it, and releases a waiting push', async () => {
    // Prepare
    let finish: (r: InvokeResult) => void = () => undefined;
    const h = harness({ maxBufferedRecords: 2, batchSize: 2, batchingWindowMs: 0 });
    h.answers = [new Promise<InvokeResult>((resolve) => (finish = resolve))];
    const pushed = h.mapping.push(range(0, 0, 3));
    await waitFor(() => (h.events.length === 1 ? true : undefined));

    // Act
    const stopped = h.mapping.stop();
    finish({ ok: true, payload: null });
    await stopped;
    await pushed;

    // Assess
    expect(h.events).toHaveLength(1);
    expect(committed(h)['t-0']).toBe('2');
  });

  it('invokes batches of different partitions concurrently, never two of one partition', async () => {
    // Prepare: each invocation takes a while; track which partitions are being invoked
    const busy = new Set<string>();
    let overlap = false;
    let inFlight = 0;
    let maxInFlight = 0;
    const slowFunction = (event: KafkaEvent) => {
      const keys = Object.keys(event.records);
      if (keys.some((k) => busy.has(k))) overlap = true;
      keys.forEach((k) => busy.add(k));
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      return new Promise<InvokeResult>((resolve) =>
        setTimeout(() => {
          keys.forEach((k) => busy.delete(k));
          inFlight -= 1;
          resolve({ ok: true, payload: null });
        }, 40),
      );
    };
    const h = harness({ batchSize: 2, batchingWindowMs: 0 });
    h.answers = Array.from({ length: 8 }, () => slowFunction);

    // Act
    await h.mapping.push([...range(0, 0, 3), ...range(1, 0, 3)]);
    await waitFor(() => (committed(h)['t-0'] === '4' && committed(h)['t-1'] === '4' ? true : undefined));

    // Assess
    expect(overlap).toBe(false);
    expect(maxInFlight).toBe(2);
    expect(h.events.flatMap(offsetsOf).filter((o) => o.startsWith('0:'))).toEqual(['0:0', '0:1', '0:2', '0:3']);
  });

  it('forgets partitions revoked by a rebalance', async () => {
    const h = harness({ batchSize: 100, batchingWindowMs: 10_000 });

    await h.mapping.push([...range(0, 0, 1), ...range(1, 0, 1)]);
    h.mapping.assigned([{ topic: 't', partition: 1 }]);

    expect(h.mapping.buffered).toBe(2);
  });
});
