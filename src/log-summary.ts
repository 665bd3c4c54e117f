/**
 * Repeated warnings, summarised (the readable log format, src/logger.ts): the first line
 * of each message, reason and source is printed whole; its repeats are counted, and once
 * every SUMMARY_WINDOW_MS one line per message says how many more came, per reason and
 * source. A burst of a thousand bad records is then a few lines, not a thousand. The
 * summary is forgotten once a window passes without a repeat, so the next burst starts
 * with whole lines again.
 */

export const SUMMARY_WINDOW_MS = 5000;
/** Distinct message, reason and source triples remembered at once; the rest are counted as `other lines`. */
const MAX_KEYS = 100;

export interface Repeatable {
  level: string;
  message: string;
  /** Who wrote it (the function), printed with the count. */
  origin?: string | undefined;
  /** What the line is about, e.g. a dead letter's reason. */
  reason?: string | undefined;
  /** Where it came from, e.g. the record's topic. */
  source?: string | undefined;
}

interface Tally {
  level: string;
  message: string;
  origin: string | undefined;
  label: string;
  repeats: number;
}

export interface WarningSummary {
  /** Whether to print the line (its first in this burst); counts it otherwise. */
  admit(line: Repeatable): boolean;
  /** Prints the counts so far now, as the timer would. */
  flush(): void;
}

export function createWarningSummary(params: {
  print: (line: { level: string; message: string; origin: string | undefined }) => void;
  windowMs?: number;
  /** Schedules `flush`; unref'd, so a pending summary never keeps a process alive. */
  schedule?: (flush: () => void, ms: number) => void;
}): WarningSummary {
  const windowMs = params.windowMs ?? SUMMARY_WINDOW_MS;
  const schedule =
    params.schedule ??
    ((flush: () => void, ms: number) => {
      setTimeout(flush, ms).unref();
    });
  const tallies = new Map<string, Tally>();
  let scheduled = false;

  function flush(): void {
    scheduled = false;
    const byMessage = new Map<string, Tally[]>();
    for (const tally of tallies.values()) {
      if (tally.repeats > 0)
        byMessage.set(`${tally.level}\u0000${tally.message}`, [...(byMessage.get(`${tally.level}\u0000${tally.message}`) ?? []), tally]);
    }
    if (byMessage.size === 0) {
      tallies.clear();
      return;
    }
    for (const group of byMessage.values()) {
      const total = group.reduce((sum, t) => sum + t.repeats, 0);
      const parts = group.sort((a, b) => b.repeats - a.repeats).map((t) => `${t.label} ${t.repeats}`);
      params.print({
        level: group[0]!.level,
        origin: group[0]!.origin,
        message: `${group[0]!.message}: ${total} more in the last ${windowMs / 1000} s (${parts.join(', ')})`,
      });
      for (const t of group) t.repeats = 0;
    }
    scheduled = true;
    schedule(flush, windowMs);
  }

  return {
    admit(line) {
      const label =
        [line.reason, line.source === undefined ? undefined : `from ${line.source}`].filter((p) => p !== undefined).join(' ') || 'all';
      const key = `${line.level}\u0000${line.message}\u0000${label}`;
      let tally = tallies.get(key);
      let first = false;
      if (!tally && tallies.size < MAX_KEYS) {
        tally = { level: line.level, message: line.message, origin: line.origin, label, repeats: 0 };
        tallies.set(key, tally);
        first = true;
      }
      if (!tally) {
        // Full: counted, never printed whole, under one line per level.
        const otherKey = `${line.level}\u0000\u0000other`;
        tally = tallies.get(otherKey) ?? {
          level: line.level,
          message: 'other lines',
          origin: line.origin,
          label: 'of other messages',
          repeats: 0,
        };
        tallies.set(otherKey, tally);
      }
      if (!scheduled) {
        scheduled = true;
        schedule(flush, windowMs);
      }
      if (first) return true;
      tally.repeats += 1;
      return false;
    },
    flush,
  };
}
