/**
 * A send and its two bounds. The caller's deadline (`timeoutMs`, else KAFKA_SEND_TIMEOUT_MS)
 * settles the caller's promise; the attempt itself runs until the broker answers or its own
 * bound passes, so a caller that stops waiting early never has a slow but healthy broker
 * taken for a broken one. A send made while no connection is ready waits for it first, and
 * only then does its own deadline start.
 */
import { CompressionTypes } from 'kafkajs';
import type { Message, RecordMetadata } from 'kafkajs';
import { errorMessage } from '../../errors';
import type { Logger } from '../../logger';
import { withTimeout } from '../../timeout';
import { KafkaUnavailableError } from '../errors';
import { missingPermission } from '../permissions';
import type { NeededPermission } from '../permissions';
import type { OutgoingRecord, RecordAck } from '../records';
import { toAcks, toMessage } from './acks';
import type { Backoff } from './backoff';
import type { ConnectionDriver } from './connection';
import { NotAcknowledged, meansBadConnection } from './failures';
import type { InFlight } from './in-flight';
import type { Instance } from './instance';
import type { Stats } from './stats';

/**
 * Where a send stands: `sent` once its records are handed to a connected instance;
 * `abandoned` once its caller gave up before that, having been told they were not sent.
 */
interface Progress {
  sent: boolean;
  abandoned: boolean;
}

interface SendDeps {
  connection: ConnectionDriver;
  backoff: Backoff;
  stats: Stats;
  inFlight: InFlight;
  logger?: Logger | undefined;
  sendTimeoutMs: number;
}

/** What an idempotent send to `topics` needs of the caller's role (../permissions.ts). */
function writeNeeds(topics: readonly string[]): NeededPermission[] {
  return [
    ...topics.map((topic) => ({ action: 'kafka-cluster:WriteData', resource: `topic ${topic}` })),
    { action: 'kafka-cluster:WriteDataIdempotently', resource: 'the cluster' },
  ];
}

/** One kafkajs sendBatch of `records` on `instance`, each topic's records in the order given. */
function sendBatch(
  instance: Instance,
  sent: ReadonlyArray<{ topic: string; message: Message }>,
  timeoutMs: number,
): Promise<RecordMetadata[]> {
  const byTopic = new Map<string, Message[]>();
  for (const { topic, message } of sent) {
    const list = byTopic.get(topic) ?? [];
    list.push(message);
    byTopic.set(topic, list);
  }
  const request = instance.producer.sendBatch({
    acks: -1,
    timeout: timeoutMs,
    compression: CompressionTypes.None,
    topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
  });
  // Counted even when it comes after the attempt gave up: it still proves the connection alive.
  void request.then(
    () => (instance.acks += 1),
    () => undefined,
  );
  return request;
}

/** The attempt failed on `instance`: discard it if its connection is bad and nothing proved it alive meanwhile. */
function attemptFailed(deps: SendDeps, records: OutgoingRecord[], instance: Instance, acksBefore: number, error: unknown): never {
  const { connection, stats, logger } = deps;
  stats.observe(records, 'error');
  const alive = instance.acks > acksBefore;
  if (meansBadConnection(error) && !alive) connection.discard(instance, error);
  else if (connection.current() === instance) stats.noteError(error);
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

/** A connected instance within `boundMs`, unless the caller gave up meanwhile. */
async function instanceFor(deps: SendDeps, records: OutgoingRecord[], boundMs: number, progress: Progress): Promise<Instance> {
  let instance: Instance;
  try {
    instance = await withTimeout(
      deps.connection.ready(),
      boundMs,
      () => new KafkaUnavailableError(`no connection to Kafka within ${boundMs} ms`, { outcome: 'not_sent' }),
    );
  } catch (error) {
    deps.stats.observe(records, 'error');
    throw error;
  }
  if (progress.abandoned) {
    deps.stats.observe(records, 'error');
    throw new KafkaUnavailableError('the caller stopped waiting before a connection was ready', { outcome: 'not_sent' });
  }
  return instance;
}

/** One attempt, bounded by `boundMs` whatever its caller's deadline. */
async function attempt(deps: SendDeps, records: OutgoingRecord[], boundMs: number, progress: Progress): Promise<RecordAck[]> {
  const started = Date.now();
  const instance = await instanceFor(deps, records, boundMs, progress);
  const remaining = Math.max(boundMs - (Date.now() - started), 1);
  const sent = records.map((r) => ({ topic: r.topic, message: toMessage(r) }));
  const acksBefore = instance.acks;
  progress.sent = true;
  try {
    const request = sendBatch(instance, sent, remaining);
    const metadata = await withTimeout(request, remaining, (lateMs) => new NotAcknowledged(remaining, lateMs > Math.max(remaining, 1000)));
    deps.stats.observe(records, 'success');
    return toAcks(sent, metadata);
  } catch (error) {
    return attemptFailed(deps, records, instance, acksBefore, error);
  }
}

/** The attempt, after the connection it waits for (its own budget) when there was none. */
async function run(
  deps: SendDeps,
  records: OutgoingRecord[],
  connecting: Promise<Instance> | undefined,
  deadlineMs: number,
  progress: Progress,
): Promise<RecordAck[]> {
  if (connecting) {
    try {
      await connecting;
    } catch (error) {
      deps.stats.observe(records, 'error');
      throw error;
    }
  }
  return attempt(deps, records, Math.max(deadlineMs, deps.sendTimeoutMs), progress);
}

/** What the caller is told when its deadline passed. */
function deadlinePassed(deadlineMs: number, progress: Progress): KafkaUnavailableError {
  if (progress.sent) {
    return new KafkaUnavailableError(`Kafka did not acknowledge within ${deadlineMs} ms; the records may still be written`, {
      outcome: 'unknown',
    });
  }
  progress.abandoned = true;
  return new KafkaUnavailableError(`no connection to Kafka within ${deadlineMs} ms`, { outcome: 'not_sent' });
}

export function createSender(deps: SendDeps): (records: OutgoingRecord[], options?: { timeoutMs?: number }) => Promise<RecordAck[]> {
  const { connection, backoff, stats, inFlight, sendTimeoutMs } = deps;
  return async (records, options = {}) => {
    if (records.length === 0) return [];
    const deadlineMs = options.timeoutMs ?? sendTimeoutMs;
    if (backoff.closed()) {
      stats.observe(records, 'error');
      throw new KafkaUnavailableError(`Kafka is unavailable (${stats.lastError() ?? 'recent failure'}); not retried yet`, {
        outcome: 'not_sent',
      });
    }
    const progress: Progress = { sent: false, abandoned: false };
    // No connection yet (a new container, or after a broken one): it has its own budget,
    // and the send's deadline starts once it is ready.
    const connecting = connection.current() ? undefined : connection.ready();
    const running = run(deps, records, connecting, deadlineMs, progress);
    inFlight.track(running);
    if (connecting) await connecting.catch(() => undefined);
    return withTimeout(running, deadlineMs, () => deadlinePassed(deadlineMs, progress));
  };
}
