/** The admin routes' bearer token check; the routes are off when no token is set. */
import { checkBearer } from '../bearer';
import type { Access } from '../bearer';

export type AdminDecision = Access;

export function authorizeAdmin(params: { authorization: string | undefined; token: string | undefined }): AdminDecision {
  const { authorization, token } = params;
  if (token === undefined) {
    return { allowed: false, status: 403, message: 'admin routes are disabled: no ADMIN_TOKEN is configured' };
  }
  return checkBearer({ authorization, token, missing: 'an Authorization: Bearer <token> header is required' });
}
