/**
 * Benchmarks run the functions under a service name and stage of their own
 * (bench/service.ts), so what they push to the local Pushgateway never shows on the
 * service's dashboard nor in its sums and alerts: a benchmark that runs a function (imports
 * from handlers/) or starts `serverless offline` (test/helpers/offline) must use
 * BENCH_SERVICE.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BENCH_SERVICE } from '../../bench/service';

const benchDir = path.resolve(__dirname, '../../bench');

/** Whether a benchmark's source runs a function that pushes under its configured job and stage. */
function runsFunctions(source: string): boolean {
  return /from '\.\.\/handlers\/|from '\.\.\/test\/helpers\/offline'/.test(source);
}

/** The benchmarks that run functions without BENCH_SERVICE, as file names. */
function benchesWithoutOwnService(files: ReadonlyArray<{ name: string; source: string }>): string[] {
  return files.filter((f) => runsFunctions(f.source) && !/\bBENCH_SERVICE\b/.test(f.source)).map((f) => f.name);
}

describe('the benchmarks', () => {
  it("find a benchmark that runs a function under the service's own name (the check can fail)", () => {
    // Prepare
    const files = [
      { name: 'a.ts', source: "import { createHttpHandler } from '../handlers/factories/http';\nloadConfig(process.env);" },
      { name: 'b.ts', source: "import { startOffline } from '../test/helpers/offline';\nstartOffline({ env: { ...BENCH_SERVICE } });" },
      { name: 'c.ts', source: "import { build } from 'esbuild';" },
    ];
    // Act / Assess
    expect(benchesWithoutOwnService(files)).toEqual(['a.ts']);
  });

  it("run the functions under a service name and stage of their own, never the service's", () => {
    // Prepare
    const files = readdirSync(benchDir)
      .filter((name) => name.endsWith('.ts'))
      .map((name) => ({ name, source: readFileSync(path.join(benchDir, name), 'utf8') }));
    // Act
    const missing = benchesWithoutOwnService(files);
    // Assess: spread BENCH_SERVICE (bench/service.ts) into the benchmark's config or environment
    expect(files.filter((f) => runsFunctions(f.source)).length).toBeGreaterThanOrEqual(3);
    expect(missing).toEqual([]);
    expect(BENCH_SERVICE.SERVICE_NAME).not.toBe('simple-time-service');
    expect(BENCH_SERVICE.STAGE).not.toMatch(/^local/);
  });
});
