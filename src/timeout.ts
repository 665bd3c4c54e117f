/**
 * The one bounded wait: `promise`, or the error `onTimeout` makes once `timeoutMs` has
 * passed, whichever comes first; the timer is always cleared. `onTimeout` is told how late
 * the timer fired, so a caller can tell a frozen container from a slow peer.
 */

/** setTimeout's largest delay; a longer one fires at once. */
const MAX_TIMER_MS = 2_147_483_647;

/** A delay setTimeout honours: at least 1 ms, at most MAX_TIMER_MS. */
export function timerMs(ms: number): number {
  return Math.min(Math.max(Math.ceil(ms), 1), MAX_TIMER_MS);
}

export function withTimeout<T>(promise: Promise<T>, timeoutMs: number, onTimeout: (lateMs: number) => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const ms = timerMs(timeoutMs);
  const due = Date.now() + ms;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout(Date.now() - due)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
