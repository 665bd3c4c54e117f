/**
 * Who may use the admin routes: the bearer token against the admin token (ADMIN_TOKEN
 * locally; on AWS its secret, read with a short cache so a rotation needs no redeploy).
 */
import { errorMessage } from '../errors';
import { authorizeAdmin } from '../bearer';
import { AdminTokenUnavailableError, createAdminTokenSource } from '../http';
import type { AdminTokenSource } from '../http';
import type { Logger } from '../logger';
import type { Config } from '../config';
import { jsonResponse } from './response';
import type { JsonResponse } from './response';

export interface AdminAccess {
  /** Whether the caller sees the admin view of a public route; a token that cannot be read only withholds it. */
  isAdmin(authorization: string | undefined): Promise<boolean>;
  /** Why an admin route refuses the caller (401, 403, or 503 when the token cannot be read), or nothing. */
  refusal(authorization: string | undefined): Promise<JsonResponse | undefined>;
}

export function createAdminAccess(deps: { config: Config; logger: Logger; tokenSource?: AdminTokenSource }): AdminAccess {
  const { config, logger } = deps;
  const source =
    deps.tokenSource ??
    createAdminTokenSource({ token: config.admin.token, secretArn: config.admin.tokenSecretArn, region: config.kafka.region });
  return {
    async isAdmin(authorization) {
      const token = await source.get().catch((error: unknown) => {
        logger.warn('admin token not read; answering without the admin view', { error: errorMessage(error) });
        return undefined;
      });
      return token !== undefined && authorizeAdmin({ authorization, token }).allowed;
    },
    async refusal(authorization) {
      let token: string | undefined;
      try {
        token = await source.get();
      } catch (error) {
        if (!(error instanceof AdminTokenUnavailableError)) throw error;
        logger.error('admin token not read', { error: error.message });
        return jsonResponse(503, { error: 'the admin token could not be read; try again shortly' }, { 'retry-after': '1' });
      }
      const decision = authorizeAdmin({ authorization, token });
      if (decision.allowed) return undefined;
      return jsonResponse(decision.status, { error: decision.message }, decision.status === 401 ? { 'www-authenticate': 'Bearer' } : {});
    },
  };
}
