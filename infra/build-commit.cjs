/**
 * The git commit a bundle is built from, for build_info (src/metrics/build.ts): serverless.yml
 * passes it to esbuild's `define` as BUILD_COMMIT, so `serverless package` writes it into each
 * zip and `serverless offline` into its bundles. BUILD_COMMIT in the environment wins (a build
 * outside a git checkout); `unknown` when neither is there.
 */
'use strict';
const { execFileSync } = require('node:child_process');

function commit() {
  if (process.env.BUILD_COMMIT) return process.env.BUILD_COMMIT;
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], {
      cwd: __dirname,
      encoding: 'utf8',
      timeout: 5000,
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return 'unknown';
  }
}

/** `${file(./infra/build-commit.cjs):define}`: the value esbuild's define takes (a JS string literal). */
module.exports = () => ({ define: JSON.stringify(commit()) });
