/**
 * Tests never skip (docs/contributing.md, "The working rules"): a test that cannot reach
 * its broker fails, and nothing is left `.skip`, `.todo`, `.only` or `skipIf` in a tracked
 * test file. The one conditional allowed is `runIf(heavy)`, the reliability suite's heavy
 * mode (RELIABILITY_HEAVY=1), which runs before each release.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { linesMatching } from '../helpers/lines';

const root = path.resolve(__dirname, '../..');
const SKIPPING = /\b(?:it|test|describe|suite|bench)\.(?:skip|todo|only|skipIf|fails)\b|\b(?:ctx|context|t)\.skip\(|\.runIf\((?!heavy\))/;

/** The lines of a test file that skip a test, as `line: text`. */
const skippingLines = (text: string): string[] => linesMatching(text, SKIPPING);

describe('no skipped tests', () => {
  it('finds a skipped, focused or conditional test (the check can fail)', () => {
    expect(skippingLines("it.skip('x', () => {});\nit('y', () => {});")).toEqual(["1: it.skip('x', () => {});"]);
    expect(
      skippingLines("describe.only('x')\nit.todo('z')\nit.skipIf(ci)('w')\nit.runIf(hasBroker)('v')\n(ctx) => ctx.skip()"),
    ).toHaveLength(5);
    expect(skippingLines("it.runIf(heavy)('two brokers down', async () => {})\nconst skip = 1; a.skipped")).toEqual([]);
  });

  it('no tracked test file skips a test', () => {
    const files = execFileSync('git', ['ls-files', '-z', '--', '*.test.ts', '*.test.mts'], { cwd: root, encoding: 'utf8' })
      .split('\0')
      .filter((f) => f !== '' && f !== 'test/unit/no-skips.test.ts');
    const found = files.flatMap((file) => skippingLines(readFileSync(path.join(root, file), 'utf8')).map((line) => `${file}:${line}`));
    // Assess: make the test pass, or delete it; a test that needs a part of the stack starts it or fails
    expect(files.length).toBeGreaterThan(50);
    expect(found).toEqual([]);
  });
});
