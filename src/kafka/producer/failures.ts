/**
 * Which failed sends mean their producer instance's connection (or idempotent session) is
 * bad, so the instance is discarded; every other failure leaves it as it is.
 */
import { KafkaUnavailableError } from '../errors';

/** The attempt was not acknowledged within its own bound. */
export class NotAcknowledged extends KafkaUnavailableError {
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
const SOCKET_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * Whether a failed send means its producer instance's connection (or idempotent session)
 * is bad. Other failures (a record too large, an unknown topic, a refused request) leave
 * the instance as it is: a fresh one would fail the same way.
 */
export function meansBadConnection(error: unknown, depth = 0): boolean {
  if (!(error instanceof Error) || depth > 5) return false;
  if (error instanceof NotAcknowledged) return !error.frozen;
  const e = error as Error & { type?: unknown; code?: unknown; originalError?: unknown };
  if (CONNECTION_ERRORS.has(e.name) || e.message === 'The producer is disconnected') return true;
  if (typeof e.type === 'string' && SESSION_ERRORS.has(e.type)) return true;
  if (typeof e.code === 'string' && SOCKET_ERRORS.has(e.code)) return true;
  return meansBadConnection(e.cause, depth + 1) || meansBadConnection(e.originalError, depth + 1);
}
