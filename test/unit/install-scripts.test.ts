/**
 * A fresh `npm ci` runs no dependency install script and prints no warning about one
 * (npm 11 blocks them unless package.json's allowScripts allows them; .npmrc's
 * strict-allow-scripts fails the install for one not reviewed). Every package the lock
 * file marks with an install script has an allowScripts entry, and each one denied is
 * not needed: esbuild runs from its platform package, @parcel/watcher from its prebuilt
 * one, es5-ext's only prints a message.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '../..');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { allowScripts?: Record<string, boolean> };
const lock = JSON.parse(readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version?: string; hasInstallScript?: boolean }>;
};

describe('install scripts', () => {
  it('every dependency with an install script is reviewed in allowScripts', () => {
    const withScripts = Object.entries(lock.packages)
      .filter(([, p]) => p.hasInstallScript)
      .map(([at]) => at.slice(at.lastIndexOf('node_modules/') + 'node_modules/'.length));
    const reviewed = Object.keys(pkg.allowScripts ?? {}).map((entry) => entry.replace(/(.)@.*$/, '$1'));
    expect(withScripts.filter((name) => !reviewed.includes(name))).toEqual([]);
    expect(withScripts.length).toBeGreaterThan(0);
  });

  it('an unreviewed install script fails the install instead of a warning', () => {
    expect(readFileSync(path.join(root, '.npmrc'), 'utf8')).toMatch(/^strict-allow-scripts=true$/m);
  });

  it('esbuild works without its install script, through its platform package', async () => {
    const esbuild = await import('esbuild');
    const out = await esbuild.transform('const a: number = 1; export default a;', { loader: 'ts', format: 'cjs' });
    expect(out.code).toMatch(/\ba = 1\b/);
  });
});
