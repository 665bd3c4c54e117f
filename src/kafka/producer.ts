/**
 * The container's producer: created lazily, reused across invocations, idempotent with
 * acks=all, and every wait bounded.
 *
 * Two kafkajs traps shape it: a producer whose connection the broker severed can stay
 * "disconnected" and reject every send (kafkajs #907), and a send that hit ETIMEDOUT can
 * retry forever without reconnecting (kafkajs #919). So a producer instance whose
 * connection is bad is discarded (disconnecting it ends its retries) and the next send
 * builds a fresh one. What counts, and what does not:
 *
 * - The connection has its own budget (KAFKA_CONNECT_TIMEOUT_MS, plus a margin): broker
 *   discovery (MSK's GetBootstrapBrokers), TCP, TLS and authentication together. A send
 *   made while no connection is ready waits for it within that budget, and only then
 *   does its own deadline start: the first send of a new container is not lost to a slow
 *   handshake. The container's producer starts connecting when it is made (./shared.ts),
 *   during Lambda's init phase.
 * - Each send has two bounds. The caller's deadline (`timeoutMs`, else
 *   KAFKA_SEND_TIMEOUT_MS) settles the caller's promise. The attempt itself runs until the
 *   broker answers or its own bound passes (KAFKA_SEND_TIMEOUT_MS, or the caller's longer
 *   deadline): a caller that stops waiting early does not end it, so a slow but healthy
 *   broker is never taken for a broken one, and its records may still be written.
 * - Only an attempt that fails in a way that means its connection is bad (a connection or
 *   request-timeout error, "the producer is disconnected", a lost idempotent session, no
 *   answer within its own bound) discards an instance, only the instance it ran on, and
 *   only if no acknowledgement arrived on that instance after the attempt started (an
 *   acknowledgement proves the connection alive). A failure on an instance that was
 *   already replaced never touches its replacement.
 * - A fresh connection that fails means the broker cannot be reached: for `backoffMs`
 *   after it, sends fail at once (outcome `not_sent`) instead of each waiting out its
 *   deadline, so callers stay fast while Kafka is down.
 *
 * Retries are bounded too, so a discarded instance stops by itself; the price is that a
 * record retried through a fresh instance may be written twice, which consumers absorb by
 * deduplicating on the event id.
 *
 * A send of several records is one kafkajs `sendBatch`: one produce request per broker, each
 * partition's records in the order given (one record batch). It resolves with one
 * acknowledgement per record once all are acknowledged; if it fails, none counts as
 * acknowledged, though the records of some partitions may have been written.
 */
import { CompressionTypes, Partitioners } from 'kafkajs';
import type { ICustomPartitioner, Kafka, Message, Producer, RecordMetadata } from 'kafkajs';
import { KafkaUnavailableError } from './errors';
import { missingPermission } from './permissions';
import type { NeededPermission } from './permissions';
import { withTimeout } from '../timeout';
import type { Logger } from '../logger';
import type { OutgoingRecord, RecordAck, RecordPublisher } from './records';
import { recordBytes } from './records';
import { errorMessage } from '../errors';

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

/**
 * Called once per record when its send settled, for metrics (src/metrics/send-observer.ts):
 * `success` once the broker acknowledged it, `error` otherwise; `bytes` is the record's
 * size (key, value and headers).
 */
export type SendObserver = (outcome: { topic: string; status: 'success' | 'error'; bytes: number }) => void;

export interface ContainerProducer extends RecordPublisher {
  state(): ProducerState;
  /** Connects now if not connected (bounded); resolves whether a connected producer is ready. */
  connect(options?: { timeoutMs?: number }): Promise<boolean>;
  /** Waits (bounded) until every send in flight has settled. */
  flush(options?: { timeoutMs?: number }): Promise<{ settled: number }>;
  disconnect(): Promise<void>;
}

const DISCONNECT_TIMEOUT_MS = 1000;

/** The attempt got no answer within its own bound. */
class NoAnswer extends KafkaUnavailableError {
  constructor(
    timeoutMs: number,
    /** The timer fired far later than set: the process was frozen (Lambda), not the broker slow. */
    readonly frozen: boolean,
  ) {
    super(`the broker did not acknowledge within ${timeoutMs} ms`, { outcome: 'unknown' });
  }
}

const CONNECTION_ERRORS = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound',
  'KafkaJSNoBrokerAvailableError',
]);
/** Protocol errors after which an idempotent producer's session is unusable. */
const SESSION_ERRORS = new Set([
  'OUT_OF_ORDER_SEQUENCE_NUMBER',
  'INVALID_PRODUCER_EPOCH',
  'UNKNOWN_PRODUCER_ID',
  'INVALID_PRODUCER_ID_MAPPING',
  'PRODUCER_FENCED',
]);
const SOCKET_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * Whether a failed send means its producer instance's connection (or idempotent session)
 * is bad. Other failures (a record too large, an unknown topic, a refused request) leave
 * the instance as it is: a fresh one would fail the same way.
 */
export function meansBadConnection(error: unknown, depth = 0): boolean {
  if (!(error instanceof Error) || depth > 5) return false;
  if (error instanceof NoAnswer) return !error.frozen;
  const e = error as Error & { type?: unknown; code?: unknown; originalError?: unknown };
  if (CONNECTION_ERRORS.has(e.name) || e.message === 'The producer is disconnected') return true;
  if (typeof e.type === 'string' && SESSION_ERRORS.has(e.type)) return true;
  if (typeof e.code === 'string' && SOCKET_ERRORS.has(e.code)) return true;
  return meansBadConnection(e.cause, depth + 1) || meansBadConnection(e.originalError, depth + 1);
}

/** What an idempotent send to `topics` needs of the caller's role (./permissions.ts). */
function writeNeeds(topics: readonly string[]): NeededPermission[] {
  return [
    ...topics.map((topic) => ({ action: 'kafka-cluster:WriteData', resource: `topic ${topic}` })),
    { action: 'kafka-cluster:WriteDataIdempotently', resource: 'the cluster' },
  ];
}

function toMessage(record: OutgoingRecord): Message {
  const message: Message = { key: record.key, value: record.value };
  if (record.headers) message.headers = record.headers;
  return message;
}

/** The partition kafkajs' default partitioner chose for each message it was given (weakly held). */
const chosenPartition = new WeakMap<Message, number>();

/** kafkajs' default partitioner, telling `chosenPartition` what it chose. */
const recordingPartitioner: ICustomPartitioner = () => {
  const partition = Partitioners.DefaultPartitioner();
  return (args) => {
    const chosen = partition(args);
    chosenPartition.set(args.message, chosen);
    return chosen;
  };
};

/**
 * One acknowledgement per record, in the order sent. kafkajs answers a request with one
 * entry per topic-partition (the offset of its first record) and keeps each partition's
 * records in the order given, so a record's offset is its partition's base offset plus
 * the records of that partition before it. A record whose partition is not known (a key-less
 * record moved to another partition by a retry of only part of the request) gets offset -1.
 */
function toAcks(sent: ReadonlyArray<{ topic: string; message: Message }>, metadata: RecordMetadata[]): RecordAck[] {
  const next = new Map<string, bigint>();
  for (const m of metadata) if (m.baseOffset !== undefined) next.set(`${m.topicName}\u0000${m.partition}`, BigInt(m.baseOffset));
  return sent.map(({ topic, message }) => {
    const partition = chosenPartition.get(message);
    const key = `${topic}\u0000${partition}`;
    const offset = partition === undefined ? undefined : next.get(key);
    if (partition === undefined || offset === undefined || offset < 0n) return { topic, partition: partition ?? -1, offset: '-1' };
    next.set(key, offset + 1n);
    return { topic, partition, offset: String(offset) };
  });
}


/** One kafkajs producer and what is known about its connection. */
interface Instance {
  producer: Producer;
  /** Acknowledgements received so far: one after a send started proves the connection alive. */
  acks: number;
  discarded: boolean;
}

export function createContainerProducer(params: {
  /** Builds the kafkajs client; called on first use (MSK discovery may run here). */
  kafka: () => Promise<Kafka> | Kafka;
  logger?: Logger;
  sendTimeoutMs: number;
  connectTimeoutMs: number;
  /** After a fresh connection failed, sends fail at once for this long (then one tries again). */
  backoffMs?: number;
  /** The longest back-off, reached by doubling while connections keep being refused for their credentials or certificates. */
  maxBackoffMs?: number;
  /**
   * Words for a connection refused for its credentials or certificates (which trying again
   * soon will not heal), else undefined: see explainConnectionFailure in ./client.ts.
   */
  explain?: (error: unknown) => string | undefined;
  onSend?: SendObserver;
}): ContainerProducer {
  const { logger, sendTimeoutMs, connectTimeoutMs, onSend } = params;
  const backoffMs = params.backoffMs ?? 1000;
  const maxBackoffMs = Math.max(params.maxBackoffMs ?? 30_000, backoffMs);
  // The connection's own budget, discovery included; the margin lets kafkajs' own
  // connection timeout (the same value, per broker connection) fire first.
  const connectBoundMs = connectTimeoutMs + 500;

  let kafka: Kafka | undefined;
  let current: Instance | undefined;
  let connecting: Promise<Instance> | undefined;
  let unavailableUntil = 0;
  /** Connections refused in a row for their credentials or certificates, and the last words logged for it. */
  let refusals = 0;
  let refusalLogged: string | undefined;
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

  function noteError(reason: unknown): void {
    state.lastError = errorMessage(reason);
    state.lastErrorAt = new Date().toISOString();
  }

  async function connect(): Promise<Instance> {
    const deadline = Date.now() + connectBoundMs;
    const remaining = () => Math.max(deadline - Date.now(), 1);
    const tooLong = () =>
      new KafkaUnavailableError(`connecting to Kafka (discovery, TLS, authentication) took more than ${connectBoundMs} ms`, { outcome: 'not_sent' });
    kafka ??= await withTimeout(Promise.resolve(params.kafka()), remaining(), tooLong);
    const fresh = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: recordingPartitioner,
      allowAutoTopicCreation: false,
      retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1000 },
    });
    try {
      await withTimeout(fresh.connect(), remaining(), tooLong);
    } catch (error) {
      void withTimeout(fresh.disconnect(), DISCONNECT_TIMEOUT_MS, () => new Error('disconnect timed out')).catch(() => undefined);
      throw error;
    }
    state.connects += 1;
    logger?.info('kafka producer connected', { connects: state.connects });
    return { producer: fresh, acks: 0, discarded: false };
  }

  /** The current instance, connecting one (shared by concurrent sends) when there is none. */
  function ready(): Promise<Instance> {
    if (current) return Promise.resolve(current);
    if (!connecting) {
      state.status = 'connecting';
      connecting = connect()
        .then(
          (instance) => {
            current = instance;
            state.status = 'connected';
            refusals = 0;
            refusalLogged = undefined;
            return instance;
          },
          (error: unknown) => {
            state.status = 'unavailable';
            const refused = params.explain?.(error);
            if (refused === undefined) {
              // The broker cannot be reached: fail fast for a while instead of each send waiting.
              refusals = 0;
              refusalLogged = undefined;
              unavailableUntil = Date.now() + backoffMs;
              noteError(error);
              logger?.warn('kafka producer could not connect', { error: errorMessage(error), retry_in_ms: backoffMs });
              throw error instanceof KafkaUnavailableError
                ? error
                : new KafkaUnavailableError(`Kafka could not be reached: ${errorMessage(error)}`, { cause: error, outcome: 'not_sent' });
            }
            // Refused for its credentials or certificates: only a change of configuration or
            // of the broker heals that, so the connection is tried again less and less often
            // (doubling up to maxBackoffMs), and the cause is logged once, not per attempt.
            refusals += 1;
            const retryInMs = Math.min(backoffMs * 2 ** Math.min(refusals - 1, 30), maxBackoffMs);
            unavailableUntil = Date.now() + retryInMs;
            noteError(refused);
            if (refused !== refusalLogged) {
              refusalLogged = refused;
              logger?.error(refused, { error: errorMessage(error), retries: 'less and less often, at most every ' + `${maxBackoffMs} ms` });
            } else {
              logger?.debug(refused, { retry_in_ms: retryInMs });
            }
            throw new KafkaUnavailableError(refused, { cause: error, outcome: 'not_sent' });
          },
        )
        .finally(() => {
          connecting = undefined;
        });
    }
    return connecting;
  }

  /** Throws this instance away (kafkajs #907, #919); the next send connects a fresh one. */
  function discard(instance: Instance, reason: unknown): void {
    if (instance.discarded) return;
    instance.discarded = true;
    if (current === instance) {
      current = undefined;
      state.status = 'unavailable';
      noteError(reason);
    }
    void withTimeout(instance.producer.disconnect(), DISCONNECT_TIMEOUT_MS, () => new Error('disconnect timed out')).catch(
      () => undefined,
    );
  }

  function observe(records: OutgoingRecord[], status: 'success' | 'error'): void {
    if (status === 'success') state.sent += records.length;
    else state.failed += records.length;
    if (!onSend) return;
    for (const r of records) onSend({ topic: r.topic, status, bytes: recordBytes(r) });
  }

  /**
   * One attempt, bounded by `boundMs` whatever its caller's deadline. `progress.sent` turns
   * true once the records are handed to a connected instance; a caller that gave up before
   * that (`progress.abandoned`) has them not sent at all, as it was told.
   */
  async function attempt(
    records: OutgoingRecord[],
    boundMs: number,
    progress: { sent: boolean; abandoned: boolean },
  ): Promise<RecordAck[]> {
    const started = Date.now();
    let instance: Instance;
    try {
      instance = await withTimeout(
        ready(),
        boundMs,
        () => new KafkaUnavailableError(`no connection to Kafka within ${boundMs} ms`, { outcome: 'not_sent' }),
      );
    } catch (error) {
      observe(records, 'error');
      throw error;
    }
    if (progress.abandoned) {
      observe(records, 'error');
      throw new KafkaUnavailableError('the caller stopped waiting before a connection was ready', { outcome: 'not_sent' });
    }
    const remaining = Math.max(boundMs - (Date.now() - started), 1);
    const sent = records.map((r) => ({ topic: r.topic, message: toMessage(r) }));
    const byTopic = new Map<string, Message[]>();
    for (const { topic, message } of sent) {
      const list = byTopic.get(topic) ?? [];
      list.push(message);
      byTopic.set(topic, list);
    }
    const acksBefore = instance.acks;
    progress.sent = true;
    try {
      const request = instance.producer.sendBatch({
        acks: -1,
        timeout: remaining,
        compression: CompressionTypes.None,
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      });
      // Counted even when it comes after this attempt gave up: it still proves the connection alive.
      void request.then(
        () => (instance.acks += 1),
        () => undefined,
      );
      const metadata = await withTimeout(request, remaining, (lateMs) => new NoAnswer(remaining, lateMs > Math.max(remaining, 1000)));
      if (current === instance) state.status = 'connected';
      observe(records, 'success');
      return toAcks(sent, metadata);
    } catch (error) {
      observe(records, 'error');
      const alive = instance.acks > acksBefore;
      if (meansBadConnection(error) && !alive) discard(instance, error);
      else if (current === instance) noteError(error);
      const topics = [...new Set(records.map((r) => r.topic))];
      const missing = missingPermission(error, writeNeeds(topics));
      logger?.warn('kafka send failed', {
        error: errorMessage(error),
        topics,
        records: records.length,
        ...(missing === undefined ? {} : { missing_permission: missing }),
      });
      throw error instanceof KafkaUnavailableError
        ? error
        : new KafkaUnavailableError(`Kafka did not acknowledge the records: ${errorMessage(error)}`, { cause: error, outcome: 'unknown' });
    }
  }

  async function send(records: OutgoingRecord[], options: { timeoutMs?: number } = {}): Promise<RecordAck[]> {
    if (records.length === 0) return [];
    const deadlineMs = options.timeoutMs ?? sendTimeoutMs;
    if (Date.now() < unavailableUntil) {
      observe(records, 'error');
      throw new KafkaUnavailableError(`Kafka is unavailable (${state.lastError ?? 'recent failure'}); not retried yet`, {
        outcome: 'not_sent',
      });
    }
    const progress = { sent: false, abandoned: false };
    // No connection yet (a new container, or after a broken one): it has its own budget,
    // and the send's deadline starts once it is ready.
    const connection = current ? undefined : ready();
    const running = (async () => {
      if (connection) {
        try {
          await connection;
        } catch (error) {
          observe(records, 'error');
          throw error;
        }
      }
      return attempt(records, Math.max(deadlineMs, sendTimeoutMs), progress);
    })();
    inFlight.add(running);
    state.inFlight = inFlight.size;
    void running
      .catch(() => undefined)
      .finally(() => {
        inFlight.delete(running);
        state.inFlight = inFlight.size;
      });
    if (connection) await connection.catch(() => undefined);
    return withTimeout(running, deadlineMs, () => {
      if (progress.sent) {
        return new KafkaUnavailableError(`Kafka did not acknowledge within ${deadlineMs} ms; the records may still be written`, {
          outcome: 'unknown',
        });
      }
      progress.abandoned = true;
      return new KafkaUnavailableError(`no connection to Kafka within ${deadlineMs} ms`, { outcome: 'not_sent' });
    });
  }

  async function connectNow(options: { timeoutMs?: number } = {}): Promise<boolean> {
    if (current) return true;
    if (Date.now() < unavailableUntil) return false;
    const timeoutMs = options.timeoutMs ?? connectBoundMs;
    return withTimeout(ready(), timeoutMs, () => new Error(`no connection within ${timeoutMs} ms`)).then(
      () => true,
      () => false,
    );
  }

  async function flush(options: { timeoutMs?: number } = {}): Promise<{ settled: number }> {
    const pending = [...inFlight];
    const timeoutMs = options.timeoutMs ?? sendTimeoutMs;
    await withTimeout(Promise.allSettled(pending), timeoutMs, () => new KafkaUnavailableError(`flush timed out after ${timeoutMs} ms`));
    return { settled: pending.length };
  }

  async function disconnect(): Promise<void> {
    const old = current;
    current = undefined;
    state.status = 'idle';
    if (!old) return;
    old.discarded = true;
    await withTimeout(old.producer.disconnect(), DISCONNECT_TIMEOUT_MS, () => new Error('disconnect timed out')).catch(() => undefined);
  }

  return { send, connect: connectNow, flush, disconnect, state: () => ({ ...state }) };
}
