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

/** Kafka did not acknowledge in time or could not be reached; trying again may work. */
export class KafkaUnavailableError extends ServiceError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { ...options, retriable: true });
  }
}
