/**
 * The packaged HTTP function on Node.js 22, run as Lambda runs it (test/helpers/lambda-zip.ts),
 * with a Runtime API of this test's own: during its init the function registers an internal
 * extension (before the runtime asks for its first event, after which Lambda refuses it) and
 * asks for the extension's next event; then, when Lambda would reap the container, SIGTERM
 * makes it push what it counted since its last push, within the 500 ms Lambda allows before
 * SIGKILL. Without the extension Lambda sends no SIGTERM, and those counts were lost.
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchGroups } from '@simple-time-service/fleet-metrics';
import { testConfig, uniqueName } from '../helpers/kafka';
import { httpEvent } from '../helpers/lambda';
import { removeUnpacked, startZipFunction, unpackReadOnly } from '../helpers/lambda-zip';
import type { ZipFunction } from '../helpers/lambda-zip';
import { node22 } from '../helpers/node22';
import { startPushgateway } from '../helpers/pushgateway';
import type { OwnPushgateway } from '../helpers/pushgateway';
import { waitFor } from '../helpers/wait-for';

const run = promisify(execFile);
const repo = path.resolve(__dirname, '../..');
const serverless = path.join(repo, 'node_modules/serverless/bin/serverless.js');
const PUSHGATEWAY_PORT = 24329;
/** Lambda's grace period for a runtime with an internal extension, then SIGKILL. */
const GRACE_MS = 500;

/** What a Runtime API saw, in order. */
interface RuntimeApiLog {
  calls: Array<{ what: 'register' | 'extension-next' | 'runtime-next'; events?: unknown; refused?: boolean; identifier?: string }>;
}

/** The parts of Lambda's Runtime API the function talks to; a registration after the runtime's first `next` is refused, as Lambda refuses it. */
function startRuntimeApi(): Promise<{ address: string; log: RuntimeApiLog; close: () => void }> {
  const log: RuntimeApiLog = { calls: [] };
  const held: http.ServerResponse[] = [];
  const server = http.createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      if (request.method === 'POST' && request.url === '/2020-01-01/extension/register') {
        const refused = log.calls.some((c) => c.what === 'runtime-next');
        log.calls.push({ what: 'register', events: (JSON.parse(body) as { events?: unknown }).events, refused });
        if (refused) {
          response.writeHead(403, { 'content-type': 'application/json' }).end('{"errorType":"Extension.RegistrationClosed"}');
          return;
        }
        response.writeHead(200, { 'lambda-extension-identifier': randomUUID(), 'content-type': 'application/json' }).end('{}');
      } else if (request.url === '/2020-01-01/extension/event/next') {
        log.calls.push({ what: 'extension-next', identifier: String(request.headers['lambda-extension-identifier']) });
        held.push(response); // no event subscribed: never answered
      } else if (request.url === '/2018-06-01/runtime/invocation/next') {
        log.calls.push({ what: 'runtime-next' });
        held.push(response); // the invocations come over IPC
      } else {
        response.writeHead(404).end();
      }
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        address: `127.0.0.1:${port}`,
        log,
        close: () => {
          for (const r of held) r.destroy();
          server.close();
        },
      });
    });
  });
}

/** Waits for process `pid` to end; SIGKILLs it after `graceMs`. Resolves whether it ended by itself. */
async function exitedWithin(pid: number, graceMs: number): Promise<boolean> {
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const deadline = performance.now() + graceMs;
  while (performance.now() < deadline) {
    if (!alive()) return true;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  if (alive()) process.kill(pid, 'SIGKILL');
  return false;
}

describe('the packaged HTTP function on Node.js 22, shut down by Lambda', () => {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sts-node22-shutdown-'));
  const packageDir = path.join(workDir, 'package');
  const esbuildFolder = `.esbuild/node22-shutdown-${process.pid}`;
  const job = uniqueName('sts-shutdown');
  let pushgateway: OwnPushgateway | undefined;
  let runtimeApi: Awaited<ReturnType<typeof startRuntimeApi>> | undefined;
  let zip: ZipFunction | undefined;

  beforeAll(async () => {
    const node = node22();
    pushgateway = await startPushgateway(PUSHGATEWAY_PORT);
    runtimeApi = await startRuntimeApi();
    await run(process.execPath, [serverless, 'package', '--stage', 'prod', '--package', packageDir], {
      cwd: repo,
      timeout: 300_000,
      maxBuffer: 16 * 1024 * 1024,
      env: { ...process.env, ESBUILD_WORK_FOLDER: esbuildFolder, SLS_TELEMETRY_DISABLED: '1' },
    });
    const template = JSON.parse(fs.readFileSync(path.join(packageDir, 'cloudformation-template-update-stack.json'), 'utf8')) as {
      Resources: Record<
        string,
        { Properties: { Handler: string; FunctionName: string; Environment: { Variables: Record<string, unknown> } } }
      >;
    };
    const fn = template.Resources.HttpLambdaFunction!.Properties;
    const dir = path.join(workDir, 'task', 'http');
    unpackReadOnly(path.join(packageDir, 'http.zip'), dir);
    // The nodejs22.x runtime provides the AWS SDK v3 on its NODE_PATH.
    const runtimeModules = path.join(workDir, 'runtime/node_modules');
    fs.mkdirSync(runtimeModules, { recursive: true });
    fs.symlinkSync(path.join(repo, 'node_modules/@aws-sdk'), path.join(runtimeModules, '@aws-sdk'));
    const deployed = Object.fromEntries(
      Object.entries(fn.Environment.Variables).filter((e): e is [string, string] => typeof e[1] === 'string'),
    );
    zip = await startZipFunction({
      node,
      dir,
      env: {
        ...deployed,
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        NODE_PATH: runtimeModules,
        AWS_REGION: 'us-east-1',
        AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
        AWS_LAMBDA_FUNCTION_NAME: fn.FunctionName,
        AWS_LAMBDA_LOG_STREAM_NAME: `2026/01/01/[$LATEST]${randomUUID().replace(/-/g, '')}`,
        AWS_LAMBDA_RUNTIME_API: runtimeApi.address,
        _HANDLER: fn.Handler,
        // Locally: the shared broker in plaintext, this test's Pushgateway and job.
        KAFKA_BROKERS: testConfig.kafka.brokers.join(','),
        MSK_CLUSTER_ARN: '',
        KAFKA_AUTH: 'none',
        PUSHGATEWAY_URL: pushgateway.url,
        SERVICE_NAME: job,
        // Only the first invocation pushes: the rest wait for the next interval, or the shutdown.
        METRICS_PUSH_INTERVAL_MS: '300000',
      },
    });
  }, 400_000);

  afterAll(async () => {
    await zip?.stop();
    runtimeApi?.close();
    await pushgateway?.stop();
    removeUnpacked(path.join(workDir, 'task'));
    fs.rmSync(workDir, { recursive: true, force: true });
    fs.rmSync(path.join(repo, esbuildFolder), { recursive: true, force: true });
  }, 60_000);

  const pushed = async (): Promise<{ requests: number; commit: string | undefined }> => {
    const groups = await fetchGroups({ url: pushgateway!.url, timeoutMs: 2000, job });
    const families = groups.flatMap((g) => g.families);
    const requests = families
      .filter((f) => f.name === 'http_requests_total')
      .flatMap((f) => f.samples)
      .reduce((sum, s) => sum + Number(s.value), 0);
    const commit = families.find((f) => f.name === 'build_info')?.samples[0]?.labels.commit;
    return { requests, commit: commit === undefined ? undefined : String(commit) };
  };

  it('registers an internal extension during its init, before the runtime asks for its first event, and asks for its next event', async () => {
    expect(zip!.init, JSON.stringify(zip!.init.error)).toMatchObject({ ok: true });
    const calls = await waitFor(() => (runtimeApi!.log.calls.length >= 3 ? runtimeApi!.log.calls : undefined), {
      timeoutMs: 5000,
      what: 'the registration, the extension next and the runtime next',
    }).catch(() => runtimeApi!.log.calls);
    expect(calls.find((c) => c.what === 'register')).toEqual({ what: 'register', events: [], refused: false });
    expect(calls.findIndex((c) => c.what === 'register')).toBeLessThan(calls.findIndex((c) => c.what === 'runtime-next'));
    expect(calls.filter((c) => c.what === 'extension-next')).toHaveLength(1);
  });

  it('on SIGTERM pushes what it counted since its last push, and exits within the grace period', async () => {
    // Prepare: five invocations; only the first pushed
    for (let i = 0; i < 5; i++)
      expect(await zip!.invoke(httpEvent('GET /healthz'))).toMatchObject({ ok: true, result: { statusCode: 200 } });
    expect((await pushed()).requests).toBe(1);
    // Act: Lambda reaps the container
    const pid = (zip!.init as ZipFunction['init'] & { pid: number }).pid;
    process.kill(pid, 'SIGTERM');
    const exited = await exitedWithin(pid, GRACE_MS);
    // Assess
    expect(exited, `the runtime did not exit within ${GRACE_MS} ms of SIGTERM:\n${zip!.output()}`).toBe(true);
    const after = await pushed();
    expect(after.requests).toBe(5);
    // build_info carries the commit the zip was packaged from (esbuild's define).
    expect(after.commit).toBe(execFileSync('git', ['rev-parse', 'HEAD'], { cwd: repo, encoding: 'utf8' }).trim());
  });
});
