/** What the container producer offers the service, and what it reports of itself. */
import type { Kafka } from 'kafkajs';
import type { Logger } from '../../logger';
import type { RecordPublisher } from '../records';

/** The connection's state (./states.ts), as `state()` reports it. */
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

export interface ContainerProducerParams {
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
   * soon will not heal), else undefined: see explainConnectionFailure in ../client.ts.
   */
  explain?: (error: unknown) => string | undefined;
  onSend?: SendObserver;
}
