/** The errors of the protocol, and the two helpers every file of it shares. */

/**
 * The Pushgateway could not be read or written; trying again later may pass. `retriable`
 * is true, as a caller that sorts errors by that property expects.
 */
export class PushgatewayError extends Error {
  readonly retriable: boolean = true;

  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A JSON object (not null, not an array). */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
