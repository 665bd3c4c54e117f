/**
 * Property-based bad input for every HTTP route, invoked in-process against the real
 * local broker: thousands of generated bodies, headers and query strings. No crash, no
 * 5xx for a client's mistake, no stack trace in a response, and `ip` always the source
 * ip whatever X-Forwarded-For says.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultDeps } from '../../handlers/factories/deps';
import { createHttpHandler } from '../../handlers/factories/http';
import { loadConfig } from '../../src/config';
import { createTopic, testKafka, topicEnv, uniqueName } from '../helpers/kafka';
import { httpEvent, lambdaContext } from '../helpers/lambda';

const propertyTopics = {
  requests: uniqueName('prop-requests'),
  events: uniqueName('prop-events'),
  commands: uniqueName('prop-commands'),
  dlq: uniqueName('prop-dlq'),
};
const propertyToken = 'property-test-admin-token-0123';
const deps = defaultDeps({
  config: loadConfig({
    ...process.env,
    ...topicEnv(propertyTopics),
    KAFKA_BROKERS: '127.0.0.1:9092',
    ADMIN_TOKEN: propertyToken,
    LOG_LEVEL: 'SILENT',
  }),
});
const handler = createHttpHandler(deps);

const invoke = handler as unknown as (e: APIGatewayProxyEventV2, c: Context) => Promise<APIGatewayProxyStructuredResultV2>;
const RUNS = 1000;

function event(params: {
  method: string;
  path: string;
  headers?: Record<string, string>;
  query?: string;
  body?: string | undefined;
  isBase64Encoded?: boolean;
  sourceIp?: string;
}): APIGatewayProxyEventV2 {
  const { method, path, query, ...rest } = params;
  return httpEvent(`${method} ${path}`, { ...rest, method, path, rawQueryString: query ?? '' });
}

const context = (): Context => lambdaContext('props');

const headerName = fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,20}$/);
const anyText = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.string({ maxLength: 5000 }),
);
const headers = fc
  .dictionary(headerName, anyText, { maxKeys: 8 })
  .map((h) => Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v])));
const query = fc.oneof(fc.constant(''), anyText, fc.webQueryParameters());

function assertNoLeak(response: APIGatewayProxyStructuredResultV2): void {
  const body = typeof response.body === 'string' ? response.body : '';
  expect(body).not.toMatch(/\bat [^\n]*\.(js|ts):\d+/);
  expect(body).not.toContain(propertyToken);
}

describe('HTTP routes under generated input (in-process, real broker)', () => {
  beforeAll(async () => {
    const admin = testKafka('sts-props-admin').admin();
    await admin.connect();
    for (const topic of Object.values(propertyTopics)) await createTopic(admin, topic, 1);
    await admin.disconnect();
  });
  afterAll(async () => {
    await deps.producer().disconnect();
  });

  it('GET / always answers 200 with ip = the source ip, whatever the headers and query', async () => {
    await fc.assert(
      fc.asyncProperty(headers, anyText, query, fc.ipV4(), async (h, xff, q, sourceIp) => {
        const response = await invoke(
          event({ method: 'GET', path: '/', headers: { ...h, 'x-forwarded-for': xff }, query: q, sourceIp }),
          context(),
        );
        expect(response.statusCode).toBe(200);
        const payload = JSON.parse(response.body!) as { ip: string; proxy_chain: string[] };
        expect(payload.ip).toBe(sourceIp);
        expect(Array.isArray(payload.proxy_chain)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it('POST /kafka/publish answers 200 or a 4xx, never a 5xx, for any body and headers', async () => {
    const jsonBody = fc.oneof(
      fc.json(),
      fc.record({ event_type: anyText, data: fc.jsonValue() }).map((v) => JSON.stringify(v)),
      fc
        .record(
          {
            event_type: fc.stringMatching(/^[a-z][a-z0-9_.]{0,40}$/),
            data: fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 }),
            topic: fc.constantFrom(...Object.values(propertyTopics), 'other', propertyTopics.events.toUpperCase()),
            key: fc.string({ maxLength: 300 }),
            correlation_id: fc.string({ maxLength: 300 }),
          },
          { requiredKeys: ['event_type', 'data'] },
        )
        .map((v) => JSON.stringify(v)),
      anyText,
    );
    const auth = fc.oneof(
      fc.constant(`Bearer ${propertyToken}`),
      fc.constant(`Bearer ${propertyToken}`),
      anyText,
      fc.stringMatching(/^[A-Za-z0-9._~+/-]{1,64}$/).map((t) => `Bearer ${t}`),
      fc.constant(undefined),
    );
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(jsonBody, auth, headers, fc.boolean(), async (body, authorization, h, base64) => {
        const allHeaders = authorization === undefined ? h : { ...h, authorization };
        const response = await invoke(
          event({
            method: 'POST',
            path: '/kafka/publish',
            headers: allHeaders,
            body: base64 ? Buffer.from(body).toString('base64') : body,
            isBase64Encoded: base64,
          }),
          context(),
        );
        statuses.set(response.statusCode!, (statuses.get(response.statusCode!) ?? 0) + 1);
        expect([200, 400, 401, 403]).toContain(response.statusCode);
        assertNoLeak(response);
      }),
      { numRuns: RUNS },
    );
    console.log(`POST /kafka/publish statuses over ${RUNS} generated requests: ${JSON.stringify(Object.fromEntries(statuses))}`);
  });

  it('every other route and method answers without a 5xx', async () => {
    const route = fc.oneof(
      fc.constantFrom('/', '/healthz', '/kafka/status', '/kafka/publish', '/kafka/flush', '/metrics', '/KAFKA/STATUS', '//'),
      // API Gateway's rawPath always starts with "/".
      fc.webPath().map((p) => (p.startsWith('/') ? p : `/${p}`)),
    );
    const method = fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD');
    await fc.assert(
      fc.asyncProperty(method, route, headers, fc.option(anyText, { nil: undefined }), async (m, path, h, body) => {
        const response = await invoke(event({ method: m, path, headers: h, body }), context());
        expect(response.statusCode).toBeLessThan(500);
        assertNoLeak(response);
      }),
      { numRuns: RUNS },
    );
  });
});
