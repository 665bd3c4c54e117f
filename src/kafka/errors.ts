/** The errors of the Kafka boundary. */
import { RetriableError, ServiceError } from '../errors';

/**
 * What a failed send means for its records:
 * - `not_sent`: they never reached a broker (refused during the back-off, or no connection
 *   could be made), so they were not written;
 * - `unknown`: they may have been written (the broker did not acknowledge in time, or the
 *   connection failed after the request left), so a retry may write them twice. Consumers
 *   drop the second copy by event id, so a retry must keep the event's id.
 */
export type SendOutcome = 'not_sent' | 'unknown';

/** Kafka did not acknowledge in time or could not be reached; trying again may work. */
export class KafkaUnavailableError extends RetriableError {
  readonly outcome: SendOutcome;

  constructor(message: string, options: { cause?: unknown; outcome?: SendOutcome } = {}) {
    super(message, options.cause === undefined ? {} : { cause: options.cause });
    this.outcome = options.outcome ?? 'unknown';
  }
}

/** MSK's GetBootstrapBrokers failed; trying again may work. */
export class BrokerDiscoveryError extends RetriableError {}

/** The MSK cluster has no brokers for the configured KAFKA_AUTH: a setting to change. */
export class BrokerAuthMismatchError extends ServiceError {}

/** A topic could not be read to its end (./topic-reader.ts): it does not exist, or the read ran out of time. */
export class TopicReadError extends ServiceError {
  constructor(
    message: string,
    readonly reason: 'missing' | 'timeout',
  ) {
    super(message);
  }
}

/**
 * A compressed batch that would inflate past its bound (src/kafka/gzip.ts). Not retriable,
 * so kafkajs neither retries the fetch nor restarts the consumer on it.
 */
export class DecompressedBatchTooLargeError extends ServiceError {}

/**
 * The broker refused a topics request with an answer it says may pass (a topic not yet known
 * to every broker right after its creation, a leader being elected): worth asking again.
 */
export class TopicsNotReadyError extends RetriableError {}

/** Whether kafkajs marks the failure, or one of the failures it wraps, as one that may pass. */
export function brokerSaysItMayPass(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    if ((current as { retriable?: unknown }).retriable === true) return true;
    current = current.cause;
  }
  return false;
}
