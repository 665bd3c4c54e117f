/**
 * Each function's bundle size and module-init time. Bundles are built with the same
 * esbuild options as serverless.yml's custom.esbuild (minified, AWS SDK excluded, the
 * IAM signer external); init time is how long `require()` of the bundle takes in a fresh
 * node process (median of several), which is the part of a cold start the code controls.
 *
 *   npx tsx bench/bundles.ts [runs=15]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';

const runs = Number(process.argv[2] ?? 15);
const repo = path.resolve(__dirname, '..');
const out = mkdtempSync(path.join(os.tmpdir(), 'sts-bundles-'));

async function main(): Promise<void> {
  const handlers = readdirSync(path.join(repo, 'handlers')).filter((f) => f.endsWith('.ts'));
  const rows: Array<{ function: string; bundle_kb: number; init_ms_p50: number; init_ms_max: number }> = [];
  for (const file of handlers) {
    const name = file.replace(/\.ts$/, '');
    const outfile = path.join(out, `${name}.js`);
    await build({
      entryPoints: [path.join(repo, 'handlers', file)],
      bundle: true,
      minify: true,
      platform: 'node',
      target: 'node22',
      outfile,
      external: ['@aws-sdk/*', 'aws-msk-iam-sasl-signer-js'],
      logLevel: 'error',
    });
    const samples: number[] = [];
    for (let i = 0; i < runs; i++) {
      const script = `const t=process.hrtime.bigint();require(${JSON.stringify(outfile)});process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6));process.exit(0)`;
      const ms = execFileSync(process.execPath, ['-e', script], {
        env: { ...process.env, KAFKA_BROKERS: '127.0.0.1:9092', LOG_LEVEL: 'ERROR' },
      }).toString();
      samples.push(Number(ms));
    }
    samples.sort((a, b) => a - b);
    rows.push({
      function: name,
      bundle_kb: Math.round(statSync(outfile).size / 102.4) / 10,
      init_ms_p50: Math.round(samples[Math.floor(samples.length / 2)]! * 10) / 10,
      init_ms_max: Math.round(samples[samples.length - 1]! * 10) / 10,
    });
  }
  console.table(rows);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
