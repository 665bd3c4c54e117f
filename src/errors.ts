/**
 * One base error for the service. `retriable` decides what a caller does with it:
 * a retriable failure is tried again (or fails a Kafka batch so it is redelivered),
 * a non-retriable one is answered with a clear error or dead-lettered.
 */
export class ServiceError extends Error {
  readonly retriable: boolean;

  constructor(message: string, options: { cause?: unknown; retriable?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.retriable = options.retriable ?? false;
  }
}

/** Environment variables that are missing or invalid; the message names every one. */
export class ConfigError extends ServiceError {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration: ${problems.join('; ')}`);
  }
}

/** Input that can never be accepted (HTTP 400, or the dead-letter topic for a record). */
export class ValidationError extends ServiceError {
  constructor(
    message: string,
    readonly details: readonly string[] = [],
  ) {
    super(message);
  }
}

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
export class KafkaUnavailableError extends ServiceError {
  readonly outcome: SendOutcome;

  constructor(message: string, options: { cause?: unknown; outcome?: SendOutcome } = {}) {
    super(message, { ...(options.cause === undefined ? {} : { cause: options.cause }), retriable: true });
    this.outcome = options.outcome ?? 'unknown';
  }
}
