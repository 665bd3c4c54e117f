/**
 * The arithmetic behind RELIABILITY.md's cluster figures (test/reliability/figures.ts):
 * a figure that is computed wrongly would report a pause or a refusal that never was.
 */
import { describe, expect, it } from 'vitest';
import { longestGapMs, longestStreakMs, statusCounts } from '../../reliability/figures';

describe('longestStreakMs', () => {
  it('measures from the first refusal to the next acknowledgement, calls taken in start order', () => {
    const calls = [
      { start: 0, end: 10, status: 202 },
      { start: 120, end: 130, status: 503 },
      { start: 100, end: 1100, status: 503 },
      { start: 700, end: 710, status: 202 },
      { start: 2000, end: 2010, status: 503 },
      { start: 2100, end: 2110, status: 202 },
    ];
    expect(longestStreakMs(calls, 503, 202)).toBe(600);
  });

  it('runs to the end of the last refusal when no acknowledgement follows, and is 0 without refusals', () => {
    expect(
      longestStreakMs(
        [
          { start: 0, end: 5, status: 202 },
          { start: 10, end: 50, status: 503 },
          { start: 20, end: 90, status: 503 },
        ],
        503,
        202,
      ),
    ).toBe(80);
    expect(longestStreakMs([{ start: 0, end: 5, status: 202 }], 503, 202)).toBe(0);
  });

  it('a status that is neither does not end a streak', () => {
    expect(
      longestStreakMs(
        [
          { start: 0, end: 1, status: 503 },
          { start: 50, end: 60, status: 0 },
          { start: 300, end: 301, status: 202 },
        ],
        503,
        202,
      ),
    ).toBe(300);
  });
});

describe('longestGapMs', () => {
  it("is the largest gap between consecutive times, the window's ends included", () => {
    expect(longestGapMs([150, 100, 400], 0, 500)).toBe(250);
    expect(longestGapMs([10, 20], 0, 1000)).toBe(980);
    expect(longestGapMs([], 100, 400)).toBe(300);
  });

  it('ignores times outside the window', () => {
    expect(longestGapMs([-500, 50, 2000], 0, 100)).toBe(50);
  });
});

describe('statusCounts', () => {
  it('counts calls per status', () => {
    expect(statusCounts([{ status: 200 }, { status: 503 }, { status: 200 }])).toEqual({ 200: 2, 503: 1 });
  });
});
