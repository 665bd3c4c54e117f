import { afterEach, describe, expect, it, vi } from 'vitest';
import { KafkaJSConnectionError, KafkaJSSASLAuthenticationError } from 'kafkajs';
import type { Kafka, ProducerBatch, ProducerConfig, RecordMetadata } from 'kafkajs';
import { KafkaUnavailableError } from '../../../src/kafka/errors';
import { createContainerProducer } from '../../../src/kafka';
import type { Logger } from '../../../src/logger';
import { FakeCluster } from '../../helpers/fake-cluster';

/** kafkajs' own SASL error (its type declarations omit the constructor's message). */
const saslError = (message: string): Error => new (KafkaJSSASLAuthenticationError as unknown as new (m: string) => Error)(message);

/** A fake kafkajs client whose producers do what the test says. */
function fakeKafka(behaviour: { send: (n: number) => Promise<RecordMetadata[]> }) {
  const made: Array<{ disconnected: boolean }> = [];
  let sends = 0;
  const partitionMetadata = [0, 1].map((partitionId) => ({ partitionErrorCode: 0, partitionId, leader: 0, replicas: [0], isr: [0] }));
  const kafka = {
    producer: (config: ProducerConfig) => {
      const p = { disconnected: false };
      made.push(p);
      const partitioner = config.createPartitioner?.();
      return {
        connect: () => Promise.resolve(),
        disconnect: () => {
          p.disconnected = true;
          return Promise.resolve();
        },
        // As kafkajs: each message goes through the producer's partitioner.
        sendBatch: ({ topicMessages }: ProducerBatch) => {
          for (const { topic, messages } of topicMessages ?? [])
            for (const message of messages) partitioner?.({ topic, partitionMetadata, message });
          return behaviour.send(++sends);
        },
      };
    },
  } as unknown as Kafka; // a structural fake: only the methods the producer calls
  return { kafka, made, sends: () => sends };
}

/** A send's acknowledgements or its error, as a value to match. */
const outcome = <T>(send: Promise<T>): Promise<{ acks: T } | { error: unknown }> =>
  send.then(
    (acks) => ({ acks }),
    (error: unknown) => ({ error }),
  );
const ack = (topic: string): RecordMetadata[] => [{ topicName: topic, partition: 1, errorCode: 0, baseOffset: '41' }];
/** Key "d" is partition 1 of two for kafkajs' default partitioner. */
const record = { topic: 't', key: 'd', value: 'v' };

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
    expect(sent).toEqual(['t:success:2', 't:success:2']); // key and value bytes
    expect(producer.state()).toMatchObject({ status: 'connected', connects: 1, sent: 2, failed: 0 });
  });

  it('answers a send of several records with one acknowledgement per record, at its partition and offset', async () => {
    // Prepare: records for two topics and several partitions, in one send
    const cluster = new FakeCluster();
    const producer = createContainerProducer({ kafka: () => cluster.kafka(), sendTimeoutMs: 1000, connectTimeoutMs: 1000 });
    await producer.send([{ topic: 'a', key: 'first', value: 'earlier' }]);
    const records = ['k1', 'k2', 'k1', 'k3', 'k2', 'k1'].map((key, i) => ({ topic: i % 2 === 0 ? 'a' : 'b', key, value: `v${i}` }));

    // Act
    const acks = await producer.send(records);

    // Assess: each acknowledgement points at its own record in the log
    expect(acks).toHaveLength(records.length);
    acks.forEach((ack, i) => {
      expect(ack.topic).toBe(records[i]?.topic);
      expect(String(cluster.logs.get(`${ack.topic}:${ack.partition}`)?.[Number(ack.offset)]?.value)).toBe(records[i]?.value);
    });
    expect(new Set(acks.map((a) => `${a.topic}:${a.partition}`)).size).toBeGreaterThan(1);
    await producer.disconnect();
  });

  it('times out a send that never completes and discards that producer; the next send connects a fresh one', async () => {
    // Prepare
    const { kafka, made, sends } = fakeKafka({
      send: (n) => (n === 1 ? new Promise<RecordMetadata[]>(() => undefined) : Promise.resolve(ack('t'))),
    });
    const producer = createContainerProducer({ kafka: () => kafka, sendTimeoutMs: 50, connectTimeoutMs: 50, backoffMs: 60_000 });

    // Act
    const error = await producer.send([record]).catch((e: unknown) => e);
    await new Promise((resolve) => setTimeout(resolve, 20)); // the attempt's own bound passes too
    const acks = await producer.send([record]);

    // Assess
    expect(error).toBeInstanceOf(KafkaUnavailableError);
    expect((error as KafkaUnavailableError).retriable).toBe(true);
    expect((error as KafkaUnavailableError).outcome).toBe('unknown');
    expect(made[0]?.disconnected).toBe(true);
    expect(acks).toHaveLength(1);
    expect(sends()).toBe(2);
    expect(made).toHaveLength(2);
    expect(producer.state()).toMatchObject({ status: 'connected', failed: 1, sent: 1 });
  });

  it('fails fast (not sent) during the back-off after a connection could not be made', async () => {
    // Prepare: connecting fails
    let connects = 0;
    const kafka = {
      producer: () => ({
        connect: () => {
          connects += 1;
          return Promise.reject(new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:1'));
        },
        disconnect: () => Promise.resolve(),
        sendBatch: () => Promise.reject(new Error('not connected')),
      }),
    } as unknown as Kafka; // a structural fake: only the methods the producer calls
    const producer = createContainerProducer({ kafka: () => kafka, sendTimeoutMs: 50, connectTimeoutMs: 50, backoffMs: 60_000 });

    // Act
    const first = await producer.send([record]).catch((e: unknown) => e);
    const second = await producer.send([record]).catch((e: unknown) => e);

    // Assess
    expect(first).toMatchObject({ outcome: 'not_sent' });
    expect(second).toMatchObject({ outcome: 'not_sent', message: expect.stringContaining('not retried yet') as unknown });
    expect(connects).toBe(1);
    expect(producer.state()).toMatchObject({ status: 'unavailable', failed: 2 });
  });

  it('builds a fresh producer after a connection error and recovers', async () => {
    // Prepare: the first send fails, the rest succeed
    const { kafka, made } = fakeKafka({
      send: (n) => (n === 1 ? Promise.reject(new KafkaJSConnectionError('Connection error: ECONNREFUSED')) : Promise.resolve(ack('t'))),
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
    expect(producer.state()).toMatchObject({
      status: 'connected',
      connects: 2,
      lastError: expect.stringContaining('ECONNREFUSED') as unknown,
    });
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

describe('createContainerProducer: a failure discards only the producer that failed, and only when its connection is bad', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a send stuck on a producer that was already replaced does not discard the healthy replacement when it times out', async () => {
    // Prepare: instance 1 breaks (its requests hang), one of its sends fails fast and it is replaced by instance 2
    vi.useFakeTimers();
    const cluster = new FakeCluster({ ackLatencyMs: 5 });
    const producer = createContainerProducer({ kafka: () => cluster.kafka(), sendTimeoutMs: 1000, connectTimeoutMs: 1000, backoffMs: 10 });
    const warm = producer.send([record]);
    await vi.advanceTimersByTimeAsync(20);
    await warm;
    cluster.drop('hang');
    cluster.restart();
    const stuck = producer.send([record]).catch((e: unknown) => e); // hangs on instance 1 until its timeout
    await vi.advanceTimersByTimeAsync(1);
    cluster.instances[0]!.failure = 'reject'; // the next request on instance 1 fails at once
    const failedFast = producer.send([record]).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(20);
    expect(await failedFast).toBeInstanceOf(KafkaUnavailableError);
    await vi.advanceTimersByTimeAsync(20); // past any back-off
    const replaced = producer.send([record]); // instance 2, healthy
    await vi.advanceTimersByTimeAsync(20);
    await replaced;

    // Act: the stuck send on instance 1 times out
    await vi.advanceTimersByTimeAsync(1000);
    expect(await stuck).toBeInstanceOf(KafkaUnavailableError);
    const next = producer.send([record]);
    await vi.advanceTimersByTimeAsync(10);

    // Assess: instance 2 is still the producer, and the next send is not refused
    await expect(next).resolves.toHaveLength(1);
    expect(cluster.instances).toHaveLength(2);
    expect(cluster.instances[1]?.disconnectedAt).toBeUndefined();
  });

  it("a caller's deadline shorter than a healthy broker's acknowledgement fails that send but keeps the producer", async () => {
    // Prepare: the broker acknowledges in 400 ms; the error-event middleware waits 300 ms
    vi.useFakeTimers();
    const cluster = new FakeCluster({ ackLatencyMs: 400 });
    const producer = createContainerProducer({ kafka: () => cluster.kafka(), sendTimeoutMs: 1000, connectTimeoutMs: 1000 });
    const warm = producer.send([record]);
    await vi.advanceTimersByTimeAsync(500);
    await warm;

    // Act
    const short = producer.send([record], { timeoutMs: 300 }).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(300);
    const shortOutcome = await short;
    const next = producer.send([record]);
    await vi.advanceTimersByTimeAsync(1000);

    // Assess: the short send failed for its caller; the producer was kept and the next send went through
    expect(shortOutcome).toBeInstanceOf(KafkaUnavailableError);
    await expect(next).resolves.toHaveLength(1);
    expect(cluster.instances).toHaveLength(1);
    expect(cluster.instances[0]?.disconnectedAt).toBeUndefined();
  });
});

describe('createContainerProducer: back-off only when the broker cannot be reached', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('an instance broken by a broker restart fails once; the sends after it connect afresh instead of being refused', async () => {
    // Prepare: instance 1 was broken by a restart the producer did not see
    vi.useFakeTimers();
    const cluster = new FakeCluster({ ackLatencyMs: 5 });
    const producer = createContainerProducer({
      kafka: () => cluster.kafka(),
      sendTimeoutMs: 1000,
      connectTimeoutMs: 1000,
      backoffMs: 1000,
    });
    const warm = producer.send([record]);
    await vi.advanceTimersByTimeAsync(20);
    await warm;
    cluster.drop('reject');
    cluster.restart();
    await vi.advanceTimersByTimeAsync(5000);

    // Act
    const first = producer.send([record]).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(5);
    const second = producer.send([record]).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(20);

    // Assess: the first failed on the broken instance; the second went through a fresh one
    expect(await first).toBeInstanceOf(KafkaUnavailableError);
    expect(await second).toHaveLength(1);
    expect(cluster.instances).toHaveLength(2);
  });
});

describe('createContainerProducer: a frozen container is not a broken broker', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a send whose bound passed while the process was frozen (Lambda between invocations) keeps its producer', async () => {
    // Prepare: a send in flight on a slow but healthy broker
    vi.useFakeTimers();
    const cluster = new FakeCluster({ ackLatencyMs: 5 });
    const producer = createContainerProducer({ kafka: () => cluster.kafka(), sendTimeoutMs: 1000, connectTimeoutMs: 1000 });
    const warm = producer.send([record]);
    await vi.advanceTimersByTimeAsync(20);
    await warm;
    cluster.ackLatencyMs = 30_000;
    const frozenSend = producer.send([record], { timeoutMs: 300 }).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(300); // the caller answered; then the container is frozen

    // Act: the clock jumps 10 minutes while no timer could run, then the process thaws
    vi.setSystemTime(Date.now() + 600_000);
    await vi.advanceTimersByTimeAsync(1000);

    // Assess: the attempt's bound fired 10 minutes late: not evidence against the connection
    expect(await frozenSend).toBeInstanceOf(KafkaUnavailableError);
    expect(cluster.instances).toHaveLength(1);
    expect(cluster.instances[0]?.disconnectedAt).toBeUndefined();
  });
});

describe('createContainerProducer: the first connection has its own budget (KAFKA_CONNECT_TIMEOUT_MS)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a first send on a cold container is delivered when its connection (TLS, SASL) takes longer than KAFKA_SEND_TIMEOUT_MS', async () => {
    // Prepare: the handshakes take 2.5 s; a send may wait 1 s for its acknowledgement
    vi.useFakeTimers();
    const cluster = new FakeCluster({ ackLatencyMs: 5, connectLatencyMs: 2500 });
    const producer = createContainerProducer({ kafka: () => cluster.kafka(), sendTimeoutMs: 1000, connectTimeoutMs: 5000 });

    // Act
    const first = outcome(producer.send([record]));
    await vi.advanceTimersByTimeAsync(2600);

    // Assess
    expect(await first).toMatchObject({ acks: [{ topic: 't' }] });
  });

  it('broker discovery counts in the connection budget, not in the send budget', async () => {
    // Prepare: GetBootstrapBrokers (or the SDK's import) takes 2 s before the client exists
    vi.useFakeTimers();
    const cluster = new FakeCluster({ ackLatencyMs: 5, connectLatencyMs: 5 });
    const kafka = () => new Promise<Kafka>((resolve) => setTimeout(() => resolve(cluster.kafka()), 2000));
    const producer = createContainerProducer({ kafka, sendTimeoutMs: 1000, connectTimeoutMs: 5000 });

    // Act
    const first = outcome(producer.send([record]));
    await vi.advanceTimersByTimeAsync(2100);

    // Assess
    expect(await first).toMatchObject({ acks: [{ topic: 't' }] });
  });

  it('a connection that takes longer than its budget fails the send as not sent, within the connection and send budgets', async () => {
    // Prepare: discovery never answers
    vi.useFakeTimers();
    const producer = createContainerProducer({
      kafka: () => new Promise<Kafka>(() => undefined),
      sendTimeoutMs: 1000,
      connectTimeoutMs: 3000,
    });

    // Act
    const started = Date.now();
    let settledAt: number | undefined;
    const first = producer.send([record]).catch((error: unknown) => {
      settledAt = Date.now();
      return error;
    });
    await vi.advanceTimersByTimeAsync(5000);

    // Assess
    expect(await first).toMatchObject({ outcome: 'not_sent' });
    expect(settledAt! - started).toBeGreaterThanOrEqual(3000);
    expect(settledAt! - started).toBeLessThanOrEqual(3000 + 500 + 1000);
  });
});

describe('createContainerProducer: a connection refused for its credentials or certificates', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('logs one clear error naming the cause, and tries again less and less often, up to its longest back-off', async () => {
    // Prepare: every connection is refused for a wrong password, and sends keep coming
    vi.useFakeTimers();
    let connects = 0;
    const refused = saslError('SASL SCRAM SHA512 authentication failed: invalid credentials');
    const kafka = {
      producer: () => ({
        connect: () => {
          connects += 1;
          return Promise.reject(refused);
        },
        disconnect: () => Promise.resolve(),
        sendBatch: () => Promise.reject(new Error('not connected')),
      }),
    } as unknown as Kafka; // a structural fake: only the methods the producer calls
    const logged: Array<[string, string]> = [];
    const logger = {
      info: () => undefined,
      debug: () => undefined,
      warn: (message: string) => logged.push(['warn', message]),
      error: (message: string) => logged.push(['error', message]),
    } as unknown as Logger; // a structural fake: only the levels the producer uses
    const producer = createContainerProducer({
      kafka: () => kafka,
      sendTimeoutMs: 1000,
      connectTimeoutMs: 1000,
      backoffMs: 1000,
      maxBackoffMs: 30_000,
      explain: (error) => (error === refused ? 'Kafka refused the login: check KAFKA_SASL_PASSWORD' : undefined),
      logger,
    });

    // Act: a send every 100 ms for two minutes
    const errors = new Set<string>();
    for (let t = 0; t < 120_000; t += 100) {
      void producer.send([record]).catch((error: unknown) => errors.add((error as Error).message));
      await vi.advanceTimersByTimeAsync(100);
    }

    // Assess: 1, 2, 4, 8, 16 s apart, then every 30 s (at 0, 1, 3, 7, 15, 31, 61 and 91 s):
    // 8 connections in two minutes, not 120; one error line; every caller told why
    expect(connects).toBe(8);
    expect(logged).toEqual([['error', 'Kafka refused the login: check KAFKA_SASL_PASSWORD']]);
    expect([...errors].every((m) => m.includes('check KAFKA_SASL_PASSWORD'))).toBe(true);
    expect(producer.state()).toMatchObject({ status: 'unavailable', lastError: 'Kafka refused the login: check KAFKA_SASL_PASSWORD' });
  });

  it('a connection that works again resets the back-off, and a broker that is merely down keeps the short one', async () => {
    // Prepare: refused twice, then accepted; later the broker goes down
    vi.useFakeTimers();
    let connects = 0;
    let mode: 'refuse' | 'accept' | 'down' = 'refuse';
    const refused = saslError('SASL SCRAM SHA512 authentication failed: invalid credentials');
    const kafka = {
      producer: () => ({
        connect: () => {
          connects += 1;
          if (mode === 'refuse') return Promise.reject(refused);
          if (mode === 'down')
            return Promise.reject(
              new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9094', { code: 'ECONNREFUSED' }),
            );
          return Promise.resolve();
        },
        disconnect: () => Promise.resolve(),
        sendBatch: () => Promise.reject(new KafkaJSConnectionError('Connection error: socket closed')),
      }),
    } as unknown as Kafka; // a structural fake: only the methods the producer calls
    const producer = createContainerProducer({
      kafka: () => kafka,
      sendTimeoutMs: 1000,
      connectTimeoutMs: 1000,
      backoffMs: 1000,
      maxBackoffMs: 30_000,
      explain: (error) => (error === refused ? 'refused' : undefined),
    });
    const sendEvery100ms = async (ms: number) => {
      for (let t = 0; t < ms; t += 100) {
        void producer.send([record]).catch(() => undefined);
        await vi.advanceTimersByTimeAsync(100);
      }
    };

    // Act
    await sendEvery100ms(2500); // refused at 0 and 1 s; the next try is due at 3 s
    mode = 'accept';
    await sendEvery100ms(1000); // connected at 3 s; its sends break it
    const afterAccept = connects;
    mode = 'down';
    await sendEvery100ms(5000);

    // Assess: after the success, a broker that is down is tried again every second or so
    expect(afterAccept).toBeGreaterThanOrEqual(3);
    expect(connects - afterAccept).toBeGreaterThanOrEqual(4);
  });
});
