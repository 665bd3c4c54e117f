/**
 * The service's base errors. Whether a failure is worth trying again is a property of its
 * type: a `RetriableError` is tried again (or fails a Kafka batch so it is redelivered),
 * any other `ServiceError` is answered with a clear error or dead-lettered. Each boundary
 * names its own errors next to it (src/kafka/errors.ts, src/http/errors.ts, …).
 */
export class ServiceError extends Error {
  readonly retriable: boolean = false;

  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
  }
}

/** A failure that may pass when tried again (a dependency busy, unreachable or slow). */
export class RetriableError extends ServiceError {
  override readonly retriable: boolean = true;
}

/** A dependency did not answer within its bound. */
export class TimeoutError extends RetriableError {}

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

export function isRetriable(error: unknown): boolean {
  return error instanceof ServiceError && error.retriable;
}

/** What to log or answer about any thrown value. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
