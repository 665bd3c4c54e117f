/**
 * Security of the HTTP function and the consumers, in-process against the real local broker:
 * admin routes refuse every token that is not exactly the bearer token and publish nothing;
 * the topic allow-list cannot be bypassed; no header changes `ip`; the body limit holds at
 * the byte; and no response or log line holds the admin token, the SASL password or a stack
 * trace, even with the broker unreachable and poison records.
 *
 * The HTTP handler reads its configuration when its module loads, so each configuration is
 * set in process.env and the module graph is loaded afresh (vi.resetModules + import()).
 */
import { connect } from 'node:net';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import fc from 'fast-check';
import type { Admin, Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTopic, startReader, testKafka, topicEnv, uniqueName, uniqueServiceTopics } from '../helpers/kafka';
import type { ReadRecord } from '../helpers/kafka';
import { httpEvent, lambdaContext } from '../helpers/lambda';

const BROKERS = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
const TOKEN = `sec-Admin-Token-${uniqueName('t')}`;
const SASL_PASSWORD = `sasl-Secret-${uniqueName('p')}`;
const MAX_BODY = 1024;
const topics = uniqueServiceTopics('sec');
const baseEnv: Record<string, string> = {
  KAFKA_BROKERS: BROKERS,
  ...topicEnv(topics),
  ADMIN_TOKEN: TOKEN,
  HTTP_MAX_BODY_BYTES: String(MAX_BODY),
  // In the config (and so in reach of every log call) without being used: the broker is plaintext.
  KAFKA_SASL_USERNAME: 'sts-user',
  KAFKA_SASL_PASSWORD: SASL_PASSWORD,
  // Nothing here needs the Pushgateway; an unreachable one also exercises its error path.
  PUSHGATEWAY_URL: 'http://127.0.0.1:9',
  LOG_LEVEL: 'DEBUG',
  SERVICE_NAME: uniqueName('sts-security'),
};

type Invoke = (e: APIGatewayProxyEventV2, c: Context) => Promise<APIGatewayProxyStructuredResultV2>;

/** Loads handlers/http.ts afresh with `env` set, returning its handler and a way to stop its producer. */
async function loadHttpHandler(env: Record<string, string>): Promise<{ invoke: Invoke; stop: () => Promise<void> }> {
  vi.resetModules();
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    const mod = await import('../../handlers/http.js');
    const { containerProducer } = await import('../../src/kafka/index.js');
    const { getConfig } = await import('../../src/config.js');
    const config = getConfig();
    return {
      invoke: mod.handler as unknown as Invoke, // middy's handler type carries callback overloads; this is how Lambda calls it.
      stop: () => containerProducer({ config }).disconnect(),
    };
  } finally {
    for (const k of Object.keys(env)) delete process.env[k];
    Object.assign(process.env, saved);
  }
}

/** Everything written to stdout/stderr or the console while `act` runs. */
async function captureOutput<T>(act: () => Promise<T>): Promise<{ result: T; lines: string[] }> {
  const lines: string[] = [];
  const record = (chunk: unknown) => {
    lines.push(typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString('utf8') : String(chunk));
  };
  const spies = [
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: unknown) => (record(chunk), true)),
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: unknown) => (record(chunk), true)),
    ...(['log', 'info', 'warn', 'error', 'debug'] as const).map((m) =>
      vi.spyOn(console, m).mockImplementation((...args: unknown[]) => record(args.map(String).join(' '))),
    ),
  ];
  try {
    const result = await act();
    return {
      result,
      lines: lines
        .join('')
        .split('\n')
        .filter((l) => l.trim() !== ''),
    };
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
}

/**
 * A stack frame as V8 prints it, also inside a JSON string (where the newline before it is
 * the two characters "\n"): "at fn (/app/file.js:12:3)", "at /app/file.ts:12:3",
 * "at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16)",
 * "at async fn (file:///app/x.mjs:1:2)", "at new Promise (<anonymous>)".
 */
const STACK_FRAME =
  /\bat\s+(?:(?:async|new)\s+)*(?:[^\s()"\\]+(?:\s\[as [^\]]+\])?\s+)?\(?(?:[^\s()"\\]+:\d+:\d+|node:[^\s()"\\]+|<anonymous>)\)?/;

/** A log line with an error's stack in a field of its own (kafkajs' `stack`, Powertools' error object). */
const STACK_FIELD = /"stack"\s*:/;

function hasStack(text: string): boolean {
  return STACK_FRAME.test(text) || STACK_FIELD.test(text);
}

function assertClean(text: string, where: string): void {
  expect(text, where).not.toContain(TOKEN);
  expect(text, where).not.toContain(SASL_PASSWORD);
  expect(hasStack(text), `${where}: ${text.slice(0, 300)}`).toBe(false);
}

const publishBody = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({ event_type: 'security_probe', data: { probe: true }, ...extra });
const post = (path: string, headers: Record<string, string>, body?: string, rawQueryString = '') =>
  httpEvent(`POST ${path}`, {
    headers: { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body }),
    rawQueryString,
  });

describe('the stack check can fail', () => {
  it('finds the frames of real stacks, in plain text and inside JSON log lines, and nothing in clean lines', async () => {
    // Prepare: a stack from this file, one from Node's own net module, and kafkajs' log line shape
    const local = new Error('local').stack ?? '';
    const net = await new Promise<string>((resolve) => {
      connect({ host: '127.0.0.1', port: 1 }).on('error', (e: Error) => resolve(e.stack ?? ''));
    });
    const kafkajsLine = JSON.stringify({
      level: 'ERROR',
      message: 'Connection error: connect ECONNREFUSED 127.0.0.1:1',
      kafkajs: 'Connection',
      stack: net,
    });

    // Assess
    expect(net).toMatch(/\(node:net:\d+:\d+\)/);
    for (const text of [local, net, JSON.stringify({ stack: local }), kafkajsLine.replace(/"stack":/, '"trace":')]) {
      expect(STACK_FRAME.test(text), text.slice(0, 200)).toBe(true);
    }
    expect(STACK_FRAME.test('    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16)')).toBe(true);
    expect(STACK_FRAME.test('at new Promise (<anonymous>)')).toBe(true);
    expect(hasStack(kafkajsLine)).toBe(true);
    for (const clean of [
      '{"level":"WARN","message":"kafka send failed","error":"Connection error: connect ECONNREFUSED 127.0.0.1:1","timestamp":"2026-01-31T12:34:56.789Z"}',
      '{"level":"INFO","message":"http request","requested_at":"2026-01-31T12:34:56.789Z","caller":"203.0.113.7"}',
    ]) {
      expect(hasStack(clean), clean).toBe(false);
    }
  });
});

describe('security (in-process, real broker)', () => {
  let kafka: Kafka;
  let admin: Admin;
  let http: Awaited<ReturnType<typeof loadHttpHandler>>;
  let reader: Awaited<ReturnType<typeof startReader>>;
  const outputs: string[] = [];

  beforeAll(async () => {
    kafka = testKafka('sts-security');
    admin = kafka.admin();
    await admin.connect();
    for (const topic of Object.values(topics)) await createTopic(admin, topic, 1);
    http = await loadHttpHandler(baseEnv);
    reader = await startReader(kafka, Object.values(topics));
  });

  afterAll(async () => {
    await reader?.stop();
    await http?.stop();
    await admin?.disconnect();
  });

  /** Publishes a fence to every topic with the real token; once read, everything before it was read too. */
  async function recordsBeforeFence(): Promise<ReadRecord[]> {
    const fence = uniqueName('fence');
    for (const topic of Object.values(topics)) {
      const response = await http.invoke(
        post('/kafka/publish', { authorization: `Bearer ${TOKEN}` }, publishBody({ topic, data: { fence } })),
        lambdaContext('sec'),
      );
      expect(response.statusCode).toBe(200);
    }
    await reader.waitForRecords((r) => r.value?.toString().includes(fence) === true, 4, 15_000);
    return reader.records;
  }

  it('admin routes refuse every credential that is not exactly the bearer token, and publish nothing', async () => {
    // Prepare: the token where it does not belong, and near-misses of it
    const marker = uniqueName('refused');
    const cyrillicA = TOKEN.replace('A', '\u0410');
    const fullwidth = TOKEN.replace('s', '\uFF53');
    const attempts: Array<{ what: string; headers: Record<string, string>; query?: string }> = [
      { what: 'no header', headers: {} },
      { what: 'empty authorization', headers: { authorization: '' } },
      { what: 'scheme only', headers: { authorization: 'Bearer' } },
      { what: 'token without scheme', headers: { authorization: TOKEN } },
      { what: 'Basic scheme', headers: { authorization: `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}` } },
      { what: 'Token scheme', headers: { authorization: `Token ${TOKEN}` } },
      { what: 'query string token', headers: {}, query: `token=${TOKEN}&access_token=${TOKEN}&authorization=Bearer%20${TOKEN}` },
      { what: 'x-api-key', headers: { 'x-api-key': TOKEN } },
      { what: 'x-admin-token', headers: { 'x-admin-token': TOKEN } },
      { what: 'proxy-authorization', headers: { 'proxy-authorization': `Bearer ${TOKEN}` } },
      { what: 'cookie', headers: { cookie: `token=${TOKEN}; authorization=Bearer ${TOKEN}` } },
      { what: 'upper case', headers: { authorization: `Bearer ${TOKEN.toUpperCase()}` } },
      { what: 'lower case', headers: { authorization: `Bearer ${TOKEN.toLowerCase()}` } },
      { what: 'cyrillic look-alike', headers: { authorization: `Bearer ${cyrillicA}` } },
      { what: 'fullwidth look-alike', headers: { authorization: `Bearer ${fullwidth}` } },
      { what: 'zero-width space inside', headers: { authorization: `Bearer ${TOKEN.slice(0, 5)}\u200B${TOKEN.slice(5)}` } },
      { what: 'prefix', headers: { authorization: `Bearer ${TOKEN.slice(0, -1)}` } },
      { what: 'extra character', headers: { authorization: `Bearer ${TOKEN}x` } },
      { what: 'two tokens', headers: { authorization: `Bearer ${TOKEN} ${TOKEN}` } },
      { what: 'comma list', headers: { authorization: `Bearer x, Bearer ${TOKEN}` } },
      { what: 'null byte', headers: { authorization: `Bearer ${TOKEN}\u0000` } },
      { what: 'url-encoded', headers: { authorization: `Bearer ${encodeURIComponent(TOKEN).replace(/-/g, '%2D')}` } },
      { what: 'base64 of the token', headers: { authorization: `Bearer ${Buffer.from(TOKEN).toString('base64')}` } },
    ];

    // Act
    const { result: answers, lines } = await captureOutput(() =>
      Promise.all(
        attempts.flatMap(({ what, headers, query }) =>
          (['/kafka/publish', '/kafka/flush'] as const).map(async (path) => {
            const response = await http.invoke(post(path, headers, publishBody({ data: { marker } }), query ?? ''), lambdaContext('sec'));
            return { what: `${what} on ${path}`, response };
          }),
        ),
      ),
    );
    outputs.push(...lines);
    const published = await recordsBeforeFence();

    // Assess: 401 without a bearer token, 403 with a wrong one; no answer or log line holds the token
    for (const { what, response } of answers) {
      expect([401, 403], what).toContain(response.statusCode);
      assertClean(String(response.body), what);
      if (response.statusCode === 401) expect(response.headers?.['www-authenticate'], what).toBe('Bearer');
    }
    expect(answers.filter((a) => a.response.statusCode === 401).length).toBeGreaterThan(0);
    expect(answers.filter((a) => a.response.statusCode === 403).length).toBeGreaterThan(0);
    for (const line of lines) assertClean(line, 'log line');
    // Nothing refused reached any topic
    expect(published.filter((r) => r.value?.toString().includes(marker))).toEqual([]);
  });

  it('the topic allow-list is exact: case, look-alikes, separators, whitespace, null bytes and encodings are refused', async () => {
    // Prepare: near-misses of every allowed topic, fixed and generated
    const marker = uniqueName('bypass');
    const allowed = Object.values(topics);
    const mutations: Array<(t: string) => string> = [
      (t) => t.toUpperCase(),
      (t) => t.charAt(0).toUpperCase() + t.slice(1),
      (t) => t.replace('e', '\u0435'), // Cyrillic e
      (t) => t.replace('s', '\uFF53'), // fullwidth s
      (t) => t.replace('-', '_'),
      (t) => t.replace('-', '.'),
      (t) => t.replace(/-/g, '\u2010'), // Unicode hyphen
      (t) => t.replace('-', '%2D'),
      (t) => encodeURIComponent(t).replace(/-/g, '%2d'),
      (t) => ` ${t}`,
      (t) => `${t} `,
      (t) => `${t}\t`,
      (t) => `${t}\n`,
      (t) => `${t}\u0000`,
      (t) => `${t}\u200B`,
      (t) => `\uFEFF${t}`,
      (t) => `${t},${t}`,
      (t) => `../${t}`,
      (t) => `${t}/`,
      (t) => `${t}*`,
      (t) => t.slice(0, -1),
      (t) => `${t}x`,
    ];
    const fixed = allowed.flatMap((t) => mutations.map((m) => m(t)));
    const generated = fc.sample(
      fc.tuple(fc.constantFrom(...allowed), fc.nat(), fc.string({ unit: 'binary', minLength: 1, maxLength: 3 })).map(([t, at, insert]) => {
        const i = at % (t.length + 1);
        return t.slice(0, i) + insert + t.slice(i);
      }),
      { numRuns: 300, seed: 7 },
    );
    const candidates = [...new Set([...fixed, ...generated])].filter((t) => !allowed.includes(t));

    // Act
    const { result: answers, lines } = await captureOutput(() =>
      Promise.all(
        candidates.map(async (topic) => ({
          topic,
          response: await http.invoke(
            post('/kafka/publish', { authorization: `Bearer ${TOKEN}` }, publishBody({ topic, data: { marker } })),
            lambdaContext('sec'),
          ),
        })),
      ),
    );
    outputs.push(...lines);
    const published = await recordsBeforeFence();
    const existing = (await admin.listTopics()).filter((t) => candidates.includes(t));

    // Assess: every near-miss is a 400 naming the topic field; none was published or created
    for (const { topic, response } of answers) {
      expect(response.statusCode, JSON.stringify(topic)).toBe(400);
      expect(String(response.body)).toContain('topic');
      assertClean(String(response.body), JSON.stringify(topic));
    }
    expect(published.filter((r) => r.value?.toString().includes(marker))).toEqual([]);
    expect(existing).toEqual([]);
    console.log(`topic allow-list: ${candidates.length} near-miss topic names refused with 400`);
  });

  it('no header changes ip: X-Forwarded-For, Forwarded, X-Real-IP and friends are only reported as the proxy chain', async () => {
    // Prepare: every header a proxy or a caller might use to claim an address
    const sourceIp = '198.51.100.23';
    const spoof = '203.0.113.66';
    const correlationId = uniqueName('ip');
    const headers = {
      'x-forwarded-for': `${spoof}, 10.0.0.1`,
      forwarded: `for=${spoof};proto=https, for="[2001:db8::1]"`,
      'x-real-ip': spoof,
      'x-client-ip': spoof,
      'true-client-ip': spoof,
      'cf-connecting-ip': spoof,
      'x-cluster-client-ip': spoof,
      'fastly-client-ip': spoof,
      'x-original-forwarded-for': spoof,
      'x-correlation-id': correlationId,
    };

    // Act
    const response = await http.invoke(httpEvent('GET /', { headers, sourceIp }), lambdaContext('sec'));
    const [request] = await reader.waitForRecords(
      (r) => r.topic === topics.requests && r.headers.correlation_id === correlationId,
      1,
      15_000,
    );

    // Assess: the answer and the published http_request both carry the source ip
    expect(response.statusCode).toBe(200);
    const payload = JSON.parse(String(response.body)) as { ip: string; proxy_chain: string[] };
    expect(payload.ip).toBe(sourceIp);
    expect(payload.proxy_chain).toEqual([spoof, '10.0.0.1']);
    const event = JSON.parse(request!.value!.toString()) as { data: { user_ip: string } };
    expect(event.data.user_ip).toBe(sourceIp);
  });

  it(`the body limit holds at the byte (${MAX_BODY} accepted, ${MAX_BODY + 1} refused), base64 bodies counted decoded`, async () => {
    // Prepare: JSON bodies of exactly n bytes, ASCII and multi-byte
    const bodyOf = (bytes: number, filler: string) => {
      const empty = Buffer.byteLength(publishBody({ data: { pad: '' } }));
      const unit = Buffer.byteLength(filler);
      const units = Math.floor((bytes - empty) / unit);
      const rest = bytes - empty - units * unit;
      const body = publishBody({ data: { pad: filler.repeat(units) + 'a'.repeat(rest) } });
      expect(Buffer.byteLength(body)).toBe(bytes);
      return body;
    };
    const auth = { authorization: `Bearer ${TOKEN}` };
    const send = (body: string, base64: boolean) =>
      http.invoke(
        httpEvent('POST /kafka/publish', {
          headers: auth,
          body: base64 ? Buffer.from(body).toString('base64') : body,
          isBase64Encoded: base64,
        }),
        lambdaContext('sec'),
      );

    // Act
    const cases = [
      { what: 'ascii at the limit', body: bodyOf(MAX_BODY, 'a'), base64: false, status: 200 },
      { what: 'ascii one over', body: bodyOf(MAX_BODY + 1, 'a'), base64: false, status: 400 },
      { what: '3-byte characters at the limit', body: bodyOf(MAX_BODY, '\u20AC'), base64: false, status: 200 },
      { what: '3-byte characters one over', body: bodyOf(MAX_BODY + 1, '\u20AC'), base64: false, status: 400 },
      { what: '4-byte characters one over', body: bodyOf(MAX_BODY + 1, '\u{1F600}'), base64: false, status: 400 },
      { what: 'base64 at the limit (decoded)', body: bodyOf(MAX_BODY, 'a'), base64: true, status: 200 },
      { what: 'base64 one over (decoded)', body: bodyOf(MAX_BODY + 1, 'a'), base64: true, status: 400 },
    ];
    const results = [];
    for (const c of cases) results.push({ ...c, response: await send(c.body, c.base64) });

    // Assess
    for (const { what, status, response } of results) {
      expect(response.statusCode, what).toBe(status);
      if (status === 400) expect(String(response.body), what).toMatch(/over the 1024-byte limit/);
    }
    // A base64 body of MAX_BODY decoded bytes is longer than MAX_BODY characters: it is the decoded size that counts
    expect(Buffer.from(bodyOf(MAX_BODY, 'a')).toString('base64').length).toBeGreaterThan(MAX_BODY);
  });

  it('with the broker unreachable, SASL configured and poison records, no response or log line holds a secret or a stack trace', async () => {
    // Prepare: a container whose broker does not answer, with SCRAM credentials; consumers on it
    const badEnv = {
      ...baseEnv,
      KAFKA_BROKERS: '127.0.0.1:1',
      KAFKA_AUTH: 'scram',
      KAFKA_SEND_TIMEOUT_MS: '500',
      KAFKA_CONNECT_TIMEOUT_MS: '300',
    };
    const down = await loadHttpHandler(badEnv);
    const { loadConfig } = await import('../../src/config.js');
    const { createConsumerHandler } = await import('../../handlers/factories/consumer.js');
    const { defaultDeps } = await import('../../handlers/factories/deps.js');
    const { buildKafkaEvent } = await import('../../infra/offline-msk/src/event.js');
    const config = loadConfig({ ...badEnv, AWS_LAMBDA_FUNCTION_NAME: 'sec-onCustomEvent' });
    expect(config.kafka.sasl?.password).toBe(SASL_PASSWORD);
    type KafkaHandler = (event: unknown, context: Context) => Promise<unknown>;
    const onCustom = createConsumerHandler('onCustomEvent', defaultDeps({ config })) as unknown as KafkaHandler; // middy's handler type carries callback overloads; this is how Lambda calls it.
    const crashing = createConsumerHandler('onCustomEvent', defaultDeps({ config }), {
      build: () => ({
        name: 'onCustomEvent',
        processRecords: () => Promise.reject(new Error(`boom (the token is not here, but a stack is)`)),
      }),
    }) as unknown as KafkaHandler;
    const poison = [Buffer.from([0xff, 0xfe]), Buffer.from('{"event_type":"x"'), null].map((value, offset) => ({
      topic: topics.events,
      partition: 0,
      offset: String(offset),
      timestamp: Date.now(),
      timestampType: 'CREATE_TIME' as const,
      key: null,
      value,
      headers: [],
    }));
    const event = buildKafkaEvent(
      { kind: 'msk', eventSourceArn: 'arn:aws:kafka:us-east-1:123456789012:cluster/local/sec', bootstrapServers: ['127.0.0.1:1'] },
      poison,
    );

    // Act: every route, a consumer whose dead-letter writes fail, and a consumer that crashes
    const { result, lines } = await captureOutput(async () => {
      const responses = [];
      for (const e of [
        httpEvent('GET /'),
        httpEvent('GET /healthz'),
        httpEvent('GET /kafka/status'),
        post('/kafka/publish', { authorization: `Bearer ${TOKEN}` }, publishBody()),
        post('/kafka/flush', { authorization: `Bearer ${TOKEN}` }),
        post('/kafka/publish', { authorization: `Bearer ${TOKEN}` }, '{"broken'),
        post('/kafka/publish', { authorization: 'Bearer wrong-token-wrong-token' }, publishBody()),
      ]) {
        responses.push(await down.invoke(e, lambdaContext('sec-down')));
      }
      const batch = await onCustom(event, lambdaContext('sec-onCustomEvent'));
      const crash = await crashing(event, lambdaContext('sec-onCustomEvent')).then(
        () => 'resolved',
        (error: unknown) => (error instanceof Error ? error.message : String(error)),
      );
      return { responses, batch, crash };
    });
    await down.stop();
    outputs.push(...lines);

    // Assess: the answers are what a caller may see (flush with nothing in flight succeeds)
    expect(result.responses.map((r) => r.statusCode)).toEqual([200, 200, 200, 503, 200, 400, 403]);
    for (const r of result.responses) assertClean(JSON.stringify(r), `response ${r.statusCode}`);
    // The dead-letter writes failed, so the records are reported for redelivery, not lost
    expect((result.batch as { batchItemFailures: unknown[] }).batchItemFailures).toHaveLength(3);
    expect(result.crash).toMatch(/boom/);
    // Logs were written (errors included), and none holds a secret or a stack frame
    expect(lines.some((l) => l.includes('"level":"ERROR"'))).toBe(true);
    const dirty = lines.filter((l) => l.includes(TOKEN) || l.includes(SASL_PASSWORD) || hasStack(l));
    console.log(
      `log lines captured: ${lines.length} in this test, ${outputs.length} in the file; with a secret or stack frame: ${dirty.length}`,
    );
    expect(dirty.map((l) => l.slice(0, 300))).toEqual([]);
  });
});
