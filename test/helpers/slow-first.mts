/**
 * The order the integration and reliability files start in: the slowest first, so that the
 * files running side by side finish together instead of one long file running alone at the
 * end (vitest.config.mts). The rest follow in vitest's own order (files that failed last
 * time, then the longest last time, then the largest).
 */
import { BaseSequencer } from 'vitest/node';
import type { TestSpecification } from 'vitest/node';

/** Slowest first: each took over a minute in a full run (docs/contributing.md, "Tests"). */
export const SLOW_FILES = [
  'test/reliability/rolling-restart.test.ts',
  'test/integration/start.test.ts',
  'test/integration/consumers-sasl.test.ts',
  'test/integration/package.test.ts',
  'test/reliability/no-loss.test.ts',
  'test/integration/local-stack-safety.test.ts',
  'test/integration/dashboard.test.ts',
];

function rank(spec: TestSpecification): number {
  const at = SLOW_FILES.findIndex((file) => spec.moduleId.endsWith(`/${file}`));
  return at < 0 ? SLOW_FILES.length : at;
}

export default class SlowFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    return [...sorted].sort((a, b) => rank(a) - rank(b));
  }
}
