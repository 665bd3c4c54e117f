/** What the container producer counts of its work, for `state()` and the send observer. */
import { errorMessage } from '../../errors';
import type { OutgoingRecord } from '../records';
import { recordBytes } from '../records';
import type { ProducerState, ProducerStatus, SendObserver } from './types';

export interface Stats {
  connected(): number;
  noteError(reason: unknown): void;
  /** Records whose send settled: counted, and each told to the observer. */
  observe(records: readonly OutgoingRecord[], status: 'success' | 'error'): void;
  lastError(): string | undefined;
  snapshot(status: ProducerStatus, inFlight: number): ProducerState;
}

export function createStats(onSend: SendObserver | undefined): Stats {
  const counts = { connects: 0, sent: 0, failed: 0 };
  let lastError: string | undefined;
  let lastErrorAt: string | undefined;
  return {
    connected: () => (counts.connects += 1),
    noteError(reason) {
      lastError = errorMessage(reason);
      lastErrorAt = new Date().toISOString();
    },
    observe(records, status) {
      if (status === 'success') counts.sent += records.length;
      else counts.failed += records.length;
      if (!onSend) return;
      for (const r of records) onSend({ topic: r.topic, status, bytes: recordBytes(r) });
    },
    lastError: () => lastError,
    snapshot: (status, inFlight) => ({ status, ...counts, inFlight, lastError, lastErrorAt }),
  };
}
