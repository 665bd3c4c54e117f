/**
 * Proves the local stack is real: a record produced with kafkajs is read back by a
 * separate consumer group from the broker, and a metric pushed to the Pushgateway is
 * served back on its /metrics.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Admin } from 'kafkajs';
import { createTopic, startReader, testConfig, testKafka, uniqueName } from '../helpers/kafka';
import { withoutCredentials } from '@simple-time-service/fleet-metrics';

describe('local Kafka broker', () => {
  const kafka = testKafka('sts-stack-test');
  let admin: Admin;

  beforeAll(async () => {
    admin = kafka.admin();
    await admin.connect();
  });
  afterAll(async () => {
    await admin.disconnect();
  });

  it('is a real KRaft broker that answers the admin API', async () => {
    const cluster = await admin.describeCluster();
    console.log(`broker: ${JSON.stringify(cluster.brokers)} controller: ${cluster.controller}`);
    expect(cluster.brokers).toHaveLength(1);
    expect(cluster.brokers[0]).toMatchObject({ host: '127.0.0.1', port: 9092 });
  });

  it('holds the service topics with the configured partitions', async () => {
    const { topics } = testConfig.kafka;
    const metadata = await admin.fetchTopicMetadata({
      topics: [topics.events, topics.requests, topics.commands, topics.dlq],
    });
    for (const topic of metadata.topics) {
      expect(topic.partitions, topic.name).toHaveLength(testConfig.kafka.topicPartitions);
    }
  });

  it('delivers a produced record to a separate consumer group', async () => {
    // Prepare
    const topic = uniqueName('stack-test');
    await createTopic(admin, topic, 3);
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const reader = await startReader(testKafka('sts-stack-reader'), [topic]);
    const marker = uniqueName('marker');

    // Act
    const [ack] = await producer.send({
      topic,
      acks: -1,
      messages: [{ key: 'k1', value: JSON.stringify({ marker }), headers: { event_type: 'stack_test' } }],
    });
    await producer.disconnect();

    // Assess
    const [record] = await reader.waitForRecords((r) => r.value?.toString().includes(marker) ?? false);
    await reader.stop();
    console.log(`read back from ${record?.topic}[${record?.partition}]@${record?.offset}`);
    expect(ack?.errorCode).toBe(0);
    expect(record).toMatchObject({
      topic,
      partition: ack?.partition,
      offset: ack?.baseOffset,
      key: 'k1',
      headers: { event_type: 'stack_test' },
    });
    expect(JSON.parse(record!.value!.toString())).toEqual({ marker });
  });
});

describe('local Pushgateway', () => {
  // The local stack's Pushgateway takes its credentials only (docs/local-stack.md).
  const { url: base, headers } = withoutCredentials(testConfig.pushgateway.url);

  it('serves back a metric pushed to it', async () => {
    // Prepare
    const job = uniqueName('stack-test');
    const value = Math.floor(Math.random() * 1_000_000);
    const body = `# TYPE sts_stack_test_value gauge\nsts_stack_test_value ${value}\n`;

    // Act
    const push = await fetch(`${base}/metrics/job/${job}/instance/i1`, {
      method: 'PUT',
      headers,
      body,
      signal: AbortSignal.timeout(5000),
    });
    const scrape = await fetch(`${base}/metrics`, { headers, signal: AbortSignal.timeout(5000) });
    const text = await scrape.text();
    await fetch(`${base}/metrics/job/${job}/instance/i1`, { method: 'DELETE', headers, signal: AbortSignal.timeout(5000) });

    // Assess
    // 202: the stack runs the Pushgateway with --push.disable-consistency-check (the fleet
    // pushes groups whose series differ in labels), so a push is accepted, not checked.
    expect([200, 202]).toContain(push.status);
    const line = text.split('\n').find((l) => l.startsWith('sts_stack_test_value{') && l.includes(`job="${job}"`));
    console.log(`pushgateway served: ${line}`);
    expect(line).toBeDefined();
    expect(line).toContain('instance="i1"');
    expect(Number(line!.split(' ').pop())).toBe(value);
  });
});
