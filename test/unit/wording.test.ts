/**
 * Code, logs, metric labels and docs speak of the service, not of how it was planned: no
 * "seed N", "issue N" or "wave" in any tracked source, test, benchmark, template or doc, and
 * no "the guide" (or first, second, original guide): a document the repository does not
 * contain explains nothing. What the original service defined is in docs/compatibility.md.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { linesMatching } from '../helpers/lines';

const PLANNING = /\bseed[ -]?\d\b|\bseed\d\b|\bissue[ -]?#?\d+\b|\bwave[ -]?\d\b|\b(?:the|first|second|original|that)\s+guides?\b/i;

/** The lines of a text that name how the work was planned, as `line: text`. */
const planningLines = (text: string): string[] => linesMatching(text, PLANNING);

describe('wording', () => {
  it('finds the planning words it is looking for (the check can fail)', () => {
    expect(planningLines('ok\n// issue 4: retries\nfine')).toEqual(['2: // issue 4: retries']);
    expect(planningLines('answers a seed 2 command')).toHaveLength(1);
    expect(planningLines("shape: 'seed2'")).toHaveLength(1);
    expect(planningLines('## Benchmarks (issue 3)')).toHaveLength(1);
    expect(planningLines("// the original guide's fields\n * as the second guide's step 7 does\n// the guide publishes")).toHaveLength(3);
    expect(planningLines('(docs.aws.amazon.com/msk/latest/developerguide/limits.html), the MSK Developer Guide')).toEqual([]);
    expect(planningLines('fast-check runs with { seed: 7 }; error.issues.map((issue) => issue.path)')).toEqual([]);
  });

  it('no tracked file of the service names how it was planned', () => {
    const files = execFileSync('git', ['ls-files', '-z'], { encoding: 'utf8' })
      .split('\0')
      .filter((f) => /\.(ts|cjs|mjs|js|json|ya?ml|md|sh|html|properties|template)$/.test(f))
      .filter((f) => !f.endsWith('package-lock.json') && f !== 'test/unit/wording.test.ts');
    const found = files.flatMap((file) => planningLines(readFileSync(file, 'utf8')).map((line) => `${file}:${line}`));
    expect(found).toEqual([]);
  });
});
