import { describe, expect, it } from 'vitest';
import type { Kafka, RecordMetadata } from 'kafkajs';
import { KafkaUnavailableError } from '../../../src/errors';
import { createContainerProducer } from '../../../src/kafka';

/** A fake kafkajs client whose producers do what the test says. */
function fakeKafka(behaviour: { send: (n: number) => Promise<RecordMetadata[]> }) {
  const made: Array<{ disconnected: boolean }> = [];
  let sends = 0;
  const kafka = {
    producer: () => {
      const p = { disconnected: false };
      made.push(p);
      return {
        connect: () => Promise.resolve(),
        disconnect: () => {
          p.disconnected = true;
          return Promise.resolve();
        },
        sendBatch: () => behaviour.send(++sends),
      };
    },
  } as unknown as Kafka; // a structural fake: only the methods the producer calls
  return { kafka, made, sends: () => sends };
}

const ack = (topic: string): RecordMetadata[] => [{ topicName: topic, partition: 1, errorCode: 0, baseOffset: '41' }];
const record = { topic: 't', key: 'k', value: 'v' };

describe('createContainerProducer', () => {
  it('connects once, lazily, and reuses the producer across sends', async () => {
    // Prepare
    const { kafka, made } = fakeKafka({ send: () => Promise.resolve(ack('t')) });
    const sent: string[] = [];
    const producer = createContainerProducer({
      kafka: () => kafka,
      sendTimeoutMs: 100,
      connectTimeoutMs: 100,
      onSend: ({ topic, status, bytes }) => sent.push(`${topic}:${status}:${bytes}`),
    });
    expect(made).toHaveLength(0);

    // Act
    const first = await producer.send([record]);
    await producer.send([record]);

    // Assess
    expect(made).toHaveLength(1);
    expect(first).toEqual([{ topic: 't', partition: 1, offset: '41' }]);
    expect(sent).toEqual(['t:success:1', 't:success:1']);
    expect(producer.state()).toMatchObject({ status: 'connected', connects: 1, sent: 2, failed: 0 });
  });

  it('times out a send that never completes, discards that producer, and fails fast during the back-off', async () => {
    // Prepare
    const { kafka, made, sends } = fakeKafka({ send: () => new Promise<RecordMetadata[]>(() => undefined) });
    const producer = createContainerProducer({ kafka: () => kafka, sendTimeoutMs: 50, connectTimeoutMs: 50, backoffMs: 60_000 });

    // Act
    const slow = producer.send([record]).catch((e: unknown) => e);
    const error = await slow;
    const fast = await producer.send([record]).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(KafkaUnavailableError);
    expect((error as KafkaUnavailableError).retriable).toBe(true);
    expect(made[0]?.disconnected).toBe(true);
    expect(fast).toBeInstanceOf(KafkaUnavailableError);
    expect(sends()).toBe(1); // the second send never reached a producer
    expect(made).toHaveLength(1);
    expect(producer.state()).toMatchObject({ status: 'unavailable', failed: 2 });
  });

  it('builds a fresh producer after the back-off and recovers', async () => {
    // Prepare: the first send fails, the rest succeed
    const { kafka, made } = fakeKafka({
      send: (n) => (n === 1 ? Promise.reject(new Error('Connection error: ECONNREFUSED')) : Promise.resolve(ack('t'))),
    });
    const producer = createContainerProducer({ kafka: () => kafka, sendTimeoutMs: 100, connectTimeoutMs: 100, backoffMs: 1 });

    // Act
    await expect(producer.send([record])).rejects.toThrow(KafkaUnavailableError);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const acks = await producer.send([record]);

    // Assess
    expect(acks).toHaveLength(1);
    expect(made).toHaveLength(2);
    expect(made[0]?.disconnected).toBe(true);
    expect(producer.state()).toMatchObject({ status: 'connected', connects: 2, lastError: expect.stringContaining('ECONNREFUSED') as unknown });
  });

  it('flush waits for the sends in flight', async () => {
    let release: (() => void) | undefined;
    const { kafka } = fakeKafka({
      send: () => new Promise<RecordMetadata[]>((resolve) => (release = () => resolve(ack('t')))),
    });
    const producer = createContainerProducer({ kafka: () => kafka, sendTimeoutMs: 1000, connectTimeoutMs: 100 });
    const sending = producer.send([record]);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const flushing = producer.flush();
    release?.();
    await expect(flushing).resolves.toEqual({ settled: 1 });
    await expect(sending).resolves.toHaveLength(1);
  });
});
