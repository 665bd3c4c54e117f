/**
 * What `npm run dlq` prints (infra/dlq.ts): the columns of `list`, the counts of
 * `summary`, and the notes that say what was left out.
 */
import { deadLetterName } from './dead-letters';
import type { DeadLetter, readDeadLetters } from './dead-letters';

export type ReadResult = Awaited<ReturnType<typeof readDeadLetters>>;

/** `1 dead letter`, `60 dead letters`. */
function deadLetters(n: number): string {
  return `${n} dead letter${n === 1 ? '' : 's'}`;
}

/** Columns padded to their widest cell, two spaces apart; `right` columns aligned right. */
export function table(headers: string[], rows: string[][], right: ReadonlySet<number> = new Set()): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (right.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)];
}

export function deadLetterSummary(letter: DeadLetter, replayed: boolean) {
  return {
    dead_letter: deadLetterName(letter),
    dead_lettered_at: letter.deadLetteredAt ?? null,
    format: letter.format,
    reason: letter.reason,
    error: letter.error,
    consumer: letter.consumer ?? null,
    source: letter.originals.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset })),
    replayed,
  };
}

function cells(letter: DeadLetter, replayed: boolean): string[] {
  const source = letter.originals.map((o) => `${o.topic}/${o.partition}/${o.offset}`).join(',') || '-';
  const error = letter.error.length > 80 ? `${letter.error.slice(0, 77)}...` : letter.error;
  return [deadLetterName(letter), letter.deadLetteredAt ?? '-', letter.reason, source, replayed ? 'replayed' : 'pending', error];
}

/** One dead letter on one line (replay --dry-run). */
export function deadLetterLine(letter: DeadLetter, replayed: boolean): string {
  return cells(letter, replayed).join('  ');
}

/** What the read left out because of --max-records, as a clause of a note. */
function unreadNote(read: ReadResult): string {
  return read.unread > 0 ? `, of the first ${read.records} records read; ${read.unread} more records not read (--max-records)` : '';
}

/**
 * `list`: the newest `limit` selected dead letters, oldest first, under a header, then one
 * line of how many there are and what is not shown. With `json`, one object a line and
 * the note on stderr.
 */
export function listLines(params: { read: ReadResult; selected: DeadLetter[]; topic: string; limit: number; json: boolean }): string[] {
  const { read, selected, topic, limit, json } = params;
  const shown = selected.slice(Math.max(0, selected.length - limit));
  const selection = selected.length === read.letters.length ? '' : ` (selected of ${read.letters.length})`;
  const more = selected.length - shown.length;
  const hidden = more > 0 ? `: the ${shown.length} newest shown, ${more} more (--limit <n>, or --limit all)` : '';
  const note = `${deadLetters(selected.length)} in ${topic}${selection}${unreadNote(read)}${hidden}`;
  if (json) {
    if (more > 0 || read.unread > 0) console.error(`[dlq] ${note}`);
    return shown.map((l) => JSON.stringify(deadLetterSummary(l, read.replayed.has(deadLetterName(l)))));
  }
  const rows = shown.map((l) => cells(l, read.replayed.has(deadLetterName(l))));
  return [...(rows.length > 0 ? table(['DEAD LETTER', 'DEAD-LETTERED AT', 'REASON', 'SOURCE', 'STATE', 'ERROR'], rows) : []), note];
}

/** Counts of dead letters, pending and replayed. */
interface Counts {
  pending: number;
  replayed: number;
}

const AGES: ReadonlyArray<[label: string, upToMs: number]> = [
  ['in the last hour', 3_600_000],
  ['1 hour to 1 day ago', 86_400_000],
  ['1 day to 1 week ago', 7 * 86_400_000],
  ['over a week ago', Number.POSITIVE_INFINITY],
];

/** Rows of the reason × source table at most; the rest are counted as `other`. */
const MAX_ROWS = 100;

/** `summary`'s counts: by reason and source topic (most first), by age, and in all. */
export function tallyDeadLetters(letters: readonly DeadLetter[], replayed: ReadonlyMap<string, unknown>, now: number) {
  const total: Counts = { pending: 0, replayed: 0 };
  const byReasonSource = new Map<string, Counts & { reason: string; source: string }>();
  const byAge = AGES.map(([age]) => ({ age, pending: 0, replayed: 0 }));
  for (const letter of letters) {
    const state = replayed.has(deadLetterName(letter)) ? 'replayed' : 'pending';
    total[state] += 1;
    const reason = letter.reason;
    const source = letter.originals[0]?.topic ?? '-';
    const key = `${reason}\u0000${source}`;
    const row = byReasonSource.get(key) ?? (byReasonSource.size < MAX_ROWS ? { reason, source, pending: 0, replayed: 0 } : undefined);
    const counted = row ?? byReasonSource.get('other') ?? { reason: 'other', source: '-', pending: 0, replayed: 0 };
    counted[state] += 1;
    byReasonSource.set(row ? key : 'other', counted);
    byAge[AGES.findIndex(([, upTo]) => now - letter.timestamp < upTo)]![state] += 1;
  }
  const rows = [...byReasonSource.values()].sort(
    (a, b) => b.pending + b.replayed - (a.pending + a.replayed) || a.reason.localeCompare(b.reason),
  );
  // A loop, not Math.min(...times): an empty topic has neither (Math.min() is Infinity, no
  // date), and --max-records may read more records than a call takes arguments.
  let oldest = Infinity;
  let newest = -Infinity;
  for (const { timestamp } of letters) [oldest, newest] = [Math.min(oldest, timestamp), Math.max(newest, timestamp)];
  const when = (t: number) => (Number.isFinite(t) ? new Date(t).toISOString() : null);
  return { total, by_reason_and_source: rows, by_age: byAge, oldest: when(oldest), newest: when(newest) };
}

/** `summary` as a person reads it. */
export function summaryLines(params: {
  read: ReadResult;
  selected: DeadLetter[];
  tally: ReturnType<typeof tallyDeadLetters>;
  topic: string;
}): string[] {
  const { read, selected, tally, topic } = params;
  const selection = selected.length === read.letters.length ? '' : ` (selected of ${read.letters.length})`;
  const lines = [
    `${deadLetters(selected.length)} in ${topic}${selection}: ${tally.total.pending} pending, ${tally.total.replayed} replayed${unreadNote(read)}`,
  ];
  if (selected.length === 0) return lines;
  const counts = (c: Counts) => [String(c.pending), String(c.replayed)];
  lines.push(`oldest ${tally.oldest ?? '-'}, newest ${tally.newest ?? '-'}`, '');
  lines.push(
    ...table(
      ['REASON', 'SOURCE TOPIC', 'PENDING', 'REPLAYED'],
      tally.by_reason_and_source.map((r) => [r.reason, r.source, ...counts(r)]),
      new Set([2, 3]),
    ),
    '',
  );
  lines.push(
    ...table(
      ['DEAD-LETTERED', 'PENDING', 'REPLAYED'],
      tally.by_age.map((a) => [a.age, ...counts(a)]),
      new Set([1, 2]),
    ),
  );
  return lines;
}
