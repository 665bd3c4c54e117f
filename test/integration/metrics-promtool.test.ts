/**
 * GET /metrics as Prometheus's own linter reads it: after real traffic through every
 * function (GET / against the real broker, every consumer function with MSK events, a
 * poison record among them, the metrics function's schedule), `promtool check metrics` on
 * the answer finds one thing only: `kafka_consumer_lag_ms`, the original service's name,
 * kept because clients depend on it (docs/metrics.md, "Metric names"). Any other finding fails here,
 * named, so a new metric follows Prometheus's naming rules.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type { Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildKafkaEvent } from '../../infra/offline-msk/src/event';
import { createConsumerHandler } from '../../handlers/factories/consumer';
import type { KafkaLambdaEvent } from '../../handlers/factories/consumer';
import { defaultDeps } from '../../handlers/factories/deps';
import { createHttpHandler } from '../../handlers/factories/http';
import { createMetricsHandler } from '../../handlers/factories/metrics';
import { loadConfig } from '../../src/config';
import { CONSUMER_FUNCTIONS } from '../../src/consumers/functions';
import { createEvent } from '../../src/events';
import { createContainerProducer, createKafka, withOffsetReader } from '../../src/kafka';
import type { ContainerProducer } from '../../src/kafka';
import type { ConsumedRecord } from '../../src/kafka/records';
import { sendObserver } from '../../src/metrics';
import { createMetrics } from '../../src/metrics/container-metrics';
import { createTopic, testConfig, testKafka, topicEnv, uniqueName, uniqueServiceTopics } from '../helpers/kafka';
import { httpEvent, lambdaContext, scheduledEvent } from '../helpers/lambda';
import { deletePushedGroups } from '../helpers/pushgateway';
import { sumSamples } from './metrics-support';

type Result = APIGatewayProxyStructuredResultV2;
type Invoke<E, R> = (event: E, context: Context) => Promise<R>;

/** The finding the service accepts, and why: docs/metrics.md, "Metric names". */
const KEPT = /^kafka_consumer_lag_ms metric names should not contain abbreviated units$/;

const job = uniqueName('sts-promtool');
const topics = uniqueServiceTopics('promtool');
const env = {
  ...process.env,
  KAFKA_BROKERS: testConfig.kafka.brokers.join(','),
  PUSHGATEWAY_URL: testConfig.pushgateway.url,
  SERVICE_NAME: job,
  ...topicEnv(topics),
  KAFKA_CONSUMER_GROUP: uniqueName('promtool-group'),
  LOG_LEVEL: 'SILENT',
  // Every invocation pushes: what a function counted is on the Pushgateway when it returns.
  METRICS_PUSH_INTERVAL_MS: '0',
};
const kafka = testKafka('sts-promtool-test');
const producers: ContainerProducer[] = [];

/** One function's container: its own config, registry and producer (whose sends it counts). */
function functionDeps(name: string) {
  const config = loadConfig({ ...env, AWS_LAMBDA_FUNCTION_NAME: name });
  const metrics = createMetrics();
  const producer = createContainerProducer({
    kafka: () => createKafka({ kafka: config.kafka, brokers: config.kafka.brokers, clientId: `sts-promtool-${name}` }),
    sendTimeoutMs: 5000,
    connectTimeoutMs: 5000,
    onSend: sendObserver(metrics),
  });
  producers.push(producer);
  return defaultDeps({ config, metrics, producer: () => producer, withOffsets: (use) => withOffsetReader(kafka, use) });
}

let offset = 0;
function record(topic: string, value: string, key = 'k'): ConsumedRecord {
  return {
    topic,
    partition: 0,
    offset: String(offset++),
    timestamp: Date.now() - 50,
    timestampType: 'CREATE_TIME',
    key: Buffer.from(key),
    value: Buffer.from(value),
    headers: [],
  };
}

function envelope(eventType: string, data: Record<string, unknown>): string {
  return JSON.stringify(createEvent({ eventType, data, source: 'promtool-test', correlationId: `c-${eventType}` }));
}

/** Each consumer function's records: one of its own events, and on the catch-alls a poison record. */
const consumerRecords: Record<string, () => ConsumedRecord[]> = {
  onHttpRequest: () => [
    record(
      topics.requests,
      envelope('http_request', { user_ip: '203.0.113.7', method: 'GET', endpoint: '/', hostname: 'h', os: 'linux', request_id: 'r-1' }),
    ),
    record(topics.requests, 'not json'),
  ],
  onHttpResponse: () => [
    record(
      topics.events,
      envelope('http_response', { user_ip: '203.0.113.7', status_code: 200, response_time_ms: 3, endpoint: '/', request_id: 'r-1' }),
    ),
  ],
  onError: () => [record(topics.events, envelope('error', { error_message: 'boom', error_type: 'TypeError', service: 'promtool-test' }))],
  onCommand: () => [
    record(
      topics.commands,
      JSON.stringify({
        type: 'time.now',
        correlation_id: 'c-cmd',
        timestamp: new Date().toISOString(),
        payload: {},
        source: 'promtool-test',
      }),
    ),
  ],
  onCustomEvent: () => [record(topics.events, envelope('custom_event', { user_id: '123' }))],
};

/** promtool's findings, one per line, for a text-format body. */
function promtoolFindings(body: string): { status: number | null; findings: string[] } {
  const result = spawnSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8', timeout: 30_000 });
  if (result.error) throw new Error(`promtool could not run (Debian's prometheus package has it): ${result.error.message}`);
  const findings = `${result.stdout}${result.stderr}`
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  return { status: result.status, findings };
}

describe('GET /metrics and promtool check metrics', () => {
  let admin: Admin;
  let body = '';

  beforeAll(async () => {
    admin = kafka.admin();
    await admin.connect();
    for (const topic of Object.values(topics)) await createTopic(admin, topic, 1);

    // Prepare: traffic through every function, each pushing what it counted.
    const http = createHttpHandler(functionDeps('http')) as unknown as Invoke<ReturnType<typeof httpEvent>, Result>;
    for (const route of ['GET /', 'GET /', 'GET /healthz', 'GET /kafka/status']) {
      expect((await http(httpEvent(route), lambdaContext('http'))).statusCode).toBe(200);
    }
    for (const fn of CONSUMER_FUNCTIONS) {
      const handler = createConsumerHandler(fn.name, functionDeps(fn.name)) as unknown as Invoke<KafkaLambdaEvent, unknown>;
      const source = {
        kind: 'msk' as const,
        eventSourceArn: 'arn:aws:kafka:us-east-1:123456789012:cluster/local/promtool',
        bootstrapServers: testConfig.kafka.brokers,
      };
      await handler(buildKafkaEvent(source, consumerRecords[fn.name]?.() ?? []) as unknown as KafkaLambdaEvent, lambdaContext(fn.name));
    }
    const metricsFunction = createMetricsHandler(functionDeps('metrics')) as unknown as Invoke<unknown, Result>;
    await metricsFunction(scheduledEvent(), lambdaContext('metrics'));
    const answer = await metricsFunction(httpEvent('GET /metrics'), lambdaContext('metrics'));
    expect(answer.statusCode).toBe(200);
    body = String(answer.body);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(producers.map((p) => p.disconnect()));
    await admin?.deleteTopics({ topics: Object.values(topics) }).catch(() => undefined);
    await admin?.disconnect();
    await deletePushedGroups(testConfig.pushgateway.url, job);
  });

  it('answers with the metrics of every function after the traffic', () => {
    for (const name of [
      'http_requests_total',
      'kafka_messages_sent_total',
      'kafka_messages_received_total',
      'dead_letters_total',
      'kafka_consumer_lag_ms_bucket',
      'kafka_consumergroup_lag',
    ]) {
      expect(body, name).toMatch(new RegExp(`^${name}\\{`, 'm'));
    }
  });

  it('starts the counters whose label values are known at 0, where there was no data', () => {
    // No push failed and no record came twice: zeros, not missing series.
    for (const outcome of ['error', 'timeout']) {
      expect(body, `pushgateway_pushes_total{outcome="${outcome}"}`).toMatch(
        new RegExp(`^pushgateway_pushes_total\\{[^}]*function="http"[^}]*outcome="${outcome}"[^}]*\\} 0$`, 'm'),
      );
    }
    expect(sumSamples(body, 'pushgateway_pushes_total', { function: 'http', outcome: 'success' })).toBeGreaterThan(0);
    for (const fn of CONSUMER_FUNCTIONS) {
      expect(body, `duplicates_suppressed_total of ${fn.name}`).toMatch(
        new RegExp(`^duplicates_suppressed_total\\{[^}]*function="${fn.name}"[^}]*\\} 0$`, 'm'),
      );
    }
    expect(sumSamples(body, 'error_events_total', { function: 'onError' })).toBe(1);
  });

  it('tells the build: build_info with the version of package.json and the commit it was built from', () => {
    const version = (JSON.parse(readFileSync(path.resolve(__dirname, '../../package.json'), 'utf8')) as { version: string }).version;
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: __dirname, encoding: 'utf8' }).trim();
    expect(body).toMatch(new RegExp(`^build_info\\{[^}]*commit="${commit}"[^}]*function="http"[^}]*version="${version}"[^}]*\\} 1$`, 'm'));
  });

  it('has no finding but kafka_consumer_lag_ms, the original name clients depend on', () => {
    // Act
    const { status, findings } = promtoolFindings(body);
    // Assess
    const others = findings.filter((f) => !KEPT.test(f));
    expect(
      others,
      `promtool check metrics: ${others.join('; ')}. A metric breaks Prometheus naming rules (docs/metrics.md, "Metric names"): rename it (a released name and type never change, so a new name) or fix its help or type`,
    ).toEqual([]);
    expect(findings.filter((f) => KEPT.test(f))).toHaveLength(1);
    expect(status).toBe(3);
  });
});
