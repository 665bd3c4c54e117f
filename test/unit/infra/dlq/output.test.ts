/**
 * infra/dlq/output.ts: what `npm run dlq -- summary` says, without a broker.
 */
import { describe, expect, it } from 'vitest';
import { summaryLines, tallyDeadLetters } from '../../../../infra/dlq/output';
import type { ReadResult } from '../../../../infra/dlq/output';

describe('npm run dlq -- summary', () => {
  it('on an empty dead-letter topic (a new stack) says there are none, with no oldest or newest', () => {
    const tally = tallyDeadLetters([], new Map(), Date.now());
    const read = { letters: [], records: 0, unread: 0 } as unknown as ReadResult;

    expect(tally.oldest).toBeNull();
    expect(tally.newest).toBeNull();
    expect(summaryLines({ read, selected: [], tally, topic: 'simple-time-service-dlq' })).toEqual([
      '0 dead letters in simple-time-service-dlq: 0 pending, 0 replayed',
    ]);
  });
});
