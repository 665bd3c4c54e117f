import { describe, expect, it } from 'vitest';
import { createCommandConsumer } from '../../../src/commands';
import { createCommandRegistry } from '../../../src/commands/registry';
import { createProcessedIds, derivedEventId } from '../../../src/consumers';
import { KafkaUnavailableError } from '../../../src/kafka/errors';
import { createEvent, parseEnvelope } from '../../../src/events';
import { DLQ_HEADERS } from '../../../src/kafka/dlq';
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

const plainCommand = (json: Record<string, unknown>, key = 'client-42') =>
  record({ topic: TOPICS.commands, key: Buffer.from(key), json });

describe('the command consumer', () => {
  it("answers a time.now in the plain shape with time.now.processed, the same correlation id and key", async () => {
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

  it('reports a command whose answer was not acknowledged; delivered again, every command is answered once', async () => {
    // Prepare: the first answer is acknowledged, the second is not (once)
    const publisher = new FakePublisher();
    publisher.failNext(1, TOPICS.events, 1);
    const { consumer, m } = setup({ publisher });
    const first = plainCommand({ type: 'time.now', correlation_id: 'c-1' });
    const second = plainCommand({ type: 'time.now', correlation_id: 'c-2' });
    const third = plainCommand({ type: 'time.now', correlation_id: 'c-3' });

    // Act: the batch, then what Lambda delivers again (from the reported offset), then the whole batch again
    const attempt = await consumer.processRecords([first, second, third]);
    const redelivery = await consumer.processRecords([second, third]);
    const wholeBatchAgain = await consumer.processRecords([first, second, third]);

    // Assess
    expect(attempt.outcomes.map((o) => o.outcome.status)).toEqual(['processed', 'failed', 'not_attempted']);
    expect(attempt.failed.map((r) => r.offset)).toEqual([second.offset, third.offset]);
    expect(redelivery.outcomes.map((o) => o.outcome.status)).toEqual(['processed', 'processed']);
    expect(wholeBatchAgain.outcomes.map((o) => o.outcome.status)).toEqual(['duplicate', 'duplicate', 'duplicate']);
    expect(publisher.values(TOPICS.events).map((e) => e.correlation_id)).toEqual(['c-1', 'c-2', 'c-3']);
    expect(await sampleValue(m, 'commands_total', { command_type: 'time.now', outcome: 'failed' })).toBe(1);
    expect(await sampleValue(m, 'commands_total', { command_type: 'time.now', outcome: 'processed' })).toBe(3);
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
    const commands = createCommandRegistry({
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
});
