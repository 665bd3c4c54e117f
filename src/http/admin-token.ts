/**
 * Where the admin token comes from (src/secrets.ts): on AWS the HTTP function gets only the
 * ARN of a Secrets Manager secret (ADMIN_TOKEN_SECRET_ARN) and reads it with a 60 s cache,
 * so a rotation takes effect within a minute without a redeploy; locally ADMIN_TOKEN is
 * used as it is. A token that cannot be read fails with AdminTokenUnavailableError (a
 * 503, never a 403 that would look like a wrong token).
 */
import { ADMIN_TOKEN_PATTERN, bearerTokenSecret } from '../bearer';
import { createSecretSource } from '../secrets';
import type { ReadSecret, SecretSource } from '../secrets';
import { AdminTokenUnavailableError } from './errors';

export type { ReadSecret } from '../secrets';

export type AdminTokenSource = SecretSource<string>;

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
  const { token, ...rest } = params;
  return createSecretSource({
    ...rest,
    what: 'the admin token',
    plain: token,
    decode: bearerTokenSecret(ADMIN_TOKEN_PATTERN),
    unavailable: AdminTokenUnavailableError,
  });
}
