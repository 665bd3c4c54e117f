/** src/timeout.ts: the one bounded wait. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { timerMs, withTimeout } from '../../src/timeout';

afterEach(() => {
  vi.useRealTimers();
});

describe('withTimeout', () => {
  it('answers with the promise when it settles first, and clears its timer', async () => {
    // Prepare
    vi.useFakeTimers();
    // Act
    const value = await withTimeout(Promise.resolve('done'), 1000, () => new Error('late'));
    // Assess
    expect(value).toBe('done');
    expect(vi.getTimerCount()).toBe(0);
  });

  it("rejects with the caller's error once the bound has passed, telling how late the timer fired", async () => {
    // Prepare
    vi.useFakeTimers();
    const lates: number[] = [];
    const waiting = withTimeout(new Promise<never>(() => undefined), 500, (lateMs) => {
      lates.push(lateMs);
      return new Error('no answer within 500 ms');
    });
    const assertion = expect(waiting).rejects.toThrow('no answer within 500 ms');
    // Act
    await vi.advanceTimersByTimeAsync(500);
    // Assess
    await assertion;
    expect(lates).toEqual([0]);
  });

  it('keeps delays within what setTimeout honours', () => {
    expect([timerMs(0), timerMs(0.2), timerMs(1500), timerMs(2 ** 40)]).toEqual([1, 1, 1500, 2_147_483_647]);
  });
});
