/**
 * Figures of the cluster reliability tests, from what the load recorded: streaks of
 * refused publishes, pauses in a consumer's progress, answers per status.
 */

/** One HTTP call of the load: when it started and ended (ms since the epoch), and its status (0: no answer). */
export interface Call {
  start: number;
  end: number;
  status: number;
}

/**
 * The longest time the calls answered `status` without an answer of `ok` in between: from
 * the start of the first such call to the start of the next `ok` call (or the last
 * such call's end when none came). Calls are taken in the order they started.
 */
export function longestStreakMs(calls: readonly Call[], status: number, ok: number): number {
  const sorted = [...calls].sort((a, b) => a.start - b.start);
  let longest = 0;
  let from: number | undefined;
  let lastEnd = 0;
  for (const call of sorted) {
    if (call.status === status) {
      from ??= call.start;
      lastEnd = Math.max(lastEnd, call.end);
    } else if (call.status === ok && from !== undefined) {
      longest = Math.max(longest, call.start - from);
      from = undefined;
    }
  }
  if (from !== undefined) longest = Math.max(longest, lastEnd - from);
  return longest;
}

/**
 * The longest stretch within [from, to] in which nothing happened: the largest gap between
 * consecutive times (the window's ends count as times), in ms.
 */
export function longestGapMs(times: readonly number[], from: number, to: number): number {
  const inside = times.filter((t) => t >= from && t <= to).sort((a, b) => a - b);
  let previous = from;
  let longest = 0;
  for (const t of [...inside, to]) {
    longest = Math.max(longest, t - previous);
    previous = t;
  }
  return longest;
}

/** Counts per status, e.g. { 200: 290, 503: 10 }. */
export function statusCounts(calls: readonly Pick<Call, 'status'>[]): Record<number, number> {
  const out: Record<number, number> = {};
  for (const c of calls) out[c.status] = (out[c.status] ?? 0) + 1;
  return out;
}
