/**
 * The HTTP function through `serverless offline`, against the real local broker: the time
 * payload and its two events, the status route, and the admin routes (good and bad input).
 * Each run uses its own topics so what is read back can only come from this test.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Admin } from 'kafkajs';
import { parseEnvelope } from '../../src/events';
import { createTopic, startReader, testKafka, topicEnv, uniqueName, uniqueServiceTopics } from '../helpers/kafka';
import type { ReadRecord } from '../helpers/kafka';
import { startOffline } from '../helpers/offline';
import type { Offline } from '../helpers/offline';

const TOKEN = 'integration-admin-token-0123456789';
const MAX_BODY = 2048;
const topics = uniqueServiceTopics('http');

describe('HTTP function through serverless offline', () => {
  let admin: Admin;
  let offline: Offline;
  let reader: Awaited<ReturnType<typeof startReader>>;

  beforeAll(async () => {
    admin = testKafka('sts-http-test-admin').admin();
    await admin.connect();
    for (const topic of Object.values(topics)) await createTopic(admin, topic, 3);
    reader = await startReader(testKafka('sts-http-test-reader'), Object.values(topics));
    offline = await startOffline({
      httpPort: 3300,
      lambdaPort: 3302,
      env: {
        ADMIN_TOKEN: TOKEN,
        // From the shell, as under `npm start`: serverless offline passes only what serverless.yml declares.
        HTTP_MAX_BODY_BYTES: String(MAX_BODY),
        ...topicEnv(topics),
      },
    });
  });

  afterAll(async () => {
    await offline?.stop();
    await reader?.stop();
    await admin?.disconnect();
  });

  const publish = (body: string, headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` }) =>
    fetch(`${offline.baseUrl}/kafka/publish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
      signal: AbortSignal.timeout(5000),
    });

  it('GET / answers the time payload and publishes http_request and http_response', async () => {
    // Prepare
    const correlationId = uniqueName('corr');

    // Act
    const response = await fetch(`${offline.baseUrl}/`, {
      headers: { 'x-correlation-id': correlationId, 'x-forwarded-for': '203.0.113.7, 10.1.2.3' },
      signal: AbortSignal.timeout(5000),
    });
    const payload = (await response.json()) as Record<string, unknown>;

    // Assess: the payload
    expect(response.status).toBe(200);
    expect(response.headers.get('x-correlation-id')).toBe(correlationId);
    expect(payload.timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(payload.ip).toBe('127.0.0.1'); // from requestContext, not X-Forwarded-For
    expect(payload.proxy_chain).toEqual(['203.0.113.7', '10.1.2.3']);
    expect(payload.host).toMatchObject({ node_version: process.version });
    expect(typeof (payload.host as { function_name: unknown }).function_name).toBe('string');
    expect(payload.request_id).toEqual(expect.any(String));

    // Assess: both events, read back by a separate consumer group
    const mine = (r: ReadRecord) => r.headers.correlation_id === correlationId;
    const records = await reader.waitForRecords(mine, 2);
    const request = records.find((r) => r.topic === topics.requests);
    const reply = records.find((r) => r.topic === topics.events);
    console.log(`GET / events: ${records.map((r) => `${r.topic}[${r.partition}]@${r.offset}`).join(', ')}`);
    for (const record of [request, reply]) {
      expect(record?.key).toBe('127.0.0.1');
      expect(record?.headers['content-type']).toBe('application/json');
    }
    const requestEvent = parseEnvelope(JSON.parse(request!.value!.toString()));
    const replyEvent = parseEnvelope(JSON.parse(reply!.value!.toString()));
    expect(requestEvent).toMatchObject({
      event_type: 'http_request',
      correlation_id: correlationId,
      version: '1.0',
      data: { user_ip: '127.0.0.1', method: 'GET', endpoint: '/', request_id: payload.request_id },
    });
    expect(request!.headers.event_type).toBe('http_request');
    expect(replyEvent).toMatchObject({
      event_type: 'http_response',
      correlation_id: correlationId,
      data: { user_ip: '127.0.0.1', status_code: 200, request_id: payload.request_id },
    });
    expect(replyEvent.data.response_time_ms).toEqual(expect.any(Number));
    expect(reply!.headers.event_type).toBe('http_response');
  });

  it('GET /healthz answers healthy', async () => {
    const response = await fetch(`${offline.baseUrl}/healthz`, { signal: AbortSignal.timeout(5000) });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'healthy' });
  });

  it('GET /kafka/status reports the producer, the topics and the consumer functions', async () => {
    const response = await fetch(`${offline.baseUrl}/kafka/status`, { signal: AbortSignal.timeout(5000) });
    const status = (await response.json()) as {
      cluster: { reachable: boolean; topics: Array<{ name: string; partitions: number }> };
      consumer_functions: Array<{ function: string; topic: string }>;
    };
    expect(response.status).toBe(200);
    // The original service's fields, as its clients read them (docs/compatibility.md)
    expect(status).toMatchObject({
      kafka_producer: 'connected',
      kafka_consumer: 'running',
      consumer_topics: expect.arrayContaining([topics.events, topics.requests]) as unknown,
      consumer_handlers: expect.arrayContaining(['http_request', 'http_response', 'error']) as unknown,
    });
    // Broker hosts only for admin callers
    expect(JSON.stringify(status)).not.toContain('127.0.0.1:9092');
    expect(status.cluster.reachable).toBe(true);
    expect(status.cluster.topics).toContainEqual({ name: topics.events, partitions: 3 });
    expect(status.consumer_functions.map((f) => f.function)).toContain('onHttpRequest');
    expect(status.consumer_functions.find((f) => f.function === 'onCommand')?.topic).toBe(topics.commands);
  });

  it('POST /kafka/publish answers 200 with where the broker put the event', async () => {
    // Act
    const response = await publish(JSON.stringify({ event_type: 'custom_event', data: { user_id: '123' }, key: 'u-123' }));
    const body = (await response.json()) as { status: string; id: string; topic: string; partition: number; offset: string };

    // Assess
    expect(response.status).toBe(200);
    expect(body.status).toBe('success');
    expect(body.topic).toBe(topics.events);
    const [record] = await reader.waitForRecords((r) => r.headers.event_type === 'custom_event');
    expect(record).toMatchObject({ topic: topics.events, partition: body.partition, offset: body.offset, key: 'u-123' });
    expect(parseEnvelope(JSON.parse(record!.value!.toString())).id).toBe(body.id);
  });

  it('refuses bad publish requests with the right status and publishes none of them', async () => {
    // Prepare
    const good = { event_type: 'bad_input_probe', data: { ok: true } };
    const cases: Array<{ name: string; body: string; headers?: Record<string, string>; status: number }> = [
      { name: 'no token', body: JSON.stringify(good), headers: {}, status: 401 },
      { name: 'wrong token', body: JSON.stringify(good), headers: { authorization: 'Bearer nope-nope-nope-nope' }, status: 403 },
      { name: 'not bearer', body: JSON.stringify(good), headers: { authorization: `Basic ${TOKEN}` }, status: 401 },
      { name: 'malformed JSON', body: '{"event_type": "x", ', status: 400 },
      { name: 'empty body', body: '', status: 400 },
      { name: 'JSON array', body: '[]', status: 400 },
      { name: 'missing event_type', body: JSON.stringify({ data: {} }), status: 400 },
      { name: 'empty event_type', body: JSON.stringify({ event_type: '', data: {} }), status: 400 },
      { name: 'over-long event_type', body: JSON.stringify({ event_type: 'e'.repeat(129), data: {} }), status: 400 },
      { name: 'event_type not a string', body: JSON.stringify({ event_type: 7, data: {} }), status: 400 },
      { name: 'data an array', body: JSON.stringify({ event_type: 'x', data: [1] }), status: 400 },
      { name: 'data a string', body: JSON.stringify({ event_type: 'x', data: 'hi' }), status: 400 },
      { name: 'data null', body: JSON.stringify({ event_type: 'x', data: null }), status: 400 },
      { name: 'unknown topic', body: JSON.stringify({ ...good, topic: 'other-topic' }), status: 400 },
      { name: 'topic in other case', body: JSON.stringify({ ...good, topic: topics.events.toUpperCase() }), status: 400 },
      { name: 'topic with a look-alike', body: JSON.stringify({ ...good, topic: topics.events.replace('-', '\u2010') }), status: 400 },
      { name: 'topic with a separator', body: JSON.stringify({ ...good, topic: `${topics.events},${topics.dlq}` }), status: 400 },
      { name: 'unknown field', body: JSON.stringify({ ...good, extra: 1 }), status: 400 },
      { name: 'body over the limit', body: JSON.stringify({ ...good, data: { big: 'x'.repeat(70_000) } }), status: 400 },
      {
        name: 'body one byte over HTTP_MAX_BODY_BYTES',
        body: JSON.stringify({ ...good, data: { big: 'x'.repeat(MAX_BODY - 49) } }),
        status: 400,
      }, // 2049 bytes
      {
        name: 'JSON nested deeper than 64 levels',
        body: `{"event_type":"deep","data":{"x":${'['.repeat(1000)}${']'.repeat(1000)}}}`,
        status: 400,
      },
      { name: 'data with a __proto__ key', body: '{"event_type":"x","data":{"__proto__":{"a":1},"b":1}}', status: 400 },
    ];

    // Act
    const results = [];
    for (const c of cases) {
      const response = await publish(c.body, c.headers);
      const text = await response.text();
      results.push({ name: c.name, expected: c.status, got: response.status, text });
    }
    // A marker published after the bad requests: once it is read, anything they had
    // published would have been read too.
    const marker = await publish(JSON.stringify({ event_type: 'bad_input_marker', data: {} }));
    expect(marker.status).toBe(200);
    await reader.waitForRecords((r) => r.headers.event_type === 'bad_input_marker');

    // Assess
    console.table(results.map(({ name, expected, got }) => ({ name, expected, got })));
    for (const r of results) {
      expect(r.got, r.name).toBe(r.expected);
      expect(r.text, r.name).not.toMatch(/at .*\.(js|ts):\d+/); // no stack traces
    }
    expect(reader.records.filter((r) => r.headers.event_type === 'bad_input_probe')).toHaveLength(0);
    expect(reader.records.filter((r) => r.topic === topics.dlq || r.topic === topics.commands)).toHaveLength(0);
  });

  it('POST /kafka/flush needs the token and answers when the producer is flushed', async () => {
    const denied = await fetch(`${offline.baseUrl}/kafka/flush`, { method: 'POST', signal: AbortSignal.timeout(5000) });
    const flushed = await fetch(`${offline.baseUrl}/kafka/flush`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
      signal: AbortSignal.timeout(5000),
    });
    expect(denied.status).toBe(401);
    expect(flushed.status).toBe(200);
    expect(await flushed.json()).toMatchObject({ status: 'success' });
  });

  it('answers 404 for an unknown route', async () => {
    const response = await fetch(`${offline.baseUrl}/nope`, { signal: AbortSignal.timeout(5000) });
    expect(response.status).toBe(404);
  });
});
