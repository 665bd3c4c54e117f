/**
 * The topics function (handlers/factories/topics.ts) as CloudFormation invokes it for the
 * ServiceTopics custom resource, against the real broker: Create makes the four topics and
 * answers SUCCESS at the response URL; Update finds them all there (idempotent); Delete
 * leaves them.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultDeps } from '../../handlers/factories/deps';
import { createTopicsHandler } from '../../handlers/factories/topics';
import { loadConfig } from '../../src/config';
import { testKafka, topicEnv, uniqueServiceTopics } from '../helpers/kafka';

const topics = uniqueServiceTopics('cfn');
// The configuration the deploy gives the function.
const config = loadConfig({ ...process.env, ...topicEnv(topics), KAFKA_BROKERS: '127.0.0.1:9092', KAFKA_TOPIC_REPLICATION_FACTOR: '3' });
const handler = createTopicsHandler(defaultDeps({ config }));

describe('the topics custom resource on the local broker', () => {
  const answers: Array<Record<string, unknown>> = [];
  let server: http.Server;
  let url: string;
  const admin = testKafka('sts-cfn-admin').admin();
  const context = { getRemainingTimeInMillis: () => 60_000 } as Context;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        answers.push(JSON.parse(body) as Record<string, unknown>);
        res.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/answer`;
    await admin.connect();
  });

  afterAll(async () => {
    await admin.deleteTopics({ topics: Object.values(topics), timeout: 10_000 }).catch(() => undefined);
    await admin.disconnect();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const request = (RequestType: 'Create' | 'Update' | 'Delete') => ({
    RequestType,
    ResponseURL: url,
    StackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/simple-time-service-test/1',
    RequestId: `req-${RequestType}`,
    LogicalResourceId: 'ServiceTopics',
    ...(RequestType === 'Create' ? {} : { PhysicalResourceId: 'simple-time-service-local-topics' }),
  });

  it('creates the topics on Create, finds them on Update, and keeps them on Delete', async () => {
    const created = await handler(request('Create'), context);
    expect(created).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: 'simple-time-service-local-topics' });
    expect(created.Data?.Created?.split(',').sort()).toEqual(Object.values(topics).sort());
    // The broker has one node: the replication factor is capped, and said so.
    expect(created.Data?.ReplicationFactor).toBe('1');
    expect(await admin.listTopics()).toEqual(expect.arrayContaining(Object.values(topics)));

    const updated = await handler(request('Update'), context);
    expect(updated.Data).toMatchObject({ Created: '' });
    expect(updated.Data?.Existing?.split(',').sort()).toEqual(Object.values(topics).sort());

    const deleted = await handler(request('Delete'), context);
    expect(deleted.Status).toBe('SUCCESS');
    expect(await admin.listTopics()).toEqual(expect.arrayContaining(Object.values(topics)));
    expect(answers.map((a) => a.Status)).toEqual(['SUCCESS', 'SUCCESS', 'SUCCESS']);
  });
});
