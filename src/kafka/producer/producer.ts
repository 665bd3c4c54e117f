/**
 * The container's producer: created lazily, reused across invocations, idempotent with
 * acks=all, and every wait bounded.
 *
 * Two kafkajs traps shape it: a producer whose connection the broker severed can stay
 * "disconnected" and reject every send (kafkajs #907), and a send that hit ETIMEDOUT can
 * retry forever without reconnecting (kafkajs #919). So a producer instance whose
 * connection is bad is discarded (disconnecting it ends its retries) and the next send
 * builds a fresh one. The connection is a state machine (./states.ts: idle, connecting,
 * connected, unavailable). What counts, and what does not:
 *
 * - The connection has its own budget (KAFKA_CONNECT_TIMEOUT_MS, plus a margin): broker
 *   discovery (MSK's GetBootstrapBrokers), TCP, TLS and authentication together. A send
 *   made while no connection is ready waits for it within that budget, and only then
 *   does its own deadline start: the first send of a new container is not lost to a slow
 *   handshake. The container's producer starts connecting when it is made (../container.ts),
 *   during Lambda's init phase.
 * - Each send has two bounds (./send.ts). The caller's deadline (`timeoutMs`, else
 *   KAFKA_SEND_TIMEOUT_MS) settles the caller's promise. The attempt itself runs until the
 *   broker answers or its own bound passes (KAFKA_SEND_TIMEOUT_MS, or the caller's longer
 *   deadline): a caller that stops waiting early does not end it, so a slow but healthy
 *   broker is never taken for a broken one, and its records may still be written.
 * - Only an attempt that fails in a way that means its connection is bad (./failures.ts: a
 *   connection or request-timeout error, "the producer is disconnected", a lost idempotent
 *   session, no answer within its own bound) discards an instance, only the instance it ran
 *   on, and only if no acknowledgement arrived on that instance after the attempt started
 *   (an acknowledgement proves the connection alive). A failure on an instance that was
 *   already replaced never touches its replacement.
 * - A fresh connection that fails means the broker cannot be reached: for `backoffMs`
 *   after it, sends fail at once (outcome `not_sent`) instead of each waiting out its
 *   deadline, so callers stay fast while Kafka is down (./backoff.ts).
 *
 * Retries are bounded too, so a discarded instance stops by itself; the price is that a
 * record retried through a fresh instance may be written twice, which consumers absorb by
 * deduplicating on the event id.
 *
 * A send of several records is one kafkajs `sendBatch`: one produce request per broker, each
 * partition's records in the order given (one record batch). It resolves with one
 * acknowledgement per record once all are acknowledged (./acks.ts); if it fails, none counts
 * as acknowledged, though the records of some partitions may have been written.
 */
import { withTimeout } from '../../timeout';
import { createBackoff } from './backoff';
import { createConnection } from './connection';
import { createInFlight } from './in-flight';
import { instanceOpener } from './instance';
import { createSender } from './send';
import { createStats } from './stats';
import type { ContainerProducer, ContainerProducerParams } from './types';

export function createContainerProducer(params: ContainerProducerParams): ContainerProducer {
  const { logger, sendTimeoutMs } = params;
  const backoffMs = params.backoffMs ?? 1000;
  const backoff = createBackoff({ backoffMs, maxBackoffMs: Math.max(params.maxBackoffMs ?? 30_000, backoffMs) });
  // The connection's own budget, discovery included; the margin lets kafkajs' own
  // connection timeout (the same value, per broker connection) fire first.
  const connectBoundMs = params.connectTimeoutMs + 500;
  const stats = createStats(params.onSend);
  const inFlight = createInFlight();
  const connection = createConnection({
    open: instanceOpener({ kafka: params.kafka, boundMs: connectBoundMs }),
    backoff,
    stats,
    logger,
    explain: params.explain,
  });
  const send = createSender({ connection, backoff, stats, inFlight, logger, sendTimeoutMs });

  async function connectNow(options: { timeoutMs?: number } = {}): Promise<boolean> {
    if (connection.current()) return true;
    if (backoff.closed()) return false;
    const timeoutMs = options.timeoutMs ?? connectBoundMs;
    return withTimeout(connection.ready(), timeoutMs, () => new Error(`no connection within ${timeoutMs} ms`)).then(
      () => true,
      () => false,
    );
  }

  return {
    send,
    connect: connectNow,
    flush: (options = {}) => inFlight.flush(options.timeoutMs ?? sendTimeoutMs),
    disconnect: () => connection.disconnect(),
    state: () => stats.snapshot(connection.status(), inFlight.size()),
  };
}
