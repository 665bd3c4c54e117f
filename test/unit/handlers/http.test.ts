/**
 * The HTTP function in-process, with a fake cluster behind the container's shared Kafka
 * client and producer. GET /kafka/status: the original service's fields, what anyone may see
 * versus an admin, how many admin connections it opens, and that it closes every one
 * before answering. POST /kafka/publish: the original service's answer.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { httpEvent, lambdaContext } from '../../helpers/lambda';
import type { KafkaUnavailableError } from '../../../src/kafka/errors';

const TOKEN = 'status-admin-token-0123456789';
const admins = { connects: 0, disconnects: 0, open: 0 };
let producerConnects = 0;
/** Set by a test: the next send fails as the real producer's does when the broker did not acknowledge in time. */
let failNextSend: Error | undefined;

/** A fake kafkajs admin client: a broker whose host must stay private, and a slow disconnect. */
function fakeAdmin() {
  let connected = false;
  return {
    connect: () => {
      admins.connects += 1;
      admins.open += 1;
      connected = true;
      return Promise.resolve();
    },
    disconnect: () =>
      new Promise<void>((resolve) =>
        setTimeout(() => {
          if (connected) {
            admins.disconnects += 1;
            admins.open -= 1;
            connected = false;
          }
          resolve();
        }, 20),
      ),
    describeCluster: () =>
      Promise.resolve({ brokers: [{ nodeId: 1, host: 'b-1.internal.example', port: 9098 }], controller: 1, clusterId: 'c' }),
    listTopics: () => Promise.resolve(['simple-time-service-events', 'simple-time-service-requests']),
    fetchTopicMetadata: ({ topics }: { topics: string[] }) =>
      Promise.resolve({ topics: topics.map((name) => ({ name, partitions: [{ partitionId: 0 }, { partitionId: 1 }] })) }),
    fetchTopicOffsets: () => Promise.resolve([{ partition: 0, offset: '5', high: '5', low: '0' }]),
    fetchOffsets: () => Promise.reject(new Error('group coordinator at b-1.internal.example:9098 not available')),
  };
}

vi.mock('../../../src/kafka/container', () => ({
  containerKafka: () => Promise.resolve({ admin: fakeAdmin }),
  containerProducer: () => {
    let connected = false;
    return {
      send: (records: Array<{ topic: string }>) => {
        const failure = failNextSend;
        failNextSend = undefined;
        return failure ? Promise.reject(failure) : Promise.resolve(records.map((r) => ({ topic: r.topic, partition: 1, offset: '42' })));
      },
      connect: () => {
        producerConnects += 1;
        connected = true;
        return Promise.resolve(true);
      },
      flush: () => Promise.resolve({ settled: 0 }),
      disconnect: () => Promise.resolve(),
      state: () => ({
        status: connected ? 'connected' : 'idle',
        connects: connected ? 1 : 0,
        sent: 0,
        failed: 0,
        inFlight: 0,
        lastError: 'earlier failure talking to b-1.internal.example:9098',
        lastErrorAt: undefined,
      }),
    };
  },
}));

type Invoke = (e: APIGatewayProxyEventV2, c: Context) => Promise<APIGatewayProxyStructuredResultV2>;
let invoke: Invoke;
/** The handler's own error class (modules are loaded afresh for it). */
let KafkaUnavailable: typeof KafkaUnavailableError;

beforeAll(async () => {
  Object.assign(process.env, { LOG_LEVEL: 'SILENT', ADMIN_TOKEN: TOKEN, PUSHGATEWAY_URL: 'http://127.0.0.1:9' });
  vi.resetModules();
  invoke = (await import('../../../handlers/http.js')).handler;
  KafkaUnavailable = (await import('../../../src/kafka/errors.js')).KafkaUnavailableError;
});

afterAll(() => {
  for (const name of ['LOG_LEVEL', 'ADMIN_TOKEN', 'PUSHGATEWAY_URL']) delete process.env[name];
});

const status = async (headers: Record<string, string> = {}) => {
  const response = await invoke(httpEvent('GET /kafka/status', { headers }), lambdaContext('http'));
  return {
    statusCode: response.statusCode,
    body: JSON.parse(String(response.body)) as Record<string, unknown>,
    raw: String(response.body),
  };
};

describe('GET /kafka/status', () => {
  it("answers the original service's fields, and a fresh container's producer is connected, not idle", async () => {
    const { statusCode, body } = await status();
    expect(statusCode).toBe(200);
    expect(body).toMatchObject({
      kafka_producer: 'connected',
      kafka_consumer: 'running',
      consumer_topics: expect.arrayContaining(['simple-time-service-events', 'simple-time-service-requests']) as unknown,
      consumer_handlers: expect.arrayContaining(['http_request', 'http_response', 'error']) as unknown,
    });
    expect(producerConnects).toBe(1);
  });

  it('shows broker hosts and errors to admin callers only', async () => {
    const anyone = await status();
    const admin = await status({ authorization: `Bearer ${TOKEN}` });
    const wrong = await status({ authorization: 'Bearer not-the-admin-token-at-all' });
    for (const { raw } of [anyone, wrong]) {
      expect(raw).not.toContain('b-1.internal.example');
      expect(raw).not.toContain('earlier failure');
    }
    expect(admin.raw).toContain('b-1.internal.example:9098');
    expect(admin.raw).toContain('earlier failure');
  });

  it('reads the cluster once per few seconds with one admin connection, closed before it answers', async () => {
    // Act: requests in a row and side by side
    const before = admins.connects;
    await status();
    await Promise.all([status(), status(), status()]);

    // Assess: served from the container's recent description; every admin connection is closed
    expect(admins.connects - before).toBeLessThanOrEqual(1);
    expect(admins.open).toBe(0);
    expect(admins.disconnects).toBe(admins.connects);
  });
});

describe('POST /kafka/publish', () => {
  it('answers 200 with "status": "success", the event, and where the broker put it, as the original service does', async () => {
    // Act
    const response = await invoke(
      httpEvent('POST /kafka/publish', {
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ event_type: 'custom_event', data: { user_id: '123', action: 'login' } }),
      }),
      lambdaContext('http'),
    );

    // Assess
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(String(response.body))).toMatchObject({
      status: 'success',
      message: "Event 'custom_event' published to Kafka",
      event: { event_type: 'custom_event', data: { user_id: '123', action: 'login' } },
      topic: 'simple-time-service-events',
      partition: 1,
      offset: '42',
    });
  });
});

describe('POST /kafka/publish when the broker does not acknowledge in time', () => {
  it('answers 503 saying the outcome is unknown and that a retry with the same id is safe', async () => {
    // Prepare
    const id = '9b2f6c1e-2d4a-4f6b-8c3e-5a7d9e1f2b3c';
    failNextSend = new KafkaUnavailable('Kafka did not acknowledge within 1000 ms; the records may still be written', {
      outcome: 'unknown',
    });

    // Act
    const response = await invoke(
      httpEvent('POST /kafka/publish', {
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ event_type: 'custom_event', data: {}, id }),
      }),
      lambdaContext('http'),
    );

    // Assess
    expect(response.statusCode).toBe(503);
    expect(response.headers?.['retry-after']).toBe('1');
    const body = JSON.parse(String(response.body)) as Record<string, unknown>;
    expect(body).toMatchObject({ id, outcome: 'unknown' });
    expect(String(body.error)).toMatch(/may have been written/);
    expect(String(body.retry)).toMatch(/same id/);
  });
});
