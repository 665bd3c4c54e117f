/**
 * The local MSK event source as another project uses it: `npm pack` of infra/offline-msk,
 * the tarball installed (without the internet: kafkajs from this repository's copy, the
 * serverless and serverless-offline peers linked) into a service of its own in a temp
 * directory, far from this repository's tsconfig and code, on a broker of its own started
 * fresh for it (so its first consumer group meets a group coordinator still loading).
 * The service's functions take records, fail one into the destination topic, and the
 * start is quiet: no error line, no stack trace.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import type { Admin, Consumer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrivateBroker } from '../../../../test/helpers/private-broker';
import type { PrivateBroker } from '../../../../test/helpers/private-broker';
import { packageRoot, waitFor } from './support';

const run = promisify(execFile);
const packageDir = path.resolve(__dirname, '../..');
const PORT = 21200;
const HTTP_PORT = 21310;

const SERVERLESS_YML = `service: packaged
provider:
  name: aws
  runtime: nodejs22.x
  stage: test
  region: eu-west-1
  environment:
    OUT: \${env:OUT}
plugins:
  - '@simple-time-service/serverless-offline-msk'
  - serverless-offline
custom:
  offlineMsk:
    brokers: \${env:BROKERS}
  serverless-offline:
    host: 127.0.0.1
    httpPort: ${HTTP_PORT}
    lambdaPort: ${HTTP_PORT + 2}
functions:
  takes:
    handler: handlers.takes
    events:
      - msk:
          arn: arn:aws:kafka:eu-west-1:210987654321:cluster/packaged/1
          topic: source
          consumerGroupId: packaged-takes
          maximumBatchingWindow: 0
          provisionedPollerConfig: { minimumPollers: 1 }
          functionResponseTypes: [ReportBatchItemFailures]
          maximumRetryAttempts: 1
          bisectBatchOnFunctionError: true
          destinations:
            onFailure: kafka://dead-letters
`;

const HANDLERS = `import { appendFileSync } from 'node:fs';
export const takes = async (event) => {
  const failed = [];
  for (const [partition, records] of Object.entries(event.records)) {
    for (const r of records) {
      const value = Buffer.from(r.value, 'base64').toString();
      if (value === 'bad') failed.push({ itemIdentifier: { partition, offset: r.offset } });
      else appendFileSync(process.env.OUT, value + '\\n');
    }
  }
  return { batchItemFailures: failed };
};
`;

describe('the offline-msk package, packed and installed in a service of its own', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'offline-msk-package-'));
  const service = path.join(dir, 'service');
  const out = path.join(dir, 'taken.txt');
  let broker: PrivateBroker | undefined;
  let kafka: Kafka;
  let admin: Admin | undefined;
  let reader: Consumer | undefined;
  const dead: Array<{ key: string | null; value: Record<string, unknown> }> = [];
  let offline: ChildProcess | undefined;
  let output = '';
  let exitCode: number | null | undefined;

  beforeAll(async () => {
    // The tarball, built by its prepack script.
    const packed = await run('npm', ['pack', '--pack-destination', dir], { cwd: packageDir, timeout: 120_000 });
    const tarball = path.join(dir, packed.stdout.trim().split('\n').at(-1)!);

    // A service of its own: kafkajs from this repository's copy (no registry), the peers linked.
    mkdirSync(service);
    writeFileSync(path.join(service, 'package.json'), JSON.stringify({ name: 'packaged', version: '1.0.0', private: true }));
    await run(
      'npm',
      ['install', '--offline', '--no-audit', '--no-fund', '--legacy-peer-deps', '--ignore-scripts', packageRoot('kafkajs'), tarball],
      {
        cwd: service,
        timeout: 120_000,
      },
    );
    for (const peer of ['serverless', 'serverless-offline'])
      symlinkSync(packageRoot(peer), path.join(service, 'node_modules', peer), 'dir');
    writeFileSync(path.join(service, 'serverless.yml'), SERVERLESS_YML);
    writeFileSync(path.join(service, 'handlers.mjs'), HANDLERS);

    // A fresh broker of its own, with the records waiting.
    broker = await startPrivateBroker({ port: PORT });
    kafka = new Kafka({ brokers: [broker.brokers], clientId: 'offline-msk-package-test', logLevel: logLevel.NOTHING });
    admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic: 'source', numPartitions: 2 },
        { topic: 'dead-letters', numPartitions: 1 },
      ],
    });
    const producer = kafka.producer();
    await producer.connect();
    await waitFor(
      () =>
        producer.send({
          topic: 'source',
          acks: -1,
          messages: ['one', 'two', 'bad', 'three'].map((value) => ({ key: value, value, partition: 0 })),
        }),
      {
        timeoutMs: 15_000,
      },
    );
    await producer.disconnect();

    offline = spawn(process.execPath, [path.join(service, 'node_modules/serverless/bin/serverless.js'), 'offline', 'start'], {
      cwd: service,
      env: { ...process.env, BROKERS: broker.brokers, OUT: out },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    offline.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    offline.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    offline.once('exit', (code) => (exitCode = code));
    await waitFor(() => (output.includes('event source mapping(s) running') ? true : undefined), {
      timeoutMs: 90_000,
      intervalMs: 200,
      what: 'serverless offline with the packaged plugin to start',
    }).catch((error: Error) => {
      throw new Error(`${error.message}\n${output}`);
    });

    reader = kafka.consumer({ groupId: 'dead-reader', maxWaitTimeInMs: 100 });
    await reader.connect();
    await reader.subscribe({ topics: ['dead-letters'], fromBeginning: true });
    await reader.run({
      eachMessage: ({ message }) => {
        dead.push({ key: message.key?.toString() ?? null, value: JSON.parse(message.value!.toString()) as Record<string, unknown> });
        return Promise.resolve();
      },
    });
  }, 300_000);

  afterAll(async () => {
    if (offline && exitCode === undefined) offline.kill('SIGKILL');
    await reader?.disconnect().catch(() => undefined);
    await admin?.disconnect().catch(() => undefined);
    await broker?.destroy();
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('installs as compiled JavaScript: no TypeScript, no tsconfig, nothing of this repository', () => {
    const installed = path.join(service, 'node_modules/@simple-time-service/serverless-offline-msk');

    expect(readdirSync(installed).sort()).toEqual(['CHANGELOG.md', 'LICENSE', 'README.md', 'dist', 'index.cjs', 'package.json']);
    expect(readdirSync(path.join(installed, 'dist')).every((f) => f.endsWith('.js'))).toBe(true);
    expect(existsSync(path.join(installed, 'src'))).toBe(false);
  });

  it('runs the event source mapping: records reach the function, the failed one goes to the destination topic', async () => {
    const taken = await waitFor(
      () => (existsSync(out) && readFileSync(out, 'utf8').split('\n').filter(Boolean).length >= 3 ? readFileSync(out, 'utf8') : undefined),
      {
        timeoutMs: 30_000,
        what: 'the function to take the records',
      },
    );
    const [letter] = await waitFor(() => (dead.length > 0 ? dead : undefined), {
      timeoutMs: 30_000,
      what: 'the failed record on the destination topic',
    });

    expect(taken.split('\n').filter(Boolean).sort()).toEqual(['one', 'three', 'two']);
    expect(letter!.key).toBe('bad');
    expect(letter!.value).toMatchObject({
      requestContext: {
        functionArn: 'arn:aws:lambda:eu-west-1:210987654321:function:packaged-test-takes:$LATEST',
        condition: 'RetriesExhausted',
        approximateInvokeCount: 2,
      },
      KafkaBatchInfo: {
        batchSize: 1,
        eventSourceArn: 'arn:aws:kafka:eu-west-1:210987654321:cluster/packaged/1',
        recordInfo: { offset: '2' },
      },
    });
    await waitFor(
      async () => {
        const [committed] = await admin!.fetchOffsets({ groupId: 'packaged-takes', topics: ['source'] });
        return committed?.partitions.find((p) => p.partition === 0)?.offset === '4' ? true : undefined;
      },
      { what: 'the group to commit past every record' },
    );
  }, 90_000);

  it('starts quietly on a fresh broker: no error line and no stack trace', () => {
    const lines = output.split('\n');

    expect(lines.filter((l) => /^\s*[×✖]/.test(l))).toEqual([]);
    expect(lines.filter((l) => /^\s+at /.test(l))).toEqual([]);
    expect(lines.filter((l) => /KafkaJS\w*Error/.test(l) && !l.startsWith('Warning:'))).toEqual([]);
  });

  it('stops cleanly', async () => {
    offline!.kill('SIGINT');
    await waitFor(() => (exitCode !== undefined ? true : undefined), { timeoutMs: 30_000, what: 'serverless offline to exit' });

    expect(exitCode).toBe(0);
    expect(output).toContain('offline-msk: stopped 1 event source mapping(s)');
  });
});
