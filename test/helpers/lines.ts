/** The lines of a text that match a pattern, numbered from 1, as `line: text` (trimmed). */
export function linesMatching(text: string, pattern: RegExp): string[] {
  return text
    .split('\n')
    .map((line, i) => [i + 1, line] as const)
    .filter(([, line]) => pattern.test(line))
    .map(([n, line]) => `${n}: ${line.trim()}`);
}
