/**
 * Every path a comment names in src/, handlers/ and infra/ exists: a file a header says it
 * works with (`./shared.ts`, `../timeout.ts`) or a repository path it points the reader to
 * (`src/kafka/dlq.ts`, `infra/dlq.ts`, `test/helpers/names.ts`, `docs/consumers.md`). A file
 * moved or renamed without its comments fails here, naming the comment's file, line and
 * path (docs/contributing.md, "The working rules the tests enforce").
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '../..');

const RULE =
  'comments name paths that exist (docs/contributing.md, "The working rules the tests enforce"): ' +
  'change the comment to the path the file has now, or drop the path if the file is gone';

/** The folders whose comments are checked. */
const CHECKED = ['src', 'handlers', 'infra'];
/** The tops a repository path starts with. */
const TOPS = ['src', 'handlers', 'infra', 'test', 'docs', 'bench'];
/** The npm workspaces: inside one, `src/x.ts` may name the workspace's own file. */
const WORKSPACES = ['infra/offline-msk', 'src/fleet-metrics'];
/** Endings a path without one may stand for (an import specifier). */
const ENDINGS = ['', '.ts', '.js', '.cjs', '.mjs', '/index.ts'];

const SCRIPT = /\.(ts|mts|cts|js|mjs|cjs)$/;
const HASH_COMMENTED = /\.(sh|ya?ml|template|properties)$|(^|\/)\.gitignore$/;

/** The comments of a file with the line each starts on. */
export function comments(file: string, text: string): Array<{ line: number; text: string }> {
  if (SCRIPT.test(file)) {
    const found: Array<{ line: number; text: string }> = [];
    const scanner = ts.createScanner(ts.ScriptTarget.Latest, false, ts.LanguageVariant.Standard, text);
    const lineOf = (pos: number) => text.slice(0, pos).split('\n').length;
    for (let kind = scanner.scan(); kind !== ts.SyntaxKind.EndOfFileToken; kind = scanner.scan()) {
      if (kind === ts.SyntaxKind.SingleLineCommentTrivia || kind === ts.SyntaxKind.MultiLineCommentTrivia) {
        found.push({ line: lineOf(scanner.getTokenStart()), text: scanner.getTokenText() });
      } else if (kind === ts.SyntaxKind.SlashToken || kind === ts.SyntaxKind.SlashEqualsToken) {
        // A regular expression literal: read it as one, so its slashes start no comment.
        scanner.reScanSlashToken();
      } else if (kind === ts.SyntaxKind.CloseBraceToken) {
        scanner.reScanTemplateToken(false);
      }
    }
    return found;
  }
  if (HASH_COMMENTED.test(file)) {
    return text.split('\n').flatMap((line, index) => {
      const at = line.search(/(^|\s)#(\s|$)/);
      return at < 0 ? [] : [{ line: index + 1, text: line.slice(at) }];
    });
  }
  return [];
}

/**
 * The paths a comment names: `./x` and `../x` from the comment's file, or a path from the
 * repository's root starting with one of its top folders.
 */
export function namedPaths(comment: string): string[] {
  const tops = TOPS.join('|');
  const pattern = new RegExp(`(?<![\\w./@:~-])(\\.{1,2}/[\\w./-]+|(?:${tops})/[\\w./-]*)`, 'g');
  const found: string[] = [];
  for (const match of comment.matchAll(pattern)) {
    const before = comment.slice(0, match.index ?? 0);
    const rest = comment.slice((match.index ?? 0) + match[0].length);
    // A pattern or a placeholder (`handlers/on-<name>.ts`, `src/*/x.ts`, `test/**`) names no one file.
    if (/^[<*{$…[]/.test(rest)) continue;
    const named = match[0].replace(/[.]+$/, '');
    if (named.endsWith('/') && rest.startsWith('*')) continue;
    if (named === '.' || named === '..' || /^\.{1,2}\/?$/.test(named)) continue;
    // serverless.yml's `${file(./x)}` names a path from the repository's root, where serverless.yml is.
    found.push(before.endsWith('file(') ? named.slice(2) : named);
  }
  return found;
}

/** Whether `named`, written in `file`, is a file or folder of the working tree. */
export function resolves(file: string, named: string, exists: (relative: string) => boolean): boolean {
  const bases = named.startsWith('.') ? [path.posix.dirname(file)] : ['', ...WORKSPACES.filter((w) => file.startsWith(`${w}/`))];
  return bases.some((base) => ENDINGS.some((ending) => exists(path.posix.normalize(path.posix.join(base, named)) + ending)));
}

/** `file:line: path` for every path a comment of `file` names that does not exist. */
export function brokenPaths(file: string, text: string, exists: (relative: string) => boolean): string[] {
  return comments(file, text).flatMap((comment) =>
    namedPaths(comment.text)
      .filter((named) => !resolves(file, named, exists))
      .map((named) => `${file}:${comment.line + comment.text.slice(0, comment.text.indexOf(named)).split('\n').length - 1}: ${named}`),
  );
}

function trackedFiles(): string[] {
  const listed = execFileSync('git', ['ls-files', '-co', '--exclude-standard', '-z', '--', ...CHECKED], { cwd: root, encoding: 'utf8' });
  return listed
    .split('\0')
    .filter((file) => file !== '' && !file.split('/').includes('node_modules') && existsSync(path.join(root, file)))
    .filter((file) => SCRIPT.test(file) || HASH_COMMENTED.test(file));
}

const inTree = (relative: string) => relative !== '' && !relative.startsWith('..') && existsSync(path.join(root, relative));

describe('paths named in comments', () => {
  it('finds a comment naming a file that moved (the check can fail)', () => {
    // Prepare: a header naming a sibling that is not there, and paths that are
    const file = 'src/kafka/producer/planted.ts';
    const text = [
      '/**',
      ' * The shared state (./shared.ts), the bounded wait (../../timeout.ts), the tool (infra/dlq.ts),',
      ' * its pages (docs/consumers.md#dead-letters, docs/nowhere.md) and an entry per function (handlers/on-<name>.ts).',
      ' */',
      "const url = 'https://example.com/src/gone.ts'; // see src/kafka/index.ts and test/unit/nothing.test.ts",
      'const pattern = /\\/\\/ src\\/not-a-comment.ts/;',
    ].join('\n');

    // Act
    const broken = brokenPaths(file, text, inTree);

    // Assess
    expect(broken).toEqual([
      'src/kafka/producer/planted.ts:2: ./shared.ts',
      'src/kafka/producer/planted.ts:3: docs/nowhere.md',
      'src/kafka/producer/planted.ts:5: test/unit/nothing.test.ts',
    ]);
  });

  it('reads # comments of shell and YAML files, and a workspace names its own src/', () => {
    expect(brokenPaths('infra/local/planted.sh', 'echo hi # written by infra/local/gone.ts\n# infra/local/stack.sh\n', inTree)).toEqual([
      'infra/local/planted.sh:1: infra/local/gone.ts',
    ]);
    expect(brokenPaths('src/fleet-metrics/src/planted.ts', '// the text writer (src/exposition.ts)\n', inTree)).toEqual([]);
  });

  it('every path a comment in src/, handlers/ and infra/ names exists', () => {
    // Act
    const broken = trackedFiles().flatMap((file) => brokenPaths(file, readFileSync(path.join(root, file), 'utf8'), inTree));

    // Assess
    expect(broken, RULE).toEqual([]);
  });
});
