/**
 * Every relative link of the repository's Markdown resolves: the file or folder it names
 * exists, and its `#anchor` is a heading of that page as GitHub slugs it. A page moved or
 * a heading renamed fails here, naming the page and the link. Web links are not fetched.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { brokenLink, headingAnchors, markdownLinks, trackedMarkdown, workingTreeReader } from '../helpers/markdown';

const root = path.resolve(__dirname, '../..');

describe('links in the docs', () => {
  it('finds a link to a missing file and to a missing heading (the check can fail)', () => {
    // Prepare: two pages in memory
    const pages: Record<string, string> = {
      'README.md': [
        '# Front page',
        '[ok](docs/a.md), [ok too](docs/a.md#a-section-with-code), [here](#front-page), [web](https://example.com/x)',
        '[gone](docs/b.md) and [no such heading](docs/a.md#nothing)',
        '```',
        '[in a code block](nowhere.md)',
        '```',
      ].join('\n'),
      'docs/a.md': '# A\n\n## A section with `code`\n\nBack to [the front page](../README.md#front-page).',
    };
    const read = (file: string) => pages[file];

    // Act
    const found = Object.entries(pages).flatMap(([file, text]) =>
      markdownLinks(text).flatMap((href) => brokenLink('.', file, href, read) ?? []),
    );

    // Assess
    expect(found).toEqual(['docs/b.md: no file or folder docs/b.md', 'docs/a.md#nothing: no heading of docs/a.md has the anchor #nothing']);
  });

  it('slugs headings as GitHub does', () => {
    const anchors = headingAnchors('# Deploy to AWS\n## Authorizing mode: least privilege\n## `npm start`\n## Deploy to AWS');
    expect([...anchors]).toEqual(['deploy-to-aws', 'authorizing-mode-least-privilege', 'npm-start', 'deploy-to-aws-1']);
  });

  it('every relative link and anchor in README.md and docs/ resolves', () => {
    // Prepare
    const read = workingTreeReader(root);
    const files = trackedMarkdown(root);

    // Act
    const broken = files.flatMap((file) =>
      markdownLinks(read(file) ?? '')
        .flatMap((href) => brokenLink(root, file, href, read) ?? [])
        .map((p) => `${file}: ${p}`),
    );

    // Assess: fix the link, or the heading it points to (a renamed heading changes its anchor)
    expect(files).toContain('README.md');
    expect(broken).toEqual([]);
  });
});
