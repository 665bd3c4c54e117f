/**
 * One read shared by everyone who asks while it runs, and reused for `reuseMs` after it
 * answered: GET /metrics reads the whole Pushgateway, so 20 requests at once cost one read,
 * not 20. Holds one answer at a time. A failed read is not kept: the next caller reads again.
 * (Hand-written: the memoizing libraries at hand bring a dependency tree into the bundle
 * for these few lines.)
 */
export interface SharedRead<T> {
  get(): Promise<T>;
  /** Forgets the answer (what it was read from has changed). */
  clear(): void;
}

/** `now`: milliseconds; a clock set back is treated as the answer's time being up. */
export function sharedRead<T>(read: () => Promise<T>, options: { reuseMs: number; now: () => number }): SharedRead<T> {
  let current: { answer: Promise<T>; answeredAt?: number } | undefined;
  const fresh = (answeredAt: number | undefined): boolean => {
    if (answeredAt === undefined) return true; // still running
    const age = options.now() - answeredAt;
    return age >= 0 && age < options.reuseMs;
  };
  return {
    get() {
      if (current && fresh(current.answeredAt)) return current.answer;
      const entry: { answer: Promise<T>; answeredAt?: number } = { answer: read() };
      current = entry;
      entry.answer.then(
        () => {
          entry.answeredAt = options.now();
        },
        () => {
          if (current === entry) current = undefined;
        },
      );
      return entry.answer;
    },
    clear() {
      current = undefined;
    },
  };
}
