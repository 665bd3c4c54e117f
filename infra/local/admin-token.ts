/**
 * The admin routes' token for `npm start`: the shell's ADMIN_TOKEN when it sets one, none
 * when it sets it empty (`ADMIN_TOKEN= npm start`: the routes stay off), the secret's when
 * ADMIN_TOKEN_SECRET_ARN is set, and otherwise a token of the checkout's own, made once and
 * kept in the local state folder (`admin-token`, mode 600), so the summary's curl works as
 * pasted in another shell and keeps working across starts.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { isAdminToken } from '../../src/bearer';

export type AdminAccess =
  | { kind: 'file'; file: string; token: string; made: boolean }
  | { kind: 'given'; token: string }
  | { kind: 'off' }
  | { kind: 'secret'; arn: string };

/** The token kept in `dir/admin-token`, made (32 characters, mode 600) when missing, unreadable by others or not a token. */
export function localAdminToken(dir: string): { file: string; token: string; made: boolean } {
  const file = path.join(dir, 'admin-token');
  try {
    const { mode } = statSync(file);
    const token = readFileSync(file, 'utf8').trim();
    // Readable by anyone else: it may be known, so it is replaced.
    if ((mode & 0o077) === 0 && isAdminToken(token)) return { file, token, made: false };
    unlinkSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const token = randomBytes(24).toString('base64url');
  writeFileSync(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return { file, token, made: true };
}

/** How the admin routes are reached for this start, from the shell's environment. */
export function adminAccess(env: NodeJS.ProcessEnv, stateDir: string): AdminAccess {
  if (env.ADMIN_TOKEN_SECRET_ARN) return { kind: 'secret', arn: env.ADMIN_TOKEN_SECRET_ARN };
  if (env.ADMIN_TOKEN !== undefined) return env.ADMIN_TOKEN === '' ? { kind: 'off' } : { kind: 'given', token: env.ADMIN_TOKEN };
  return { kind: 'file', ...localAdminToken(stateDir) };
}
