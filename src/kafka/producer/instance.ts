/**
 * One kafkajs producer and what is known about its connection: opened within the
 * connection's own budget, closed without waiting long. A producer instance whose
 * connection is bad is closed and replaced, never reused (kafkajs #907, #919).
 */
import type { Kafka, Producer } from 'kafkajs';
import { withTimeout } from '../../timeout';
import { KafkaUnavailableError } from '../errors';
import { recordingPartitioner } from './acks';

const DISCONNECT_TIMEOUT_MS = 1000;

export interface Instance {
  producer: Producer;
  /** Acknowledgements received so far: one after a send started proves the connection alive. */
  acks: number;
  /** Closed, or being closed: no send goes to it any more. */
  discarded: boolean;
}

/** Disconnects a kafkajs producer, within a bound, ignoring how it fails (it ends its retries). */
export function close(producer: Producer): Promise<void> {
  return withTimeout(producer.disconnect(), DISCONNECT_TIMEOUT_MS, () => new Error('disconnect timed out')).catch(() => undefined);
}

/**
 * Opens instances: each within `boundMs` for everything a connection takes (the client's
 * creation on first use, with MSK discovery, then TCP, TLS and authentication).
 */
export function instanceOpener(params: { kafka: () => Promise<Kafka> | Kafka; boundMs: number }): () => Promise<Instance> {
  const { boundMs } = params;
  let kafka: Kafka | undefined;
  return async () => {
    const deadline = Date.now() + boundMs;
    const remaining = () => Math.max(deadline - Date.now(), 1);
    const tooLong = () =>
      new KafkaUnavailableError(`connecting to Kafka (discovery, TLS, authentication) took more than ${boundMs} ms`, {
        outcome: 'not_sent',
      });
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
      void close(fresh);
      throw error;
    }
    return { producer: fresh, acks: 0, discarded: false };
  };
}
