/**
 * The rule that lets the integration and reliability files run side by side
 * (docs/contributing.md, "Files side by side"): each file listens on ports of its own. Two
 * files that name ports in the same block of ten would fail at random, whenever the sequencer
 * happens to run them together, so this check fails at once, naming both.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const repo = path.resolve(__dirname, '../../..');
const FOLDERS = ['test/integration', 'test/reliability', 'infra/offline-msk/test/integration'];

/** How a file names a port it listens on: a constant (`HTTP_PORT = 3300`, `BASE = 26400`), an option (`httpPort: 3300`, `port = 23170`, `http: 27050`) or a stack's base (`privateStack(23200`). */
const PORT_FORMS = [
  /\b[A-Z_]*(?:PORT|BASE)[A-Z_]*\s*[=:]\s*'?(\d{4,5})\b/g,
  /\b(?:httpPort|lambdaPort|port|http|lambda)\s*[:=]\s*(\d{4,5})\b/g,
  /\bprivateStack\((\d{4,5})\b/g,
];

/** The shared local stack's own ports (9090-9099): files connect to them, none listens on them. */
const sharedStack = (port: number): boolean => port >= 9090 && port <= 9099;

function portsNamed(text: string): number[] {
  const ports = new Set<number>();
  for (const form of PORT_FORMS) for (const match of text.matchAll(form)) ports.add(Number(match[1]));
  return [...ports].filter((port) => !sharedStack(port)).sort((a, b) => a - b);
}

/** Blocks of ten named by more than one file, with the files. */
function sharedBlocks(files: Record<string, string>): string[] {
  const owners = new Map<number, Set<string>>();
  for (const [file, text] of Object.entries(files)) {
    for (const port of portsNamed(text)) {
      const block = Math.floor(port / 10) * 10;
      owners.set(block, (owners.get(block) ?? new Set()).add(file));
    }
  }
  return [...owners]
    .filter(([, names]) => names.size > 1)
    .map(([block, names]) => `ports ${block}-${block + 9}: ${[...names].sort().join(', ')}`);
}

function testFiles(): Record<string, string> {
  const files: Record<string, string> = {};
  for (const folder of FOLDERS) {
    for (const name of fs.readdirSync(path.join(repo, folder))) {
      if (name.endsWith('.ts')) files[`${folder}/${name}`] = fs.readFileSync(path.join(repo, folder, name), 'utf8');
    }
  }
  return files;
}

describe('each integration and reliability file listens on ports of its own', () => {
  it('finds the ports a file names, in each form, and not the shared stack’s', () => {
    expect(
      portsNamed(
        "const HTTP_PORT = 3300;\nhttpPort: 3310, lambdaPort: 3312\nconst port = 23170;\n{ http: 27050, lambda: 27052 }\nHTTP_PORT: '21100'\nprivateStack(23200, {})\nKAFKA: 9092 port: 9092",
      ),
    ).toEqual([3300, 3310, 3312, 21100, 23170, 23200, 27050, 27052]);
  });

  it('names two files that share a block of ten', () => {
    expect(sharedBlocks({ 'a.test.ts': 'const HTTP_PORT = 3300;', 'b.test.ts': 'lambdaPort: 3302', 'c.test.ts': 'port: 3310' })).toEqual([
      'ports 3300-3309: a.test.ts, b.test.ts',
    ]);
  });

  it('holds for the files of this repository', () => {
    const shared = sharedBlocks(testFiles());
    expect(
      shared,
      'Files run side by side (docs/contributing.md, "Files side by side"): give each file a block of ports no other file names',
    ).toEqual([]);
  });
});
