/**
 * Values the service keeps out of its configuration: the admin token, the GET /metrics
 * token and the Kafka SASL password.
 *
 * - On AWS a function gets only the ARN of a Secrets Manager secret (`<NAME>_SECRET_ARN`)
 *   and permission to read that one secret (infra/aws/serverless-resources.cjs). The value
 *   is read on first use and cached for `ttlMs` (60 s), so a rotated secret takes effect
 *   in every container within a minute, without a redeploy.
 * - Locally (no secret ARN) the plain variable is used as it is.
 *
 * One value cached per source. Concurrent reads share one request. When Secrets Manager
 * cannot be reached, the last value read is served for at most `maxStaleMs` (15 min); with
 * no usable value the read fails with a retriable error (a 503, never a 403 that would look
 * like a wrong token). The AWS SDK is imported lazily, as in ./kafka/brokers.ts, so the
 * local path never loads it.
 */
import type { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { RetriableError, errorMessage } from './errors';

/** Reads a secret's string value; rejects when it cannot. */
export type ReadSecret = (params: { secretArn: string; region: string; signal: AbortSignal }) => Promise<string | undefined>;

export interface SecretSource<T> {
  /** The value, or undefined when neither a secret nor a plain value is configured. */
  get(): Promise<T | undefined>;
}

/** A secret could not be read, or holds nothing usable: try again shortly (the operator fixes it meanwhile). */
export class SecretUnavailableError extends RetriableError {}

export const SECRET_TTL_MS = 60_000;
export const SECRET_MAX_STALE_MS = 15 * 60_000;
export const SECRETS_MANAGER_TIMEOUT_MS = 2_000;

interface SecretsManagerModule {
  SecretsManagerClient: typeof SecretsManagerClient;
  GetSecretValueCommand: typeof GetSecretValueCommand;
}
let secretsManager: { module: SecretsManagerModule; clients: Map<string, SecretsManagerClient> } | undefined;

/** GetSecretValue through the AWS SDK, loaded on first use; one client per region, kept for the container. */
export const readSecretFromAws: ReadSecret = async ({ secretArn, region, signal }) => {
  if (!secretsManager) {
    secretsManager = { module: await import('@aws-sdk/client-secrets-manager'), clients: new Map() };
  }
  const { module, clients } = secretsManager;
  let client = clients.get(region);
  if (!client) {
    client = new module.SecretsManagerClient({ region, maxAttempts: 2 });
    // One region per container in practice; the map is bounded by the regions asked for.
    clients.set(region, client);
  }
  const answer = await client.send(new module.GetSecretValueCommand({ SecretId: secretArn }), { abortSignal: signal });
  return answer.SecretString;
};

export interface SecretSourceOptions<T> {
  /** What the secret holds, for error messages ("the admin token"). */
  what: string;
  /** The plain value (a variable of the local stage): used when no secret ARN is set. */
  plain: T | undefined;
  /** When set, the value is read from this secret, and `plain` is ignored. */
  secretArn: string | undefined;
  region: string;
  /**
   * The secret's string into the value; throws, with a message that says what is wrong and
   * quotes nothing of the secret, when it holds nothing usable.
   */
  decode: (secretString: string) => T;
  /** The error a failed read throws (a kind of SecretUnavailableError the caller answers for). */
  unavailable?: new (message: string, options?: { cause?: unknown }) => SecretUnavailableError;
  readSecret?: ReadSecret;
  ttlMs?: number;
  maxStaleMs?: number;
  timeoutMs?: number;
  now?: () => number;
}

export function createSecretSource<T>(options: SecretSourceOptions<T>): SecretSource<T> {
  const { what, plain, secretArn, region, decode } = options;
  if (secretArn === undefined) return { get: () => Promise.resolve(plain) };

  const readSecret = options.readSecret ?? readSecretFromAws;
  const ttlMs = options.ttlMs ?? SECRET_TTL_MS;
  const maxStaleMs = options.maxStaleMs ?? SECRET_MAX_STALE_MS;
  const timeoutMs = options.timeoutMs ?? SECRETS_MANAGER_TIMEOUT_MS;
  const now = options.now ?? Date.now;
  const Unavailable = options.unavailable ?? SecretUnavailableError;
  let cached: { value: T; readAt: number } | undefined;
  let inFlight: Promise<T> | undefined;

  const read = async (): Promise<T> => {
    let secretString: string | undefined;
    try {
      secretString = await readSecret({ secretArn, region, signal: AbortSignal.timeout(timeoutMs) });
    } catch (cause) {
      // The AWS error stays in `cause` (for the log), out of a message an answer may carry.
      throw new Unavailable(`${what} could not be read from Secrets Manager`, { cause });
    }
    let value: T;
    try {
      value = decode(secretString ?? '');
    } catch (cause) {
      throw new Unavailable(`the secret of ${what} ${errorMessage(cause)}`, { cause });
    }
    cached = { value, readAt: now() };
    return value;
  };

  return {
    async get() {
      if (cached && now() - cached.readAt < ttlMs) return cached.value;
      inFlight ??= read().finally(() => {
        inFlight = undefined;
      });
      try {
        return await inFlight;
      } catch (error) {
        if (cached && now() - cached.readAt < maxStaleMs) return cached.value;
        throw error;
      }
    },
  };
}
