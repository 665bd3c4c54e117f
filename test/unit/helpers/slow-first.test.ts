/** The sequencer's list of slow files (test/helpers/slow-first.mts) names files that exist. */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SLOW_FILES } from '../../helpers/slow-first.mjs';

const repo = path.resolve(__dirname, '../../..');

describe('the slow files started first', () => {
  it('are test files of this repository (a renamed file would silently start last)', () => {
    const missing = SLOW_FILES.filter((file) => !fs.existsSync(path.join(repo, file)));
    expect(missing, 'rename it in SLOW_FILES too (test/helpers/slow-first.mts)').toEqual([]);
  });
});
