import { describe, expect, it } from 'vitest';
import { CONSUMER_FUNCTIONS, consumerFunction } from '../../../src/consumers';
import { filterPatterns, startingPosition } from '../../../src/consumers/functions';
import { compileFilterPatterns } from '../../../infra/offline-msk/src/filter';

describe('the consumer function table', () => {
  it('has exactly one catch-all (no filter) on every topic a function reads', () => {
    // Prepare
    const topics = new Set(CONSUMER_FUNCTIONS.map((f) => f.topic));

    // Act
    const catchAlls = [...topics].map((topic) => CONSUMER_FUNCTIONS.filter((f) => f.topic === topic && f.catchAll).length);

    // Assess
    expect(catchAlls.every((n) => n === 1)).toBe(true);
  });

  it('filters the others on value.event_type with patterns the event source accepts', () => {
    // Prepare
    const filtered = CONSUMER_FUNCTIONS.filter((f) => !f.catchAll);

    // Act
    const patterns = filtered.map((f) => filterPatterns(f));

    // Assess
    expect(patterns).toEqual([[{ value: { event_type: ['http_response'] } }], [{ value: { event_type: ['error'] } }]]);
    for (const p of patterns) expect(() => compileFilterPatterns(p)).not.toThrow();
    expect(filterPatterns(consumerFunction('onCommand'))).toBeUndefined();
  });

  it('maps KAFKA_AUTO_OFFSET_RESET to the starting position', () => {
    // Prepare, Act, Assess
    expect(startingPosition({ autoOffsetReset: 'earliest' })).toBe('TRIM_HORIZON');
    expect(startingPosition({ autoOffsetReset: 'latest' })).toBe('LATEST');
  });

  it('refuses an unknown function name', () => {
    // Prepare, Act, Assess
    expect(() => consumerFunction('onNothing')).toThrow(/no consumer function named onNothing/);
  });
});
