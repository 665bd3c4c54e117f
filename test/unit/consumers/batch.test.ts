import { describe, expect, it, vi } from 'vitest';
import { createProcessedIds } from '../../../src/consumers';
import { createBatchProcessor } from '../../../src/consumers/batch';
import type { RecordDecision } from '../../../src/consumers';
import { RetriableError, ValidationError } from '../../../src/errors';
import { KafkaUnavailableError } from '../../../src/kafka/errors';
import { DLQ_HEADERS, createDeadLetterer } from '../../../src/kafka/dlq';
import type { ConsumedRecord, RecordPublisher } from '../../../src/kafka/records';
import { MAX_PRODUCE_BYTES } from '../../../src/consumers/outbox';
import { recordBytes } from '../../../src/kafka/records';
import { FakeTopics } from '../../helpers/fake-topics';
import { FakePublisher, fakeLogger, metrics, record, sampleValue } from '../../helpers/fakes';

/**
 * A processor whose decisions come from the record's value: "poison" is dead-lettered,
 * "fail-once:<id>" fails retriably the first time, "bug" throws a plain error, "bad"
 * throws a ValidationError, "answer:<id>" publishes an answer, anything else is handled
 * with the value as the id. Effects are recorded once a record is done.
 */
function setup(options: { dlqFailures?: number; publisher?: RecordPublisher; remainingTimeMs?: () => number } = {}) {
  const fake = new FakePublisher();
  if (options.dlqFailures) fake.failNext(options.dlqFailures, 'dlq');
  const publisher = options.publisher ?? fake;
  const logger = fakeLogger();
  const m = metrics();
  const processed = createProcessedIds();
  const effects: string[] = [];
  const failedOnce = new Set<string>();
  const decide = (r: ConsumedRecord): RecordDecision => {
    const text = r.value?.toString() ?? '';
    if (text === 'poison') return { kind: 'dead_letter', eventType: 'unknown', reason: 'not_json', error: 'not JSON' };
    if (text === 'skip') return { kind: 'skip', eventType: 'other', reason: 'a sibling handles it' };
    return {
      kind: 'handle',
      eventType: 'test',
      id: text,
      correlationId: `c-${text}`,
      prepare: () => {
        if (text.startsWith('fail-once') && !failedOnce.has(text)) {
          failedOnce.add(text);
          return Promise.reject(new KafkaUnavailableError('broker did not acknowledge'));
        }
        if (text === 'bug') return Promise.reject(new TypeError('x is undefined'));
        if (text === 'bad') return Promise.reject(new ValidationError('invalid test data', ['data.n: expected number']));
        const publish = text.startsWith('answer') ? [{ topic: 'answers', key: r.key, value: text }] : [];
        return Promise.resolve({ publish, done: () => effects.push(text) });
      },
    };
  };
  const processor = createBatchProcessor({
    consumer: 'onTest',
    decide,
    publisher,
    deadLetterer: createDeadLetterer({ topic: 'dlq', consumer: 'onTest' }),
    sendTimeoutMs: 1000,
    processed,
    metrics: m,
    logger,
  });
  const process = (records: ConsumedRecord[]) =>
    processor.process(records, options.remainingTimeMs ? { remainingTimeMs: options.remainingTimeMs } : {});
  return { processor, process, publisher: fake, logger, m, effects };
}

const on = (partition: number, value: string, offset: string) => record({ topic: 'events', partition, offset, value: Buffer.from(value) });

describe('createBatchProcessor', () => {
  it('dead-letters a poison record and goes on with the rest of its partition', async () => {
    // Prepare
    const { processor, publisher, effects, m } = setup();
    const records = [on(0, 'a', '10'), on(0, 'poison', '11'), on(0, 'b', '12')];

    // Act
    const result = await processor.process(records);

    // Assess
    expect(result.failed).toEqual([]);
    expect(result.outcomes.map((o) => o.outcome.status)).toEqual(['processed', 'dead_lettered', 'processed']);
    expect(effects).toEqual(['a', 'b']);
    const [dead] = publisher.to('dlq');
    expect(dead?.value).toEqual(Buffer.from('poison'));
    expect(dead?.headers?.[DLQ_HEADERS.offset]).toBe('11');
    expect(await sampleValue(m, 'dead_letters_total', { topic: 'events', reason: 'not_json' })).toBe(1);
  });

  it('stops a partition at a retriable failure, reports that record and every one after it, and goes on with other partitions', async () => {
    // Prepare
    const { processor, effects } = setup();
    const records = [on(0, 'a', '1'), on(0, 'fail-once-x', '2'), on(0, 'c', '3'), on(1, 'd', '7'), on(1, 'e', '8')];

    // Act
    const result = await processor.process(records);

    // Assess
    expect(result.outcomes.map((o) => o.outcome.status)).toEqual(['processed', 'failed', 'not_attempted', 'processed', 'processed']);
    // Every record from the first failure on: safe whether Lambda redelivers from the lowest
    // reported offset or retries only the records listed.
    expect(result.failed.map((r) => [r.partition, r.offset])).toEqual([
      [0, '2'],
      [0, '3'],
    ]);
    expect(effects).toEqual(expect.arrayContaining(['a', 'd', 'e']));
    expect(effects).not.toContain('c');
  });

  it('does not repeat an effect when the batch is delivered again, and finishes what failed', async () => {
    // Prepare
    const { processor, effects, m } = setup();
    const batch = [on(0, 'a', '1'), on(0, 'fail-once-y', '2'), on(0, 'c', '3')];
    await processor.process(batch);

    // Act: the whole batch again (as after a timeout), then again
    const second = await processor.process(batch);
    const third = await processor.process(batch);

    // Assess
    expect(second.outcomes.map((o) => o.outcome.status)).toEqual(['duplicate', 'processed', 'processed']);
    expect(third.outcomes.map((o) => o.outcome.status)).toEqual(['duplicate', 'duplicate', 'duplicate']);
    expect(effects).toEqual(['a', 'fail-once-y', 'c']);
    expect(await sampleValue(m, 'duplicates_suppressed_total', { topic: 'events', event_type: 'test' })).toBe(4);
  });

  it('dead-letters a record whose handler fails without being retriable', async () => {
    // Prepare
    const { processor, publisher } = setup();

    // Act
    const result = await processor.process([on(0, 'bug', '1'), on(0, 'bad', '2'), on(0, 'ok', '3')]);

    // Assess
    expect(result.outcomes.map((o) => o.outcome)).toEqual([
      { status: 'dead_lettered', eventType: 'test', reason: 'handler_error' },
      { status: 'dead_lettered', eventType: 'test', reason: 'invalid_data' },
      { status: 'processed', eventType: 'test', id: 'ok' },
    ]);
    expect(publisher.to('dlq').map((r) => r.headers?.[DLQ_HEADERS.error])).toEqual([
      'x is undefined',
      'invalid test data: data.n: expected number',
    ]);
  });

  it('keeps a record whose dead-lettering failed: it is reported failed and its partition stops', async () => {
    // Prepare
    const { processor, publisher, logger } = setup({ dlqFailures: 1 });

    // Act
    const result = await processor.process([on(0, 'poison', '5'), on(0, 'b', '6')]);

    // Assess
    expect(result.outcomes.map((o) => o.outcome.status)).toEqual(['failed', 'not_attempted']);
    expect(result.failed.map((r) => r.offset)).toEqual(['5', '6']);
    expect(publisher.to('dlq')).toEqual([]);
    expect(logger.lines.some((l) => l.level === 'error' && l.message.includes('could not be dead-lettered'))).toBe(true);
  });

  it('counts every record by topic, event type and outcome', async () => {
    // Prepare
    const { processor, m } = setup();

    // Act
    await processor.process([on(0, 'a', '1'), on(0, 'poison', '2'), on(1, 'fail-once-z', '3')]);

    // Assess
    const received = (status: string, eventType = 'test') =>
      sampleValue(m, 'kafka_messages_received_total', { topic: 'events', event_type: eventType, status });
    expect(await received('processed')).toBe(1);
    expect(await received('dead_lettered', 'unknown')).toBe(1);
    expect(await received('failed')).toBe(1);
    expect(await sampleValue(m, 'kafka_consumer_lag_ms', { topic: 'events' }, 'kafka_consumer_lag_ms_count')).toBe(3);
  });

  it('treats a RetriableError as retriable', async () => {
    // Prepare
    const publisher = new FakePublisher();
    const processor = createBatchProcessor({
      consumer: 'onTest',
      decide: () => ({
        kind: 'handle',
        eventType: 'test',
        id: 'x',
        correlationId: 'c',
        prepare: () => Promise.reject(new RetriableError('downstream busy')),
      }),
      publisher,
      deadLetterer: createDeadLetterer({ topic: 'dlq', consumer: 'onTest' }),
      sendTimeoutMs: 1000,
      processed: createProcessedIds(),
      logger: fakeLogger(),
    });

    // Act
    const result = await processor.process([on(2, 'x', '9')]);

    // Assess
    expect(result.failed.map((r) => r.offset)).toEqual(['9']);
    expect(publisher.sent).toEqual([]);
  });

  it('runs the effect of an event id once when it arrives on two partitions of one batch', async () => {
    // Prepare: an effect that takes a moment, as a publish does; the same id on partitions 0 and 1
    const effects: string[] = [];
    const processor = createBatchProcessor({
      consumer: 'onTest',
      decide: (r) => ({
        kind: 'handle',
        eventType: 'test',
        id: r.value?.toString() ?? '',
        correlationId: 'c',
        prepare: async () => {
          await new Promise((resolve) => setTimeout(resolve, 5));
          return { publish: [{ topic: 'answers', key: null, value: 'a' }], done: () => effects.push(`${r.partition}:${r.offset}`) };
        },
      }),
      publisher: new FakePublisher(),
      deadLetterer: createDeadLetterer({ topic: 'dlq', consumer: 'onTest' }),
      sendTimeoutMs: 1000,
      processed: createProcessedIds(),
      logger: fakeLogger(),
    });

    // Act
    const result = await processor.process([on(0, 'same-id', '1'), on(1, 'same-id', '1')]);

    // Assess
    expect(effects).toHaveLength(1);
    expect(result.outcomes.map((o) => o.outcome.status).sort()).toEqual(['duplicate', 'processed']);
  });

  it('runs the effect again on another partition when its first run failed', async () => {
    // Prepare: the first run of the id fails retriably, the second succeeds
    const effects: string[] = [];
    let runs = 0;
    const processor = createBatchProcessor({
      consumer: 'onTest',
      decide: (r) => ({
        kind: 'handle',
        eventType: 'test',
        id: 'same-id',
        correlationId: 'c',
        prepare: async () => {
          const run = ++runs;
          await new Promise((resolve) => setTimeout(resolve, 5));
          if (run === 1) throw new KafkaUnavailableError('not acknowledged');
          return { done: () => effects.push(`${r.partition}`) };
        },
      }),
      publisher: new FakePublisher(),
      deadLetterer: createDeadLetterer({ topic: 'dlq', consumer: 'onTest' }),
      sendTimeoutMs: 1000,
      processed: createProcessedIds(),
      logger: fakeLogger(),
    });

    // Act
    const result = await processor.process([on(0, 'x', '1'), on(1, 'x', '1')]);

    // Assess: one failed (delivered again), the other ran the effect
    expect(effects).toHaveLength(1);
    expect(result.outcomes.map((o) => o.outcome.status).sort()).toEqual(['failed', 'processed']);
  });

  it("writes the batch's answers and dead letters with one produce, each partition's in record order", async () => {
    // Prepare
    const { process, publisher } = setup();
    const sends = vi.spyOn(publisher, 'send');

    // Act
    const result = await process([on(0, 'answer-1', '1'), on(0, 'poison', '2'), on(1, 'answer-4', '1'), on(0, 'answer-3', '3')]);

    // Assess
    expect(result.failed).toEqual([]);
    expect(sends).toHaveBeenCalledTimes(1);
    const written = sends.mock.calls[0]?.[0].map((r) => String(r.value)) ?? [];
    expect(written.filter((v) => v !== 'answer-4')).toEqual(['answer-1', 'poison', 'answer-3']);
    expect(written).toContain('answer-4');
  });

  it('fails every partition whose records were in a produce that failed, and only those', async () => {
    // Prepare: two partitions flush together (one produce, which fails); a third has nothing to write
    const { process, publisher } = setup();
    publisher.failNext(1);

    // Act
    const result = await process([on(0, 'answer-1', '1'), on(1, 'answer-2', '1'), on(2, 'plain', '1')]);

    // Assess
    expect(result.outcomes.map((o) => o.outcome.status)).toEqual(['failed', 'failed', 'processed']);
    expect(result.failed.map((r) => `${r.partition}:${r.offset}`).sort()).toEqual(['0:1', '1:1']);
  });

  it('keeps a produce that carries several partitions within MAX_PRODUCE_BYTES', async () => {
    // Prepare: two partitions of 300 KiB each
    const { process, publisher } = setup();
    const sends = vi.spyOn(publisher, 'send');

    // Act
    const result = await process([on(0, `answer-a-${'x'.repeat(300 * 1024)}`, '1'), on(1, `answer-b-${'x'.repeat(300 * 1024)}`, '1')]);

    // Assess
    expect(result.failed).toEqual([]);
    expect(sends.mock.calls.map(([records]) => records.length)).toEqual([1, 1]);
  });

  it('counts nothing done before its produce is acknowledged: a skip after a record not done is reported too', async () => {
    // Prepare: the produce carrying the dead letter fails
    const { process, effects, m } = setup({ dlqFailures: 1 });

    // Act
    const result = await process([on(0, 'a', '1'), on(0, 'poison', '2'), on(0, 'skip', '3'), on(0, 'b', '4')]);

    // Assess
    expect(result.outcomes.map((o) => o.outcome.status)).toEqual(['processed', 'failed', 'not_attempted', 'not_attempted']);
    expect(result.failed.map((r) => r.offset)).toEqual(['2', '3', '4']);
    expect(effects).toEqual(['a']);
    expect(
      await sampleValue(m, 'kafka_messages_received_total', { topic: 'events', event_type: 'other', status: 'skipped' }),
    ).toBeUndefined();
  });

  it('frees the ids it holds before it waits for one another partition holds', async () => {
    // Prepare: ids x and y on two partitions in opposite orders, each answer taking a produce
    const topics = new FakeTopics();
    const { process, effects } = setup({ publisher: topics });

    // Act
    const result = await process([on(0, 'answer-x', '1'), on(0, 'answer-y', '2'), on(1, 'answer-y', '1'), on(1, 'answer-x', '2')]);

    // Assess: each effect once, the other copy a duplicate, nothing waits forever
    expect(result.failed).toEqual([]);
    expect([...effects].sort()).toEqual(['answer-x', 'answer-y']);
    expect(result.outcomes.map((o) => o.outcome.status).sort()).toEqual(['duplicate', 'duplicate', 'processed', 'processed']);
  });

  it("bounds a produce's wait by the function's remaining time, and starts none without time for it", async () => {
    // Prepare: a produce that never answers, 300 ms left; then a function with 10 ms left
    vi.useFakeTimers();
    try {
      const topics = new FakeTopics(3, 5000);
      topics.arm({ kind: 'hang' });
      const deadline = Date.now() + 300;
      const slow = setup({ publisher: topics, remainingTimeMs: () => deadline - Date.now() });
      const late = setup({ publisher: topics, remainingTimeMs: () => 10 });

      // Act
      const started = Date.now();
      const result = slow.process([on(0, 'answer-1', '1'), on(0, 'answer-2', '2')]);
      await vi.advanceTimersByTimeAsync(300);
      const settled = await result;
      const lateResult = await late.process([on(0, 'answer-3', '3')]);

      // Assess
      expect(Date.now() - started).toBe(300);
      expect(settled.failed.map((r) => r.offset)).toEqual(['1', '2']);
      expect(lateResult.failed.map((r) => r.offset)).toEqual(['3']);
      expect(topics.requests).toHaveLength(1);
      expect(late.logger.lines.find((l) => l.level === 'warn')?.fields.error).toMatch(/ms left, too little to wait for Kafka/);
    } finally {
      vi.useRealTimers();
    }
  });

  it('splits what it writes into produces of at most MAX_PRODUCE_BYTES', async () => {
    // Prepare: three answers of 200 KiB each
    const { process, publisher } = setup();
    const sends = vi.spyOn(publisher, 'send');
    const big = (n: number) => on(0, `answer-${n}-${'x'.repeat(200 * 1024)}`, String(n));

    // Act
    const result = await process([big(1), big(2), big(3)]);

    // Assess
    expect(result.failed).toEqual([]);
    expect(sends.mock.calls.map(([records]) => records.length)).toEqual([2, 1]);
    for (const [records] of sends.mock.calls)
      expect(records.reduce((sum, r) => sum + recordBytes(r), 0)).toBeLessThanOrEqual(MAX_PRODUCE_BYTES);
  });
});
