/**
 * After a connection failed, sends fail at once for a while instead of each waiting out
 * its deadline, so callers stay fast while Kafka is down. A broker that cannot be reached
 * is tried again after `backoffMs`; a connection refused for its credentials or
 * certificates, which only a change of configuration or of the broker heals, less and less
 * often (doubling up to `maxBackoffMs`), and its cause is logged once, not per attempt.
 */
export interface Backoff {
  /** The longest a refused connection waits before it is tried again. */
  readonly maxMs: number;
  /** Whether sends fail at once now. */
  closed(): boolean;
  /** A connection opened: the next refusal starts from the shortest back-off again. */
  connected(): void;
  /** The broker could not be reached: closed for `backoffMs`, which it returns. */
  unreachable(): number;
  /** Refused for the reason `words`: how long it is closed, and whether these words are new since the last refusal. */
  refused(words: string): { retryInMs: number; isNew: boolean };
}

export function createBackoff(params: { backoffMs: number; maxBackoffMs: number }): Backoff {
  const { backoffMs, maxBackoffMs } = params;
  let closedUntil = 0;
  /** Connections refused in a row, and the words last logged for it. */
  let refusals = 0;
  let logged: string | undefined;

  function forget(): void {
    refusals = 0;
    logged = undefined;
  }

  return {
    maxMs: maxBackoffMs,
    closed: () => Date.now() < closedUntil,
    connected: forget,
    unreachable() {
      forget();
      closedUntil = Date.now() + backoffMs;
      return backoffMs;
    },
    refused(words) {
      refusals += 1;
      const retryInMs = Math.min(backoffMs * 2 ** Math.min(refusals - 1, 30), maxBackoffMs);
      closedUntil = Date.now() + retryInMs;
      const isNew = words !== logged;
      logged = words;
      return { retryInMs, isNew };
    },
  };
}
