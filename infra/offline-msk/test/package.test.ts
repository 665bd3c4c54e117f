/** The package stands alone: its code imports only Node, kafkajs and serverless-offline; what it ships is what it declares. */
import { readFileSync, readdirSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');
const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  main: string;
  files: string[];
  dependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
};

function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found = [...text.matchAll(/(?:from\s+|import\s*\(\s*|require\s*\(\s*)['"]([^'"]+)['"]/g)].map((m) => m[1]!);
  return found;
}

describe('the package', () => {
  it('imports nothing outside its folder: no service code, no service config', () => {
    const sources = readdirSync(path.join(root, 'src')).filter((f) => f.endsWith('.ts'));
    const outside: string[] = [];
    const packages = new Set<string>();
    for (const file of [...sources.map((f) => path.join(root, 'src', f)), path.join(root, 'index.cjs')]) {
      for (const specifier of imports(file)) {
        if (specifier.startsWith('.')) {
          const target = path.resolve(path.dirname(file), specifier);
          if (!target.startsWith(root + path.sep)) outside.push(`${path.relative(root, file)} -> ${specifier}`);
        } else if (!specifier.startsWith('node:') && !builtinModules.includes(specifier)) {
          packages.add(specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!);
        }
      }
    }

    expect(outside).toEqual([]);
    // tsx loads the TypeScript in a source checkout only (index.cjs); an installed package runs dist/.
    expect([...packages].sort()).toEqual(['kafkajs', 'serverless-offline', 'tsx']);
    expect(Object.keys(manifest.dependencies)).toEqual(['kafkajs']);
    expect(Object.keys(manifest.peerDependencies).sort()).toEqual(['serverless', 'serverless-offline']);
  });

  it('ships its entry, its compiled code, its README and its changelog', () => {
    expect(manifest.main).toBe('index.cjs');
    expect(manifest.files).toEqual(['index.cjs', 'dist/', 'README.md', 'CHANGELOG.md']);
  });
});
