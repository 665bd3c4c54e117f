/**
 * The HTTP function authorizes its admin routes with the container's admin token source
 * (src/http/admin-token.ts): created once per container from ADMIN_TOKEN,
 * ADMIN_TOKEN_SECRET_ARN and the region, asked on every admin request (so a rotated
 * secret takes effect without a redeploy), and a token that cannot be read answers 503,
 * never a 403 that would look like a wrong token. A fake source stands in for Secrets
 * Manager; a fake producer for Kafka.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { httpEvent, lambdaContext } from '../../helpers/lambda';
import type * as AdminTokenModule from '../../../src/http/admin-token';
import type * as AdminTokenErrors from '../../../src/http/errors';

const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:simple-time-service/test/admin-token-AbCdEf';
const FIRST = 'first-admin-token-0123456789';
const ROTATED = 'rotated-admin-token-0123456789';

/** What the fake source answers next: a token, or an error to throw. */
let answer: { token: string } | { error: Error } = { token: FIRST };
let reads = 0;
const created: unknown[] = [];

vi.mock('../../../src/http/admin-token', async (importOriginal) => {
  const actual = await importOriginal<typeof AdminTokenModule>();
  return {
    ...actual,
    createAdminTokenSource: (params: unknown) => {
      created.push(params);
      return {
        get: () => {
          reads += 1;
          return 'error' in answer ? Promise.reject(answer.error) : Promise.resolve(answer.token);
        },
      };
    },
  };
});

vi.mock('../../../src/kafka/container', () => ({
  containerKafka: () => Promise.reject(new Error('no cluster in this test')),
  containerProducer: () => ({
    send: (records: Array<{ topic: string }>) => Promise.resolve(records.map((r) => ({ topic: r.topic, partition: 0, offset: '1' }))),
    connect: () => Promise.resolve(true),
    flush: () => Promise.resolve({ settled: 0 }),
    disconnect: () => Promise.resolve(),
    state: () => ({ status: 'connected', connects: 1, sent: 0, failed: 0, inFlight: 0, lastError: undefined, lastErrorAt: undefined }),
  }),
}));

type Invoke = (e: APIGatewayProxyEventV2, c: Context) => Promise<APIGatewayProxyStructuredResultV2>;
let invoke: Invoke;
let Unavailable: typeof AdminTokenErrors.AdminTokenUnavailableError;

beforeAll(async () => {
  Object.assign(process.env, {
    LOG_LEVEL: 'SILENT',
    ADMIN_TOKEN_SECRET_ARN: ARN,
    AWS_REGION: 'eu-west-1',
    PUSHGATEWAY_URL: 'http://127.0.0.1:9',
  });
  vi.resetModules();
  invoke = (await import('../../../handlers/http.js')).handler;
  Unavailable = (await import('../../../src/http/errors.js')).AdminTokenUnavailableError;
});

afterAll(() => {
  for (const name of ['LOG_LEVEL', 'ADMIN_TOKEN_SECRET_ARN', 'AWS_REGION', 'PUSHGATEWAY_URL']) delete process.env[name];
});

beforeEach(() => {
  answer = { token: FIRST };
});

const publish = (token: string) =>
  invoke(
    httpEvent('POST /kafka/publish', {
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ event_type: 'custom_event', data: {} }),
    }),
    lambdaContext('http'),
  );

describe('the admin token source of the HTTP function', () => {
  it('is made once per container from ADMIN_TOKEN, ADMIN_TOKEN_SECRET_ARN and the region', async () => {
    // Act
    await publish(FIRST);
    await publish(FIRST);

    // Assess
    expect(created).toEqual([{ token: undefined, secretArn: ARN, region: 'eu-west-1' }]);
  });

  it('is asked on every admin request: a rotated token takes effect, the old one is refused', async () => {
    // Prepare
    const before = reads;

    // Act
    const first = await publish(FIRST);
    answer = { token: ROTATED };
    const old = await publish(FIRST);
    const rotated = await publish(ROTATED);

    // Assess
    expect(first.statusCode).toBe(200);
    expect(old.statusCode).toBe(403);
    expect(rotated.statusCode).toBe(200);
    expect(reads - before).toBe(3);
  });

  it('answers 503 (never 403) on /kafka/publish and /kafka/flush when the token cannot be read', async () => {
    // Prepare
    answer = { error: new Unavailable('the admin token could not be read from Secrets Manager') };

    // Act
    const published = await publish(FIRST);
    const flushed = await invoke(httpEvent('POST /kafka/flush', { headers: { authorization: `Bearer ${FIRST}` } }), lambdaContext('http'));

    // Assess
    for (const response of [published, flushed]) {
      expect(response.statusCode).toBe(503);
      expect(response.headers?.['retry-after']).toBe('1');
      expect(JSON.parse(String(response.body))).toEqual({ error: 'the admin token could not be read; try again shortly' });
    }
  });

  it('GET /kafka/status gives the admin view to the token the source answers (after a rotation, only the new one)', async () => {
    // Prepare
    const status = (token: string) =>
      invoke(httpEvent('GET /kafka/status', { headers: { authorization: `Bearer ${token}` } }), lambdaContext('http'));
    const before = reads;

    // Act
    const first = await status(FIRST);
    answer = { token: ROTATED };
    const old = await status(FIRST);
    const rotated = await status(ROTATED);

    // Assess
    for (const response of [first, old, rotated]) expect(response.statusCode).toBe(200);
    expect(JSON.parse(String(first.body))).toHaveProperty('producer.status', 'connected');
    expect(JSON.parse(String(old.body))).not.toHaveProperty('producer');
    expect(JSON.parse(String(rotated.body))).toHaveProperty('producer.status', 'connected');
    expect(reads - before).toBe(3);
  });

  it('GET /kafka/status stays public and answers 200 without the admin view when the token cannot be read', async () => {
    // Prepare
    answer = { error: new Unavailable('the admin token could not be read from Secrets Manager') };

    // Act
    const response = await invoke(httpEvent('GET /kafka/status', { headers: { authorization: `Bearer ${FIRST}` } }), lambdaContext('http'));

    // Assess
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(String(response.body))).not.toHaveProperty('producer');
  });
});
