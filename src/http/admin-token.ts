/**
 * Where the admin token comes from.
 *
 * - On AWS the HTTP function gets only the ARN of a Secrets Manager secret
 *   (ADMIN_TOKEN_SECRET_ARN) and permission to read that one secret. The value is read
 *   on first use and cached for `ttlMs` (60 s), so a rotated secret takes effect in every
 *   container within a minute, without a redeploy, and the token is never in the
 *   function's configuration.
 * - Locally (no secret ARN) ADMIN_TOKEN is used as it is.
 *
 * The cache holds one value. Concurrent requests share one read. When Secrets Manager
 * cannot be reached, the last value read is served for at most `maxStaleMs` (15 min);
 * with no usable value the read fails with a retriable error (a 503, never a 403 that
 * would look like a wrong token). The AWS SDK is imported lazily, as in ../kafka/brokers.ts,
 * so the local path never loads it.
 */
import type { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { AdminTokenUnavailableError } from './errors';

/** Reads a secret's string value; rejects when it cannot. */
export type ReadSecret = (params: { secretArn: string; region: string; signal: AbortSignal }) => Promise<string | undefined>;

export interface AdminTokenSource {
  /** The token, or undefined when the admin routes are off (neither a secret nor ADMIN_TOKEN). */
  get(): Promise<string | undefined>;
}

export const ADMIN_TOKEN_TTL_MS = 60_000;
export const ADMIN_TOKEN_MAX_STALE_MS = 15 * 60_000;
export const SECRETS_MANAGER_TIMEOUT_MS = 2_000;
/** The same minimum src/config.ts enforces on ADMIN_TOKEN. */
export const MIN_ADMIN_TOKEN_LENGTH = 16;

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

export function createAdminTokenSource(params: {
  /** ADMIN_TOKEN: used when no secret ARN is set. */
  token: string | undefined;
  /** ADMIN_TOKEN_SECRET_ARN: when set, the token is read from this secret (and ADMIN_TOKEN is ignored). */
  secretArn: string | undefined;
  region: string;
  readSecret?: ReadSecret;
  ttlMs?: number;
  maxStaleMs?: number;
  timeoutMs?: number;
  now?: () => number;
}): AdminTokenSource {
  const { token, secretArn, region } = params;
  if (secretArn === undefined) return { get: () => Promise.resolve(token) };

  const readSecret = params.readSecret ?? readSecretFromAws;
  const ttlMs = params.ttlMs ?? ADMIN_TOKEN_TTL_MS;
  const maxStaleMs = params.maxStaleMs ?? ADMIN_TOKEN_MAX_STALE_MS;
  const timeoutMs = params.timeoutMs ?? SECRETS_MANAGER_TIMEOUT_MS;
  const now = params.now ?? Date.now;
  let cached: { value: string; readAt: number } | undefined;
  let inFlight: Promise<string> | undefined;

  const read = async (): Promise<string> => {
    let value: string | undefined;
    try {
      value = await readSecret({ secretArn, region, signal: AbortSignal.timeout(timeoutMs) });
    } catch (cause) {
      throw new AdminTokenUnavailableError('the admin token could not be read from Secrets Manager', { cause });
    }
    const trimmed = value?.trim() ?? '';
    if (trimmed.length < MIN_ADMIN_TOKEN_LENGTH) {
      // A 503 all the same: the operator fixes the secret, and the next read picks it up.
      throw new AdminTokenUnavailableError(`the admin token secret holds no string of at least ${MIN_ADMIN_TOKEN_LENGTH} characters`);
    }
    cached = { value: trimmed, readAt: now() };
    return trimmed;
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
