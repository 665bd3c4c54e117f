/**
 * Reproductions of the review's defects in the local event source, against the mapping as
 * it is: each must fail here before the fix.
 */
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';
import { EventSourceMapping, MAPPING_DEFAULTS, startKafkaEventSource } from '../../../src/kafka/event-source';
import type { InvokeResult, MappingSettings, PartitionOffset } from '../../../src/kafka/event-source';
import { compileFilterPatterns } from '../../../src/kafka/filter-patterns';
import { decodeKafkaEvent, interpretBatchResponse } from '../../../src/kafka/msk-event';
import type { KafkaEvent } from '../../../src/kafka/msk-event';
import type { ConsumedRecord } from '../../../src/kafka/records';
import { createKafka } from '../../../src/kafka/client';
import { waitFor } from '../../helpers/wait-for';

const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

function record(partition: number, offset: number, timestamp = Date.now()): ConsumedRecord {
  return {
    topic: 't',
    partition,
    offset: String(offset),
    timestamp,
    timestampType: 'CREATE_TIME',
    key: null,
    value: Buffer.from(JSON.stringify({ n: offset })),
    headers: [],
  };
}
const range = (p: number, from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => record(p, from + i));

interface Call {
  event: KafkaEvent;
  offsets: string[];
  settle: (r: InvokeResult) => void;
  result?: InvokeResult;
}

const running: EventSourceMapping[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((m) => m.stop()));
});

function harness(settings: Partial<MappingSettings>, answer: (call: Call, n: number) => InvokeResult | undefined) {
  const calls: Call[] = [];
  const commits: PartitionOffset[][] = [];
  const destination: string[] = [];
  const mapping = new EventSourceMapping(
    {
      functionName: 'fn',
      batchSize: 10,
      batchingWindowMs: 0,
      source: { kind: 'msk', eventSourceArn: 'arn:aws:kafka:us-east-1:123456789012:cluster/c/1', bootstrapServers: ['b:9092'] },
      filter: compileFilterPatterns([]),
      reportBatchItemFailures: false,
      maximumRetryAttempts: -1,
      initialBackoffMs: 1,
      maxBackoffMs: 2,
      maxBufferedRecords: 1000,
      maxEventBytes: MAPPING_DEFAULTS.maxEventBytes,
      ...settings,
    },
    {
      invoke: (event) =>
        new Promise<InvokeResult>((resolve) => {
          const call: Call = {
            event,
            offsets: decodeKafkaEvent(event).records.map((r) => `${r.partition}:${r.offset}`),
            settle: (r) => {
              call.result = r;
              resolve(r);
            },
          };
          calls.push(call);
          const now = answer(call, calls.length - 1);
          if (now) call.settle(now);
        }),
      commit: (offsets) => {
        commits.push(offsets);
        return Promise.resolve();
      },
      // The settings have no destination: nothing ever lands here.
      log: silent,
    } as ConstructorParameters<typeof EventSourceMapping>[1],
  );
  running.push(mapping);
  mapping.start();
  const committed = () => {
    const out: Record<string, number> = {};
    for (const c of commits) for (const o of c) out[`${o.topic}-${o.partition}`] = Number(o.offset);
    return out;
  };
  /** Offsets the function took successfully: every record of a successful call, or below the reported failure. */
  const succeeded = () => {
    const out = new Set<string>();
    for (const c of calls) {
      if (!c.result?.ok) continue;
      const failures = (c.result.payload as { batchItemFailures?: Array<{ itemIdentifier: { partition: string; offset: number } }> } | null)
        ?.batchItemFailures;
      for (const o of c.offsets) {
        const [p, off] = o.split(':').map(Number) as [number, number];
        const failedFrom = failures?.find((f) => f.itemIdentifier.partition === `t-${p}`)?.itemIdentifier.offset;
        if (failedFrom === undefined || off < failedFrom) out.add(o);
      }
    }
    return out;
  };
  return { mapping, calls, commits, committed, succeeded, destination };
}

const ok: InvokeResult = { ok: true, payload: null };
const partialAt = (p: number, offset: number): InvokeResult => ({
  ok: true,
  payload: { batchItemFailures: [{ itemIdentifier: { partition: `t-${p}`, offset } }] },
});

describe('defects of the local event source', () => {
  it('1: a rebalance while a batch is in flight: [0..9], [0..9] concurrently, [20..29]; commits 10, 20, 30 lose 10-19', async () => {
    const h = harness({ batchSize: 10 }, (_call, n) => (n >= 2 ? ok : undefined));
    void h.mapping.push(range(0, 0, 29));
    await waitFor(() => (h.calls.length === 1 ? true : undefined));

    // Another member joins: the partition is revoked, then assigned back; kafkajs fetches again from the committed offset.
    h.mapping.assigned([]);
    h.mapping.assigned([{ topic: 't', partition: 0 }]);
    void h.mapping.push(range(0, 0, 29));
    await new Promise((r) => setTimeout(r, 20));
    h.calls[0]!.settle(ok);
    await new Promise((r) => setTimeout(r, 20));
    h.calls[1]?.settle(ok);
    await waitFor(() => (h.committed()['t-0'] === 30 ? true : undefined), { timeoutMs: 2000 });

    const inFlightTogether = h.calls[1] !== undefined && h.calls[1].offsets[0] === '0:0';
    expect(inFlightTogether, 'two batches of one partition in flight at once').toBe(false);
    const succeeded = h.succeeded();
    const lost = Array.from({ length: 30 }, (_, i) => `0:${i}`).filter((o) => !succeeded.has(o));
    expect(lost, 'committed but never delivered').toEqual([]);
  });

  it('2a: a healthy partition does not inherit the retries a poison partition used', async () => {
    // The poison partition has used two of its retries when a record of another partition
    // arrives and is batched with it: that record must not be discarded with the poison.
    let h: ReturnType<typeof harness> | undefined;
    h = harness({ maximumRetryAttempts: 2, batchingWindowMs: 200, initialBackoffMs: 30, maxBackoffMs: 30 }, (call, n) => {
      if (n === 1) setTimeout(() => void h!.mapping.push([record(1, 0)]), 0);
      return call.offsets.includes('0:0') ? { ok: false, error: 'poison' } : ok;
    });
    void h.mapping.push([record(0, 0)]);

    await waitFor(() => (h.succeeded().has('1:0') ? true : undefined), { timeoutMs: 2000, what: 't-1:0 to be delivered successfully' });
  });

  it('2b: partial failures at 5, 10, 12 count per record: 12-19 are delivered again, not discarded', async () => {
    const answers = [partialAt(0, 5), partialAt(0, 10), partialAt(0, 12)];
    const h = harness({ batchSize: 20, reportBatchItemFailures: true, maximumRetryAttempts: 2 }, (_c, n) => answers[n] ?? ok);
    void h.mapping.push(range(0, 0, 19));
    await waitFor(() => (h.committed()['t-0'] === 20 ? true : undefined), { timeoutMs: 2000 });

    const succeeded = h.succeeded();
    expect(range(0, 0, 19).map((r) => `0:${r.offset}`).filter((o) => !succeeded.has(o))).toEqual([]);
  });

  it('3: a partition stuck on a poison record does not hold back the fetches of another', async () => {
    const h = harness({ maxBufferedRecords: 20 }, (call) => (call.offsets.some((o) => o.startsWith('0:')) ? { ok: false, error: 'poison' } : ok));
    void h.mapping.push(range(0, 0, 24));
    await waitFor(() => (h.calls.length >= 1 ? true : undefined));

    const pushed = h.mapping.push(range(1, 0, 4)).then(() => 'accepted');
    const outcome = await Promise.race([pushed, new Promise((r) => setTimeout(() => r('still waiting'), 500))]);

    expect(outcome).toBe('accepted');
  });

  it('4: records whose retries are exhausted are not committed unless written to the destination', async () => {
    const h = harness({ maximumRetryAttempts: 1, onFailure: { kind: 'kafka', topic: 'dlq' } } as Partial<MappingSettings>, () => ({
      ok: false,
      error: 'always',
    }));
    void h.mapping.push([record(0, 0)]);
    await new Promise((r) => setTimeout(r, 200));

    const committedPastIt = (h.committed()['t-0'] ?? 0) > 0;
    expect(committedPastIt && h.destination.length === 0, 'committed, neither delivered nor written to the destination').toBe(false);
  });

  it('5: a record older than maximumRecordAgeInSeconds never reaches the function', async () => {
    const h = harness({ maximumRecordAgeInSeconds: 60 } as Partial<MappingSettings>, () => ok);
    void h.mapping.push([record(0, 0, Date.now() - 120_000)]);
    await new Promise((r) => setTimeout(r, 100));

    expect(h.calls).toHaveLength(0);
  });

  it('6: a non-UTF-8 value and a tombstone match no pattern, exists: false included', () => {
    const filter = compileFilterPatterns([{ value: [{ exists: false }] }]);

    expect(filter.matches(Buffer.from([0xff, 0xfe, 0x00]))).toBe(false);
    expect(filter.matches(null)).toBe(false);
  });

  it('6: a JSON scalar value is matched as JSON: numeric patterns apply to 150', () => {
    expect(compileFilterPatterns([{ value: [{ numeric: ['>', 100] }] }]).matches(Buffer.from('150'))).toBe(true);
  });

  it('7: a response that is not an object is not a success', () => {
    const batch = new Map([['t-0', new Set([0])]]);
    for (const response of ['ok', 42, true, [1]]) expect(interpretBatchResponse(response, batch).kind, JSON.stringify(response)).toBe('failure');
  });

  it('7: the plugin starts whatever the service says about ADMIN_TOKEN', async () => {
    const req = createRequire(__filename);
    const { startOfflineMsk } = req('tsx/cjs/api').require('../../../infra/offline-msk/plugin.ts', __filename) as {
      startOfflineMsk: (p: unknown) => Promise<{ stop: () => Promise<void> }>;
    };
    const service = {
      service: 's',
      provider: { environment: { ADMIN_TOKEN: 'short' } },
      custom: { offlineMsk: { brokers: '127.0.0.1:1' } },
      getAllFunctions: () => ['f'],
      getFunction: () => ({ name: 'f', events: [{ msk: { arn: 'arn:aws:kafka:us-east-1:1:cluster/c/1', topic: 't' } }] }),
    };
    const error = await startOfflineMsk({ service, cliOptions: {}, log: { ...silent, notice: () => undefined, warning: () => undefined }, env: {} }).then(
      (r) => r.stop().then(() => undefined),
      (e: Error) => e,
    );

    expect(String(error)).not.toMatch(/ADMIN_TOKEN/);
  }, 30_000);

  it('7: a kafkajs crash without restart restarts the consumer', async () => {
    const consumers: FakeConsumer[] = [];
    const kafka = { consumer: () => (consumers.push(new FakeConsumer()), consumers.at(-1)!) };
    const source = await startKafkaEventSource({
      kafka: kafka as never,
      topic: 't',
      groupId: 'g',
      startingPosition: 'TRIM_HORIZON',
      log: silent,
      invoke: () => Promise.resolve(ok),
      settings: harnessSettings(),
    });
    consumers[0]!.emit('consumer.crash', { error: new Error('fatal'), restart: false });
    await new Promise((r) => setTimeout(r, 300));

    expect(consumers.length, 'consumers created').toBeGreaterThan(1);
    await source.stop();
  });

  it('7: a commit kafkajs did not perform (runner stopped) is not recorded as done', async () => {
    const consumers: FakeConsumer[] = [];
    const kafka = { consumer: () => (consumers.push(new FakeConsumer()), consumers.at(-1)!) };
    const source = await startKafkaEventSource({
      kafka: kafka as never,
      topic: 't',
      groupId: 'g',
      startingPosition: 'TRIM_HORIZON',
      log: silent,
      invoke: () => Promise.resolve(ok),
      settings: harnessSettings(),
    });
    const consumer = consumers[0]!;
    consumer.running = false; // kafkajs' runner.commitOffsets returns without committing
    await consumer.deliver(range(0, 0, 2));
    await new Promise((r) => setTimeout(r, 100));
    consumer.running = true;
    await new Promise((r) => setTimeout(r, 300));

    expect(consumer.brokerCommitted['t-0'], 'offset the broker holds').toBe('3');
    await source.stop();
  });

  it('issue 14: a retriable kafkajs crash at start is one WARN line without a stack, never an ERROR', () => {
    const lines: Array<{ level: string; message: string; extra: Record<string, unknown> | undefined }> = [];
    const logger = {
      debug: () => undefined,
      info: () => undefined,
      warn: (message: string, extra?: Record<string, unknown>) => lines.push({ level: 'warn', message, extra }),
      error: (message: string, extra?: Record<string, unknown>) => lines.push({ level: 'error', message, extra }),
    };
    const kafka = createKafka({ kafka: { auth: 'none', connectTimeoutMs: 1000, sendTimeoutMs: 1000 } as never, brokers: ['b:1'], logger: logger as never });
    const crash = "Crash: KafkaJSProtocolError: The coordinator is loading and hence can't process requests";
    for (let i = 0; i < 3; i++) kafka.logger().error(crash, { retryCount: i, stack: 'KafkaJSProtocolError: ...\n    at ...', groupId: 'g' });

    expect(lines.filter((l) => l.level === 'error')).toEqual([]);
    expect(lines.filter((l) => l.level === 'warn')).toHaveLength(1);
    expect(JSON.stringify(lines)).not.toContain('stack');
  });
});

function harnessSettings(): MappingSettings {
  return {
    functionName: 'fn',
    batchSize: 10,
    batchingWindowMs: 0,
    source: { kind: 'msk', eventSourceArn: 'arn:aws:kafka:us-east-1:123456789012:cluster/c/1', bootstrapServers: ['b:9092'] },
    filter: compileFilterPatterns([]),
    reportBatchItemFailures: false,
    maximumRetryAttempts: -1,
    initialBackoffMs: 1,
    maxBackoffMs: 2,
    maxBufferedRecords: 1000,
    maxEventBytes: MAPPING_DEFAULTS.maxEventBytes,
  };
}

/** Just enough of a kafkajs consumer: events, run with eachBatch, and commits that need a running runner. */
class FakeConsumer {
  events = {
    GROUP_JOIN: 'consumer.group_join',
    CRASH: 'consumer.crash',
    COMMIT_OFFSETS: 'consumer.commit_offsets',
    REBALANCING: 'consumer.rebalancing',
    STOP: 'consumer.stop',
  };
  running = true;
  brokerCommitted: Record<string, string> = {};
  #listeners = new Map<string, Array<(e: { payload: unknown }) => void>>();
  #eachBatch: ((payload: unknown) => Promise<void>) | undefined;
  on(name: string, listener: (e: { payload: unknown }) => void) {
    this.#listeners.set(name, [...(this.#listeners.get(name) ?? []), listener]);
    return () => undefined;
  }
  emit(name: string, payload: unknown) {
    for (const l of this.#listeners.get(name) ?? []) l({ payload });
  }
  connect = () => Promise.resolve();
  disconnect = () => Promise.resolve();
  subscribe = () => Promise.resolve();
  pause = () => undefined;
  resume = () => undefined;
  paused = () => [];
  run = (config: { eachBatch: (payload: unknown) => Promise<void> }) => {
    this.#eachBatch = config.eachBatch;
    setTimeout(() => this.emit(this.events.GROUP_JOIN, { memberAssignment: { t: [0] } }), 5);
    return Promise.resolve();
  };
  commitOffsets = (offsets: PartitionOffset[]) => {
    if (!this.running) return Promise.resolve();
    for (const o of offsets) this.brokerCommitted[`${o.topic}-${o.partition}`] = o.offset;
    this.emit(this.events.COMMIT_OFFSETS, { topics: [{ topic: 't', partitions: offsets.map((o) => ({ partition: o.partition, offset: o.offset })) }] });
    return Promise.resolve();
  };
  async deliver(records: ConsumedRecord[]) {
    await this.#eachBatch?.({
      batch: {
        topic: 't',
        partition: records[0]!.partition,
        messages: records.map((r) => ({ offset: r.offset, timestamp: String(r.timestamp), key: r.key, value: r.value, headers: {}, attributes: 0 })),
      },
      isRunning: () => true,
      isStale: () => false,
      heartbeat: () => Promise.resolve(),
    });
  }
}
