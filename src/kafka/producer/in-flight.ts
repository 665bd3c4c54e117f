/** The sends not yet settled, so a flush can wait (bounded) for them. */
import { withTimeout } from '../../timeout';
import { KafkaUnavailableError } from '../errors';

export interface InFlight {
  /** Holds `work` until it settles. */
  track(work: Promise<unknown>): void;
  size(): number;
  /** Waits, at most `timeoutMs`, until every send now in flight has settled. */
  flush(timeoutMs: number): Promise<{ settled: number }>;
}

export function createInFlight(): InFlight {
  const pending = new Set<Promise<unknown>>();
  return {
    track(work) {
      pending.add(work);
      void work
        .catch(() => undefined)
        .finally(() => {
          pending.delete(work);
        });
    },
    size: () => pending.size,
    async flush(timeoutMs) {
      const now = [...pending];
      await withTimeout(Promise.allSettled(now), timeoutMs, () => new KafkaUnavailableError(`flush timed out after ${timeoutMs} ms`));
      return { settled: now.length };
    },
  };
}
