/** src/zod.ts: every schema built from it answers with zod's English messages, not "Invalid input". */
import { describe, expect, it } from 'vitest';
import * as z from '../../src/zod';

describe('zod as the service imports it', () => {
  it('names what was expected and what was received', () => {
    // Act
    const result = z.string().safeParse(1);
    // Assess
    expect(result.error?.issues[0]?.message).toBe('Invalid input: expected string, received number');
  });
});
