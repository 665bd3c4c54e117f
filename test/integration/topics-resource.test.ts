/**
 * The topics function (handlers/factories/topics.ts) as CloudFormation invokes it for the
 * ServiceTopics custom resource, against the real broker: Create makes the four topics and
 * answers SUCCESS; Update finds them all there (idempotent), grows them when asked for more
 * partitions and never shrinks them, saying so; Delete leaves them. Its answers go, as on
 * AWS, to a pre-signed S3 URL of CloudFormation's in the function's region, here carried to a
 * local server by the sender; a ResponseURL of anyone else is refused without a connection.
 * With the broker and the response URL both silent, it still answers within its invocation.
 */
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultDeps } from '../../handlers/factories/deps';
import { createTopicsHandler } from '../../handlers/factories/topics';
import { loadConfig } from '../../src/config';
import { sendResponseWithFetch } from '../../src/provisioning/cloudformation-response';
import type { SendResponse } from '../../src/provisioning/cloudformation-response';
import { testKafka, topicEnv, uniqueServiceTopics } from '../helpers/kafka';

const topics = uniqueServiceTopics('cfn');
/** What CloudFormation gives a stack in us-east-1 (the function's region here). */
const CLOUDFORMATION_URL =
  'https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/arn%3Aaws%3Acloudformation%3Aus-east-1%3A123456789012%3Astack/simple-time-service-test/1%7CServiceTopics%7Creq?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=0123';
// The configuration the deploy gives the function.
const configWith = (env: Record<string, string>) =>
  loadConfig({
    ...process.env,
    ...topicEnv(topics),
    KAFKA_BROKERS: '127.0.0.1:9092',
    KAFKA_TOPIC_REPLICATION_FACTOR: '3',
    AWS_REGION: 'us-east-1',
    LOG_LEVEL: 'SILENT',
    ...env,
  });

describe('the topics custom resource on the local broker', () => {
  const answers: Array<Record<string, unknown>> = [];
  let server: http.Server;
  let localUrl: string;
  /** Sends what the function PUTs to CloudFormation's URL to this test's server instead. */
  const toLocal: SendResponse = (url, body, deadline) => {
    expect(url).toBe(CLOUDFORMATION_URL);
    return sendResponseWithFetch(localUrl, body, deadline);
  };
  const handlerFor = (env: Record<string, string> = {}) =>
    createTopicsHandler(defaultDeps({ config: configWith(env) }), { sendResponse: toLocal });
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
    localUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/answer`;
    await admin.connect();
  });

  afterAll(async () => {
    await admin.deleteTopics({ topics: Object.values(topics), timeout: 10_000 }).catch(() => undefined);
    await admin.disconnect();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const request = (RequestType: 'Create' | 'Update' | 'Delete') => ({
    RequestType,
    ResponseURL: CLOUDFORMATION_URL,
    StackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/simple-time-service-test/1',
    RequestId: `req-${RequestType}`,
    LogicalResourceId: 'ServiceTopics',
    ...(RequestType === 'Create' ? {} : { PhysicalResourceId: 'simple-time-service-local-topics' }),
  });
  const partitionsOf = async () =>
    Object.fromEntries(
      (await admin.fetchTopicMetadata({ topics: Object.values(topics) })).topics.map((t) => [t.name, t.partitions.length]),
    );

  it('creates the topics on Create, finds them on Update, and keeps them on Delete', async () => {
    const created = await handlerFor()(request('Create'), context);
    expect(created).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: 'simple-time-service-local-topics' });
    expect(created.Data?.Created?.split(',').sort()).toEqual(Object.values(topics).sort());
    // The broker has one node: the replication factor is capped, and said so.
    expect(created.Data?.ReplicationFactor).toBe('1');
    expect(await admin.listTopics()).toEqual(expect.arrayContaining(Object.values(topics)));

    const updated = await handlerFor()(request('Update'), context);
    expect(updated.Data).toMatchObject({ Created: '', Grown: '', KeptLarger: '' });
    expect(updated.Data?.Existing?.split(',').sort()).toEqual(Object.values(topics).sort());

    const deleted = await handlerFor()(request('Delete'), context);
    expect(deleted.Status).toBe('SUCCESS');
    expect(await admin.listTopics()).toEqual(expect.arrayContaining(Object.values(topics)));
    expect(answers.slice(-3).map((a) => a.Status)).toEqual(['SUCCESS', 'SUCCESS', 'SUCCESS']);
  });

  it('grows every topic on an Update that asks for more partitions, and says so, never shrinking one, on one that asks for fewer', async () => {
    // Prepare: the topics as Create made them (3 partitions)
    expect(Object.values(await partitionsOf())).toEqual([3, 3, 3, 3]);

    // Act: topicPartitions raised to 5, then lowered to 2
    const grown = await handlerFor({ KAFKA_TOPIC_PARTITIONS: '5' })(request('Update'), context);
    const afterGrowth = await partitionsOf();
    const lowered = await handlerFor({ KAFKA_TOPIC_PARTITIONS: '2' })(request('Update'), context);

    // Assess
    expect(Object.values(afterGrowth)).toEqual([5, 5, 5, 5]);
    expect(grown.Status).toBe('SUCCESS');
    expect(grown.Data?.Grown?.split(',').sort()).toEqual(
      Object.values(topics)
        .map((t) => `${t}:3->5`)
        .sort(),
    );
    expect(Object.values(await partitionsOf())).toEqual([5, 5, 5, 5]);
    expect(lowered).toMatchObject({
      Status: 'SUCCESS',
      Reason: expect.stringMatching(/^asked for 2 partitions, which Kafka cannot do by removing partitions: .* keeps its 5/) as unknown,
    });
    expect(lowered.Data?.KeptLarger?.split(',').sort()).toEqual(
      Object.values(topics)
        .map((t) => `${t}:5`)
        .sort(),
    );
    // CloudFormation got the same answers.
    expect(answers.slice(-2)).toEqual([grown, lowered]);
  });

  it("answers within the invocation's time when the broker and CloudFormation's URL both hang", async () => {
    // Prepare: a broker that accepts connections and never answers, a response URL that never answers
    const sockets = new Set<net.Socket>();
    const silentBroker = net.createServer((socket) => void sockets.add(socket));
    const tried: string[] = [];
    const silentUrl = http.createServer((req) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => tried.push(body));
    });
    await new Promise<void>((resolve) => silentBroker.listen(0, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => silentUrl.listen(0, '127.0.0.1', resolve));
    const hung = configWith({
      ...topicEnv(uniqueServiceTopics('cfnhang')),
      KAFKA_BROKERS: `127.0.0.1:${(silentBroker.address() as AddressInfo).port}`,
      KAFKA_CONNECT_TIMEOUT_MS: '10000',
    });
    const toSilentUrl: SendResponse = (_, body, deadline) =>
      sendResponseWithFetch(`http://127.0.0.1:${(silentUrl.address() as AddressInfo).port}/answer`, body, deadline);
    const remainingAtStart = 15_000;
    const started = Date.now();
    const remaining = { getRemainingTimeInMillis: () => remainingAtStart - (Date.now() - started) } as Context;

    try {
      // Act
      const outcome = await createTopicsHandler(defaultDeps({ config: hung }), { sendResponse: toSilentUrl })(
        request('Create'),
        remaining,
      ).catch((error: Error) => error);

      // Assess: a FAILED answer, tried and given up on (the invocation fails, for Lambda's Errors alarm), before Lambda would have ended it
      expect(Date.now() - started).toBeLessThan(remainingAtStart);
      expect(outcome).toBeInstanceOf(Error);
      expect((outcome as Error).message).toMatch(
        /CloudFormation's response URL could not be reached \(\d attempt\(s\) before the deadline\)/,
      );
      expect(tried.length).toBeGreaterThanOrEqual(1);
      expect(JSON.parse(tried[0]!)).toMatchObject({
        Status: 'FAILED',
        Reason: expect.stringMatching(/^creating the service's topics failed: /) as unknown,
      });
    } finally {
      for (const socket of sockets) socket.destroy();
      silentUrl.closeAllConnections();
      await new Promise<void>((resolve) => silentBroker.close(() => resolve()));
      await new Promise<void>((resolve) => silentUrl.close(() => resolve()));
    }
  }, 25_000);

  it("refuses a ResponseURL that is not CloudFormation's: no topic created, no connection made to it", async () => {
    // Prepare: a server that counts every connection made to it
    let connections = 0;
    const elsewhere = http.createServer((_, res) => res.end());
    elsewhere.on('connection', () => connections++);
    await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.1', resolve));
    const port = (elsewhere.address() as AddressInfo).port;
    const own = uniqueServiceTopics('cfnrefused');
    // The function's own sender: nothing in between.
    const handler = createTopicsHandler(defaultDeps({ config: configWith(topicEnv(own)) }));

    try {
      for (const ResponseURL of [`http://127.0.0.1:${port}/answer`, `https://127.0.0.1:${port}/answer?X-Amz-Signature=1`]) {
        // Act
        const answered = await handler({ ...request('Create'), ResponseURL }, context);

        // Assess
        expect(answered, ResponseURL).toMatchObject({
          Status: 'FAILED',
          Reason: expect.stringMatching(/^refused: ResponseURL/) as unknown,
        });
      }
      expect(connections).toBe(0);
      expect(await admin.listTopics()).not.toEqual(expect.arrayContaining([own.requests]));
    } finally {
      await new Promise<void>((resolve) => elsewhere.close(() => resolve()));
    }
  });
});
