/**
 * The container's producer: created lazily, reused across invocations, idempotent with
 * acks=all, and every wait bounded.
 *
 * Two kafkajs traps shape it. A producer whose connection the broker severed can stay
 * "disconnected" and reject every send (kafkajs #907), and a send that hit ETIMEDOUT can
 * retry forever without reconnecting (kafkajs #919; an idempotent producer's retries
 * default to Number.MAX_SAFE_INTEGER). So a send that fails or does not finish in time
 * discards its producer (disconnecting it, which ends its retries) and the next send
 * builds a fresh one. Its retries are bounded too, so a discarded producer stops by
 * itself; the price is that a record retried through a fresh producer may be written
 * twice, which consumers absorb by deduplicating on the event id. While the broker is known to be down, sends fail at once for a
 * short back-off instead of each waiting out the timeout, so callers stay fast.
 */
import { CompressionTypes, Partitioners } from 'kafkajs';
import type { Kafka, Message, Producer, RecordMetadata } from 'kafkajs';
import { KafkaUnavailableError } from '../errors';
import type { Logger } from '../logger';
import type { OutgoingRecord, RecordAck, RecordPublisher } from './records';

export type ProducerStatus = 'idle' | 'connecting' | 'connected' | 'unavailable';

export interface ProducerState {
  status: ProducerStatus;
  connects: number;
  sent: number;
  failed: number;
  inFlight: number;
  lastError: string | undefined;
  lastErrorAt: string | undefined;
}

/** Called once per record after each send, for metrics (kafka_messages_sent_total and sizes). */
export type SendObserver = (outcome: { topic: string; status: 'success' | 'error'; bytes: number }) => void;

export interface ContainerProducer extends RecordPublisher {
  state(): ProducerState;
  /** Waits (bounded) until every send in flight has settled. */
  flush(options?: { timeoutMs?: number }): Promise<{ settled: number }>;
  disconnect(): Promise<void>;
}

const DISCONNECT_TIMEOUT_MS = 1000;

function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new KafkaUnavailableError(`${what} timed out after ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function byteLength(value: string | Buffer | null): number {
  if (value === null) return 0;
  return typeof value === 'string' ? Buffer.byteLength(value) : value.length;
}

function toMessage(record: OutgoingRecord): Message {
  const message: Message = { key: record.key, value: record.value };
  if (record.headers) message.headers = record.headers;
  return message;
}

function toAcks(metadata: RecordMetadata[]): RecordAck[] {
  return metadata.map((m) => ({ topic: m.topicName, partition: m.partition, offset: m.baseOffset ?? '-1' }));
}

export function createContainerProducer(params: {
  /** Builds the kafkajs client; called on first use (MSK discovery may run here). */
  kafka: () => Promise<Kafka> | Kafka;
  logger?: Logger;
  sendTimeoutMs: number;
  connectTimeoutMs: number;
  /** After a failure, sends fail at once for this long (then one is tried again). */
  backoffMs?: number;
  onSend?: SendObserver;
}): ContainerProducer {
  const { logger, sendTimeoutMs, connectTimeoutMs, onSend } = params;
  const backoffMs = params.backoffMs ?? 1000;

  let kafka: Kafka | undefined;
  let producer: Producer | undefined;
  let connecting: Promise<Producer> | undefined;
  let unavailableUntil = 0;
  const inFlight = new Set<Promise<unknown>>();
  const state: ProducerState = {
    status: 'idle',
    connects: 0,
    sent: 0,
    failed: 0,
    inFlight: 0,
    lastError: undefined,
    lastErrorAt: undefined,
  };

  async function connect(): Promise<Producer> {
    kafka ??= await params.kafka();
    const fresh = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false,
      retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1000 },
    });
    state.status = 'connecting';
    try {
      await withTimeout(fresh.connect(), connectTimeoutMs + 500, 'connecting the producer');
    } catch (error) {
      void fresh.disconnect().catch(() => undefined);
      throw error;
    }
    state.connects += 1;
    state.status = 'connected';
    logger?.info('kafka producer connected', { connects: state.connects });
    return fresh;
  }

  function ready(): Promise<Producer> {
    if (producer) return Promise.resolve(producer);
    connecting ??= connect()
      .then((p) => {
        producer = p;
        return p;
      })
      .finally(() => {
        connecting = undefined;
      });
    return connecting;
  }

  /** Throws away the current producer so the next send starts clean (kafkajs #907, #919). */
  function discard(reason: unknown): void {
    const message = reason instanceof Error ? reason.message : String(reason);
    state.status = 'unavailable';
    state.lastError = message;
    state.lastErrorAt = new Date().toISOString();
    unavailableUntil = Date.now() + backoffMs;
    const old = producer;
    producer = undefined;
    if (old) void withTimeout(old.disconnect(), DISCONNECT_TIMEOUT_MS, 'disconnect').catch(() => undefined);
  }

  function observe(records: OutgoingRecord[], status: 'success' | 'error'): void {
    if (!onSend) return;
    for (const r of records) onSend({ topic: r.topic, status, bytes: byteLength(r.value) });
  }

  async function sendNow(records: OutgoingRecord[], timeoutMs: number): Promise<RecordAck[]> {
    const started = Date.now();
    const p = await withTimeout(ready(), timeoutMs, 'connecting to Kafka');
    const remaining = Math.max(timeoutMs - (Date.now() - started), 1);
    const byTopic = new Map<string, Message[]>();
    for (const r of records) {
      const list = byTopic.get(r.topic) ?? [];
      list.push(toMessage(r));
      byTopic.set(r.topic, list);
    }
    const metadata = await withTimeout(
      p.sendBatch({
        acks: -1,
        timeout: remaining,
        compression: CompressionTypes.None,
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      }),
      remaining,
      'waiting for the broker to acknowledge',
    );
    return toAcks(metadata);
  }

  async function send(records: OutgoingRecord[], options: { timeoutMs?: number } = {}): Promise<RecordAck[]> {
    if (records.length === 0) return [];
    if (Date.now() < unavailableUntil) {
      state.failed += records.length;
      observe(records, 'error');
      throw new KafkaUnavailableError(`Kafka is unavailable (${state.lastError ?? 'recent failure'}); not retried yet`);
    }
    const attempt = sendNow(records, options.timeoutMs ?? sendTimeoutMs);
    inFlight.add(attempt);
    state.inFlight = inFlight.size;
    try {
      const acks = await attempt;
      state.sent += records.length;
      state.status = 'connected';
      observe(records, 'success');
      return acks;
    } catch (error) {
      state.failed += records.length;
      observe(records, 'error');
      discard(error);
      logger?.warn('kafka send failed', {
        error: error instanceof Error ? error.message : String(error),
        topics: [...new Set(records.map((r) => r.topic))],
        records: records.length,
      });
      throw error instanceof KafkaUnavailableError
        ? error
        : new KafkaUnavailableError('Kafka did not acknowledge the records', { cause: error });
    } finally {
      inFlight.delete(attempt);
      state.inFlight = inFlight.size;
    }
  }

  async function flush(options: { timeoutMs?: number } = {}): Promise<{ settled: number }> {
    const pending = [...inFlight];
    await withTimeout(Promise.allSettled(pending), options.timeoutMs ?? sendTimeoutMs, 'flush');
    return { settled: pending.length };
  }

  async function disconnect(): Promise<void> {
    const old = producer;
    producer = undefined;
    state.status = 'idle';
    if (old) await withTimeout(old.disconnect(), DISCONNECT_TIMEOUT_MS, 'disconnect').catch(() => undefined);
  }

  return { send, flush, disconnect, state: () => ({ ...state }) };
}
