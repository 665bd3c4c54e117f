import { describe, expect, it } from 'vitest';
import { createCommandConsumer } from '../../../src/commands';
import { createCommandHandlerTable } from '../../../src/commands/command-handlers';
import { createProcessedIds, derivedEventId } from '../../../src/consumers';
import { KafkaUnavailableError } from '../../../src/kafka/errors';
import { createEvent, parseEnvelope } from '../../../src/events';
import { DLQ_HEADERS } from '../../../src/kafka/dlq';
import { FakeTopics } from '../../helpers/fake-topics';
import { FakePublisher, TOPICS, config, fakeLogger, metrics, record, sampleValue } from '../../helpers/fakes';

const now = new Date('2026-01-31T12:34:56.789Z');

function setup(options: { publisher?: FakePublisher } = {}) {
  const publisher = options.publisher ?? new FakePublisher();
  const m = metrics();
  const processed = createProcessedIds();
  const build = () =>
    createCommandConsumer({ name: 'onCommand', config, publisher, logger: fakeLogger(), metrics: m, processed, now: () => now });
  return { publisher, m, consumer: build(), build };
}

const plainCommand = (json: Record<string, unknown>, key = 'client-42') => record({ topic: TOPICS.commands, key: Buffer.from(key), json });

describe('the command consumer', () => {
  it('answers a time.now in the plain shape with time.now.processed, the same correlation id and key', async () => {
    // Prepare
    const { consumer, publisher, m } = setup();
    const command = plainCommand({
      type: 'time.now',
      correlation_id: 'corr-42',
      timestamp: '2026-01-31T12:34:56',
      payload: { timezone: 'Europe/Paris', format: 'iso' },
      source: 'plain-client',
    });

    // Act
    const result = await consumer.processRecords([command]);

    // Assess
    expect(result.failed).toEqual([]);
    const [answer] = publisher.to(TOPICS.events);
    expect(answer?.key).toEqual(Buffer.from('client-42'));
    const event = parseEnvelope(JSON.parse(String(answer?.value)));
    expect(event).toMatchObject({
      event_type: 'time.now.processed',
      correlation_id: 'corr-42',
      source: 'sts/onCommand',
      data: { command_type: 'time.now', timezone: 'Europe/Paris', time: '2026-01-31T13:34:56.789+01:00' },
    });
    expect(answer?.headers).toMatchObject({ event_type: 'time.now.processed', correlation_id: 'corr-42' });
    expect(await sampleValue(m, 'commands_total', { command_type: 'time.now', outcome: 'processed' })).toBe(1);
  });

  it('answers a command in our envelope with an id derived from the command id', async () => {
    // Prepare
    const { consumer, publisher } = setup();
    const command = createEvent({ eventType: 'time.now', data: { format: 'unix' }, source: 'x', correlationId: 'c-7' });

    // Act
    await consumer.processRecords([record({ topic: TOPICS.commands, json: command })]);

    // Assess
    const [event] = publisher.values(TOPICS.events);
    expect(event).toMatchObject({ id: derivedEventId(command.id, 'time.now.processed'), correlation_id: 'c-7' });
    expect(event?.data).toMatchObject({ command_id: command.id, time: 1769862896 });
  });

  it('answers an unknown command type with command.rejected and the reason', async () => {
    // Prepare
    const { consumer, publisher, m } = setup();

    // Act
    await consumer.processRecords([plainCommand({ type: 'coffee.brew', correlation_id: 'c-9', payload: {} })]);

    // Assess
    const [event] = publisher.values(TOPICS.events);
    expect(event).toMatchObject({
      event_type: 'command.rejected',
      correlation_id: 'c-9',
      data: { command_type: 'coffee.brew', reason: 'unknown command type "coffee.brew"', known_commands: ['time.now'] },
    });
    expect(await sampleValue(m, 'commands_total', { command_type: 'coffee.brew', outcome: 'rejected' })).toBe(1);
  });

  it('answers a refused payload with command.rejected and the details', async () => {
    // Prepare
    const { consumer, publisher } = setup();

    // Act
    await consumer.processRecords([plainCommand({ type: 'time.now', correlation_id: 'c-10', payload: { timezone: 'Nowhere/Land' } })]);

    // Assess
    const [event] = publisher.values(TOPICS.events);
    expect(event).toMatchObject({ event_type: 'command.rejected', data: { reason: 'invalid time.now payload' } });
    expect(JSON.stringify(event?.data)).toContain('Nowhere/Land');
  });

  it('dead-letters a command without a correlation id, and answers the next one', async () => {
    // Prepare
    const { consumer, publisher } = setup();
    const orphan = plainCommand({ type: 'time.now', payload: {} });
    const next = plainCommand({ type: 'time.now', correlation_id: 'c-11' });

    // Act
    const result = await consumer.processRecords([orphan, next]);

    // Assess
    expect(result.outcomes.map((o) => o.outcome.status)).toEqual(['dead_lettered', 'processed']);
    const [dead] = publisher.to(TOPICS.dlq);
    expect(dead?.value).toEqual(orphan.value);
    expect(dead?.headers?.[DLQ_HEADERS.reason]).toBe('missing_correlation_id');
    expect(publisher.values(TOPICS.events).map((e) => e.correlation_id)).toEqual(['c-11']);
  });

  it('reports every command of a produce that was not acknowledged; delivered again, every command is answered once', async () => {
    // Prepare: the produce of the three answers is not acknowledged (once)
    const publisher = new FakePublisher();
    publisher.failNext(1, TOPICS.events);
    const { consumer, m } = setup({ publisher });
    const first = plainCommand({ type: 'time.now', correlation_id: 'c-1' });
    const second = plainCommand({ type: 'time.now', correlation_id: 'c-2' });
    const third = plainCommand({ type: 'time.now', correlation_id: 'c-3' });

    // Act: the batch, then what Lambda delivers again (from the reported offset), then the whole batch again
    const attempt = await consumer.processRecords([first, second, third]);
    const redelivery = await consumer.processRecords([first, second, third]);
    const wholeBatchAgain = await consumer.processRecords([first, second, third]);

    // Assess
    expect(attempt.outcomes.map((o) => o.outcome.status)).toEqual(['failed', 'failed', 'failed']);
    expect(attempt.failed.map((r) => r.offset)).toEqual([first.offset, second.offset, third.offset]);
    expect(redelivery.outcomes.map((o) => o.outcome.status)).toEqual(['processed', 'processed', 'processed']);
    expect(wholeBatchAgain.outcomes.map((o) => o.outcome.status)).toEqual(['duplicate', 'duplicate', 'duplicate']);
    expect(publisher.values(TOPICS.events).map((e) => e.correlation_id)).toEqual(['c-1', 'c-2', 'c-3']);
    expect(await sampleValue(m, 'commands_total', { command_type: 'time.now', outcome: 'failed' })).toBe(3);
    expect(await sampleValue(m, 'commands_total', { command_type: 'time.now', outcome: 'processed' })).toBe(3);
  });

  it('writes the answers before a command that fails retriably, and reports that command and every one after it', async () => {
    // Prepare
    const publisher = new FakePublisher();
    const commands = createCommandHandlerTable({
      'time.now': () => ({ ok: true }),
      'flaky.op': () => {
        throw new KafkaUnavailableError('downstream timed out');
      },
    });
    const consumer = createCommandConsumer({ name: 'onCommand', config, publisher, logger: fakeLogger(), commands });
    const records = [
      plainCommand({ type: 'time.now', correlation_id: 'c-1' }),
      plainCommand({ type: 'flaky.op', correlation_id: 'c-2' }),
      plainCommand({ type: 'time.now', correlation_id: 'c-3' }),
    ];

    // Act
    const result = await consumer.processRecords(records);

    // Assess
    expect(result.outcomes.map((o) => o.outcome.status)).toEqual(['processed', 'failed', 'not_attempted']);
    expect(result.failed.map((r) => r.offset)).toEqual([records[1]?.offset, records[2]?.offset]);
    expect(publisher.values(TOPICS.events).map((e) => e.correlation_id)).toEqual(['c-1']);
  });

  it('does not answer twice when a processed command is delivered again to the same container', async () => {
    // Prepare
    const { consumer, publisher } = setup();
    const command = plainCommand({ type: 'time.now', correlation_id: 'c-30' });
    await consumer.processRecords([command]);

    // Act
    const again = await consumer.processRecords([command]);

    // Assess
    expect(again.outcomes[0]?.outcome.status).toBe('duplicate');
    expect(publisher.to(TOPICS.events)).toHaveLength(1);
  });

  it('answers with the same event id when another container handles the command again', async () => {
    // Prepare
    const publisher = new FakePublisher();
    const command = plainCommand({ type: 'time.now', correlation_id: 'c-4' });
    const containerA = setup({ publisher }).consumer;
    const containerB = setup({ publisher }).consumer;

    // Act
    await containerA.processRecords([command]);
    await containerB.processRecords([command]);

    // Assess
    const ids = publisher.values(TOPICS.events).map((e) => e.id);
    expect(ids).toHaveLength(2);
    expect(ids[0]).toBe(ids[1]);
  });

  it('lets a retriable handler failure fail the record, and a handler bug dead-letter it', async () => {
    // Prepare
    const publisher = new FakePublisher();
    const commands = createCommandHandlerTable({
      'flaky.op': () => {
        throw new KafkaUnavailableError('downstream timed out');
      },
      'buggy.op': () => {
        throw new TypeError('cannot read properties of undefined');
      },
    });
    const consumer = createCommandConsumer({ name: 'onCommand', config, publisher, logger: fakeLogger(), commands });

    // Act
    const result = await consumer.processRecords([
      plainCommand({ type: 'buggy.op', correlation_id: 'c-5' }),
      record({ topic: TOPICS.commands, partition: 1, json: { type: 'flaky.op', correlation_id: 'c-6' } }),
    ]);

    // Assess
    expect(result.outcomes.map((o) => o.outcome.status)).toEqual(['dead_lettered', 'failed']);
    expect(publisher.to(TOPICS.dlq)[0]?.headers?.[DLQ_HEADERS.reason]).toBe('handler_error');
    expect(publisher.to(TOPICS.events)).toEqual([]);
  });

  it('answers a partition with one produce; one that fails after part of it was written reports every record from the first, and the next writes the same answers', async () => {
    // Prepare: four commands and a poison record on one partition, answered onto two partitions of the events topic
    const topics = new FakeTopics(2);
    topics.arm({ kind: 'partial', partitions: 1 });
    const m = metrics();
    const consumer = createCommandConsumer({
      name: 'onCommand',
      config,
      publisher: topics,
      logger: fakeLogger(),
      metrics: m,
      processed: createProcessedIds(),
    });
    const on0 = (offset: number, value: Buffer, key: string) =>
      record({ topic: TOPICS.commands, partition: 0, offset: String(offset), key: Buffer.from(key), value });
    const command = (n: number) => Buffer.from(JSON.stringify({ type: 'time.now', correlation_id: `c-${n}`, payload: { n } }));
    const records = [
      on0(0, command(0), 'client-0'),
      on0(1, command(1), 'client-1'),
      on0(2, Buffer.from('not json'), 'client-2'),
      on0(3, command(3), 'client-3'),
      on0(4, command(4), 'client-4'),
    ];
    const answerPartitions = new Set(records.map((r) => topics.partitionOf({ topic: TOPICS.events, key: r.key, value: null })));
    expect(answerPartitions.size).toBe(2);

    // Act: the batch, then the same records again (Lambda delivers from the first reported offset)
    const first = await consumer.processRecords(records);
    const landedAfterFirst = topics.landed().length;
    const countedAfterFirst = {
      failed: await sampleValue(m, 'commands_total', { command_type: 'time.now', outcome: 'failed' }),
      processed: await sampleValue(m, 'commands_total', { command_type: 'time.now', outcome: 'processed' }),
    };
    const second = await consumer.processRecords(records);

    // Assess: one produce per delivery, all of the partition's answers and its dead letter in it
    expect(topics.requests).toHaveLength(2);
    expect(topics.requests[0]?.records.map((r) => r.topic)).toEqual([
      TOPICS.events,
      TOPICS.events,
      TOPICS.dlq,
      TOPICS.events,
      TOPICS.events,
    ]);
    // Part of the first request landed, none of it was acknowledged: every record is reported
    expect(landedAfterFirst).toBeGreaterThan(0);
    expect(landedAfterFirst).toBeLessThan(5);
    expect(first.failed.map((r) => r.offset)).toEqual(['0', '1', '2', '3', '4']);
    expect(first.outcomes.map((o) => o.outcome.status)).toEqual(['failed', 'failed', 'failed', 'failed', 'failed']);
    expect(countedAfterFirst).toEqual({ failed: 4, processed: undefined });
    // The second delivery is done, and what landed twice is the same event twice
    expect(second.failed).toEqual([]);
    expect(second.outcomes.map((o) => o.outcome.status)).toEqual(['processed', 'processed', 'dead_lettered', 'processed', 'processed']);
    const ids = topics
      .landed()
      .filter((l) => l.record.topic === TOPICS.events)
      .map((l) => (JSON.parse(String(l.record.value)) as { id: string }).id);
    expect(ids.length).toBeGreaterThan(4);
    expect(new Set(ids).size).toBe(4);
    expect(await sampleValue(m, 'commands_total', { command_type: 'time.now', outcome: 'processed' })).toBe(4);
  });
});
