/**
 * Consumer-group lag from Kafka's own offsets (the real local broker), pushed by the
 * scheduled metrics function and shown by GET /metrics: N records written to a topic
 * whose consumer function has not consumed them show as lag N, summed over partitions,
 * and the lag returns to 0 once a consumer in that group has consumed and committed them.
 */
import type { APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type { Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultDeps } from '../../handlers/factories/deps';
import { createMetricsHandler } from '../../handlers/factories/metrics';
import type { ScheduledRunReport } from '../../src/use-cases';
import { loadConfig } from '../../src/config';
import { CONSUMER_FUNCTIONS, consumerGroupId } from '../../src/consumers/functions';
import { withOffsetReader } from '../../src/kafka/offsets';
import { createMetrics } from '../../src/metrics/container-metrics';
import { deleteGroup, fetchGroups } from '@simple-time-service/fleet-metrics';
import { createTopic, testConfig, testKafka, uniqueName } from '../helpers/kafka';
import { httpEvent, scheduledEvent } from '../helpers/lambda';
import { waitFor } from '../helpers/wait-for';

type Result = APIGatewayProxyStructuredResultV2;

const context = {
  functionName: 'metrics',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:metrics',
  memoryLimitInMB: '256',
  awsRequestId: 'lag-test',
  getRemainingTimeInMillis: () => 10_000,
} as Context;

/** The sum of kafka_consumergroup_lag samples for one group in Prometheus text. */
function lagIn(text: string, group: string): number {
  return text
    .split('\n')
    .filter((line) => line.startsWith('kafka_consumergroup_lag{') && line.includes(`group="${group}"`))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

/**
 * A metrics function of its own (job, topics, consumer group) over the real broker and
 * Pushgateway, with the hooks that create its topics and delete them and its groups after.
 */
function lagFixture(prefix: string, env: Record<string, string> = {}) {
  const kafka = testKafka(`sts-metrics-${prefix}-test`);
  const job = uniqueName(`sts-${prefix}`);
  const topics = { requests: uniqueName(`${prefix}-req`), events: uniqueName(`${prefix}-ev`), commands: uniqueName(`${prefix}-cmd`) };
  const config = loadConfig({
    ...process.env,
    KAFKA_BROKERS: testConfig.kafka.brokers.join(','),
    PUSHGATEWAY_URL: testConfig.pushgateway.url,
    SERVICE_NAME: job,
    AWS_LAMBDA_FUNCTION_NAME: 'metrics',
    KAFKA_CONSUMER_GROUP: uniqueName(`${prefix}-group`),
    KAFKA_TOPIC_REQUESTS: topics.requests,
    KAFKA_TOPIC_EVENTS: topics.events,
    KAFKA_TOPIC_COMMANDS: topics.commands,
    KAFKA_AUTO_OFFSET_RESET: 'earliest',
    LOG_LEVEL: 'SILENT',
    ...env,
  });
  const onHttpRequest = CONSUMER_FUNCTIONS.find((fn) => fn.name === 'onHttpRequest');
  if (!onHttpRequest) throw new Error('onHttpRequest is missing from CONSUMER_FUNCTIONS');
  const group = consumerGroupId(config.kafka, onHttpRequest);
  const handler = createMetricsHandler(
    defaultDeps({ config, metrics: createMetrics(), withOffsets: (use) => withOffsetReader(kafka, use) }),
  );
  let admin: Admin;

  beforeAll(async () => {
    admin = kafka.admin();
    await admin.connect();
    for (const topic of Object.values(topics)) await createTopic(admin, topic, 3);
  });

  afterAll(async () => {
    await admin.deleteTopics({ topics: Object.values(topics) });
    await admin.disconnect();
    for (const g of await fetchGroups({ url: config.pushgateway.url, timeoutMs: 2000, job })) {
      await deleteGroup({ url: config.pushgateway.url, timeoutMs: 2000, labels: g.labels });
    }
  });

  /** Writes n records to the requests topic, which onHttpRequest's group has not consumed. */
  const backlog = async (n: number): Promise<void> => {
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: topics.requests,
      messages: Array.from({ length: n }, (_, i) => ({ key: `caller-${i}`, value: JSON.stringify({ i }) })),
    });
    await producer.disconnect();
  };
  return { kafka, topics, group, handler, backlog };
}

describe('consumer-group lag', () => {
  const { kafka, topics, group, handler, backlog } = lagFixture('lag');

  async function scheduledLag(): Promise<{ report: Extract<ScheduledRunReport['lag'], { total: number }>; shown: number }> {
    const run = (await handler(scheduledEvent(), context)) as ScheduledRunReport;
    if ('error' in run.lag) throw new Error(`lag not computed: ${run.lag.error}`);
    const response = (await handler(httpEvent('GET /metrics'), context)) as Result;
    return { report: run.lag, shown: lagIn(String(response.body), group) };
  }

  it('shows N unconsumed records as lag N summed over partitions, and 0 once they are consumed', async () => {
    // Prepare
    const n = 7;
    await backlog(n);

    // Act: the consumer function's group has committed nothing yet
    const before = await scheduledLag();

    // Assess
    expect(before.report.failures).toEqual([]);
    expect(before.report.byGroup[group]).toBe(n);
    expect(before.shown).toBe(n);
    expect(before.report.total).toBe(n);

    // Act: a consumer in that group reads and commits everything
    const consumer = kafka.consumer({ groupId: group, maxWaitTimeInMs: 100 });
    let consumed = 0;
    await consumer.connect();
    await consumer.subscribe({ topics: [topics.requests], fromBeginning: true });
    await consumer.run({
      eachMessage: () => {
        consumed += 1;
        return Promise.resolve();
      },
    });
    await waitFor(() => (consumed >= n ? true : undefined), { timeoutMs: 20_000, what: `${n} records consumed` });
    await consumer.disconnect(); // commits the resolved offsets

    // Assess
    const after = await waitFor(
      async () => {
        const lag = await scheduledLag();
        return lag.report.byGroup[group] === 0 ? lag : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 200, what: 'the lag to return to 0' },
    );
    expect(after.shown).toBe(0);
    expect(after.report.total).toBe(0);
  });
});

describe('consumer-group lag read at the scrape', () => {
  const { group, handler, backlog } = lagFixture('slag');

  it('shows a backlog in GET /metrics without waiting for the scheduled run', async () => {
    // Prepare: a backlog on the requests topic, and a metrics function whose schedule never ran
    const n = 5;
    await backlog(n);
    // Act
    const response = (await handler(httpEvent('GET /metrics'), context)) as Result;
    // Assess
    expect(response.statusCode).toBe(200);
    expect(lagIn(String(response.body), group)).toBe(n);
  });
});

describe('consumer-group lag read at the scrape, with the answer reused for long', () => {
  // The GET /metrics answer is reused for a minute, the lag read every 5 s: a scrape that
  // read fresh lag must not be answered from the answer read before it.
  const { group, handler, backlog } = lagFixture('slagr', { METRICS_ANSWER_REUSE_MS: '60000' });

  it('shows the lag the scrape itself read, not the answer reused from before it', async () => {
    // Prepare: a backlog seen by a first scrape, then more records
    await backlog(3);
    const first = (await handler(httpEvent('GET /metrics'), context)) as Result;
    expect(lagIn(String(first.body), group)).toBe(3);
    await backlog(4);
    // Act: a scrape once the lag read is due again
    await new Promise((resolve) => setTimeout(resolve, 5_500));
    const second = (await handler(httpEvent('GET /metrics'), context)) as Result;
    // Assess
    expect(lagIn(String(second.body), group)).toBe(7);
  });
});
