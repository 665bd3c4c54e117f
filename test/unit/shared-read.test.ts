import { describe, expect, it } from 'vitest';
import { sharedRead } from '../../src/shared-read';

function counter() {
  let reads = 0;
  let fail = false;
  const release: Array<() => void> = [];
  const read = () =>
    new Promise<number>((resolve, reject) => {
      reads += 1;
      const n = reads;
      release.push(() => (fail ? reject(new Error('unreachable')) : resolve(n)));
    });
  return { read, reads: () => reads, settle: () => release.splice(0).forEach((r) => r()), failNext: (f: boolean) => (fail = f) };
}

describe('sharedRead', () => {
  it('shares one read between callers that come while it runs, then reuses its answer for reuseMs', async () => {
    // Prepare
    const source = counter();
    let clock = 0;
    const shared = sharedRead(source.read, { reuseMs: 5000, now: () => clock });
    // Act
    const first = Array.from({ length: 20 }, () => shared.get());
    source.settle();
    const answers = await Promise.all(first);
    clock += 4999;
    const reused = await shared.get();
    clock += 1;
    const renewed = shared.get();
    source.settle();
    // Assess
    expect(answers).toEqual(Array(20).fill(1));
    expect(reused).toBe(1);
    expect(await renewed).toBe(2);
    expect(source.reads()).toBe(2);
  });

  it('keeps no failed read, reads again after clear(), and treats a clock set back as the answer being old', async () => {
    // Prepare
    const source = counter();
    let clock = 10_000;
    const shared = sharedRead(source.read, { reuseMs: 5000, now: () => clock });
    // Act / Assess: a failure is shared by those waiting, then forgotten
    source.failNext(true);
    const failed = shared.get();
    source.settle();
    await expect(failed).rejects.toThrow('unreachable');
    source.failNext(false);
    const ok = shared.get();
    source.settle();
    expect(await ok).toBe(2);
    // clear()
    shared.clear();
    const afterClear = shared.get();
    source.settle();
    expect(await afterClear).toBe(3);
    // a clock set back
    clock -= 60_000;
    const afterStep = shared.get();
    source.settle();
    expect(await afterStep).toBe(4);
  });
});
