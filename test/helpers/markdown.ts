/**
 * Reading the repository's Markdown as GitHub renders it: the links and images a page
 * holds (marked's lexer, so nothing inside a code block or code span counts) and the
 * anchors its headings get (github-slugger, GitHub's own algorithm: lower case,
 * punctuation dropped, spaces to dashes, `-1`, `-2` for repeats).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import GithubSlugger from 'github-slugger';
import { Lexer, walkTokens } from 'marked';
import type { Token, Tokens } from 'marked';

function tokensOf(markdown: string): Token[] {
  return Lexer.lex(markdown, { gfm: true });
}

/** The plain text of inline tokens (a heading's), as GitHub slugs it: code spans keep their text. */
function plainText(tokens: Token[] | undefined, raw: string): string {
  if (!tokens) return raw;
  return tokens.map((t) => ('tokens' in t && t.tokens ? plainText(t.tokens, t.raw) : 'text' in t ? String(t.text) : t.raw)).join('');
}

/** Every link and image target of a page, in order. */
export function markdownLinks(markdown: string): string[] {
  const found: string[] = [];
  // walkTokens returns what the callbacks return (nothing here), as marked allows async extensions.
  void walkTokens(tokensOf(markdown), (token) => {
    if (token.type === 'link' || token.type === 'image') found.push((token as Tokens.Link | Tokens.Image).href);
  });
  return found;
}

/** The anchor of every heading of a page (`#anchor` links to it). */
export function headingAnchors(markdown: string): Set<string> {
  const slugger = new GithubSlugger();
  const anchors = new Set<string>();
  // walkTokens returns what the callbacks return (nothing here), as marked allows async extensions.
  void walkTokens(tokensOf(markdown), (token) => {
    if (token.type === 'heading') anchors.add(slugger.slug(plainText((token as Tokens.Heading).tokens, (token as Tokens.Heading).text)));
  });
  return anchors;
}

/** The repository's tracked Markdown files (paths relative to `root`), without dependencies' own. */
export function trackedMarkdown(root: string): string[] {
  return execFileSync('git', ['ls-files', '-z', '--', '*.md'], { cwd: root, encoding: 'utf8' })
    .split('\0')
    .filter((f) => f !== '' && !f.includes('node_modules/'));
}

/**
 * What is wrong with one relative link of `file` (a path relative to `root`), or undefined
 * when it resolves: the file or folder it names exists, and its `#anchor`, if any, is a
 * heading of that Markdown page. Web links (`http:`, `https:`, `mailto:`) are not checked.
 */
export function brokenLink(root: string, file: string, href: string, read: (file: string) => string | undefined): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(href)) return undefined;
  const [target = '', anchor] = href.split('#', 2);
  const resolved = target === '' ? file : path.normalize(path.join(path.dirname(file), decodeURIComponent(target)));
  if (resolved.startsWith('..')) return `${href}: outside the repository`;
  const text = read(resolved);
  if (text === undefined) return `${href}: no file or folder ${resolved}`;
  if (anchor === undefined || anchor === '') return undefined;
  if (!resolved.endsWith('.md')) return `${href}: an anchor into ${resolved}, which is not Markdown`;
  return headingAnchors(text).has(anchor) ? undefined : `${href}: no heading of ${resolved} has the anchor #${anchor}`;
}

/** A reader of the working tree for brokenLink: a file's text, '' for a folder, undefined when neither exists. */
export function workingTreeReader(root: string): (file: string) => string | undefined {
  return (file) => {
    try {
      return readFileSync(path.join(root, file), 'utf8');
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'EISDIR' ? '' : undefined;
    }
  };
}
