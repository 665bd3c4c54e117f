/**
 * The formatter's rule, shown to hold: `npm run lint` runs `prettier --check .` with the
 * repository's own settings (.prettierrc.json, .prettierignore), so code written any other way
 * fails lint. `npm run format` rewrites it. Why one formatter: a diff shows what changed, not
 * whose editor saved it (docs/contributing.md, "Lint rules").
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as prettier from 'prettier';
import { describe, expect, it } from 'vitest';

const repo = path.resolve(__dirname, '../..');

/** Whether `code`, saved as `file` in this repository, is formatted as the repository's settings say. */
async function formatted(file: string, code: string): Promise<boolean> {
  const filepath = path.join(repo, file);
  const options = await prettier.resolveConfig(filepath, { editorconfig: false });
  expect(options, 'no .prettierrc.json found: the formatter would use its defaults').not.toBeNull();
  return prettier.check(code, { ...options, filepath });
}

describe('the formatter (prettier --check in npm run lint)', () => {
  it('refuses code formatted another way, and accepts the same code formatted', async () => {
    const planted = 'export const answer = {a:1,b:"two"}\n';
    const pretty = await prettier.format(planted, {
      ...(await prettier.resolveConfig(path.join(repo, 'src/x.ts'))),
      filepath: path.join(repo, 'src/x.ts'),
    });

    expect(
      await formatted('src/planted-format.ts', planted),
      'prettier --check must refuse unformatted code: is the lint script still running it?',
    ).toBe(false);
    expect(await formatted('src/planted-format.ts', pretty)).toBe(true);
    expect(pretty).toBe("export const answer = { a: 1, b: 'two' };\n");
  });

  it('runs in npm run lint', () => {
    const scripts = (JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;

    expect(scripts.lint, 'npm run lint must check the formatting (prettier --check .)').toContain('prettier --check .');
  });
});
