/**
 * What build is running, for build_info: the version of package.json and the git commit.
 * The commit is fixed when the bundle is built: serverless.yml's esbuild `define` replaces
 * BUILD_COMMIT with the commit of the checkout it packages (infra/build-commit.cjs), so a
 * zip carries its own. Run from source (tests, tools) it is read from git once; `unknown`
 * when neither knows.
 */
import { execFileSync } from 'node:child_process';
import { version } from '../../package.json';

/** Replaced by esbuild's define at bundle time; undeclared when running from source. */
declare const BUILD_COMMIT: string | undefined;

export interface BuildInfo {
  version: string;
  commit: string;
}

let cached: BuildInfo | undefined;

function commitFromGit(): string {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], {
      cwd: __dirname,
      encoding: 'utf8',
      timeout: 2000,
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return 'unknown';
  }
}

export function buildInfo(): BuildInfo {
  cached ??= { version, commit: typeof BUILD_COMMIT === 'string' && BUILD_COMMIT.length > 0 ? BUILD_COMMIT : commitFromGit() };
  return cached;
}
