/** What Lambda writes to an on-failure destination, as AWS documents it. */
import { describe, expect, it } from 'vitest';
import { invocationRecord, kafkaDestinationMessages, parseDestination } from '../src/failure';
import type { Failure } from '../src/mapping';
import { record } from './support';

const CLUSTER = 'arn:aws:kafka:us-east-1:123456789012:cluster/my-cluster/abc123';
const context = {
  functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:my-function',
  source: { kind: 'msk' as const, eventSourceArn: CLUSTER, bootstrapServers: ['b-1.mycluster:9098'] },
};

function failure(overrides: Partial<Failure> = {}): Failure {
  return {
    condition: 'RetriesExhausted',
    records: [
      record(0, 100, { timestamp: 1749116692330, topic: 'my-topic' }),
      record(0, 101, { timestamp: 1749116692331, topic: 'my-topic' }),
    ],
    requestId: 'e4b46cbf-b738-xmpl-8880-a18cdf61200e',
    approximateInvokeCount: 3,
    response: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    at: new Date('2019-11-14T18:16:05.568Z'),
    reason: 'boom',
    ...overrides,
  };
}

describe('the Kafka on-failure destination (kafka-on-failure-destination.html, "Record format")', () => {
  it('writes one message per failed record, keyed by the record key, with the failure metadata and the record as payload', () => {
    // Act
    const messages = kafkaDestinationMessages(failure(), context);

    // Assess
    expect(messages).toHaveLength(2);
    expect(messages[0]!.key).toEqual(Buffer.from('k100'));
    const value = JSON.parse(messages[0]!.value) as Record<string, unknown>;
    expect(Object.keys(value)).toEqual(['requestContext', 'responseContext', 'version', 'timestamp', 'KafkaBatchInfo', 'payload']);
    expect(value).toEqual({
      requestContext: {
        requestId: 'e4b46cbf-b738-xmpl-8880-a18cdf61200e',
        functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:my-function:$LATEST',
        condition: 'RetriesExhausted',
        approximateInvokeCount: 3,
      },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      version: '1.0',
      timestamp: '2019-11-14T18:16:05.568Z',
      KafkaBatchInfo: {
        batchSize: 1,
        eventSourceArn: CLUSTER,
        bootstrapServers: 'b-1.mycluster:9098',
        payloadSize: Buffer.byteLength(JSON.stringify(value.payload)),
        recordInfo: { offset: '100', timestamp: '2025-06-05T09:44:52.330Z' },
      },
      payload: {
        eventSource: 'aws:kafka',
        eventSourceArn: CLUSTER,
        bootstrapServers: 'b-1.mycluster:9098',
        records: {
          'my-topic-0': [
            {
              topic: 'my-topic',
              partition: 0,
              offset: 100,
              timestamp: 1749116692330,
              timestampType: 'CREATE_TIME',
              key: Buffer.from('k100').toString('base64'),
              value: Buffer.from(JSON.stringify({ n: 100 })).toString('base64'),
              headers: [],
            },
          ],
        },
      },
    });
  });

  it('marks a record too old with RecordAgeExceeded and a null responseContext when it never reached the function; no eventSourceArn for self-managed Kafka', () => {
    const [message] = kafkaDestinationMessages(
      failure({ condition: 'RecordAgeExceeded', approximateInvokeCount: 0, response: null, records: [record(1, 7)] }),
      {
        ...context,
        source: { kind: 'self-managed', bootstrapServers: ['b:9092'] },
      },
    );

    const value = JSON.parse(message!.value) as {
      requestContext: { condition: string };
      responseContext: unknown;
      KafkaBatchInfo: Record<string, unknown>;
    };
    expect(value.requestContext.condition).toBe('RecordAgeExceeded');
    expect(value.responseContext).toBeNull();
    expect(value.KafkaBatchInfo).not.toHaveProperty('eventSourceArn');
  });
});

describe('SQS, SNS and S3 destinations (kafka-on-failure.html, example invocation records)', () => {
  it('describes the batch per topic-partition; S3 adds the whole event as a JSON string', () => {
    const sqs = invocationRecord(failure(), context, 'sqs');
    const s3 = invocationRecord(failure(), context, 's3');

    expect(sqs).toEqual({
      requestContext: {
        requestId: 'e4b46cbf-b738-xmpl-8880-a18cdf61200e',
        functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:my-function',
        condition: 'RetryAttemptsExhausted',
        approximateInvokeCount: 3,
      },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      version: '1.0',
      timestamp: '2019-11-14T18:16:05.568Z',
      KafkaBatchInfo: {
        batchSize: 2,
        eventSourceArn: CLUSTER,
        bootstrapServers: 'b-1.mycluster:9098',
        payloadSize: Buffer.byteLength(s3.payload as string),
        recordsInfo: {
          'my-topic-0': {
            firstRecordOffset: '100',
            lastRecordOffset: '101',
            firstRecordTimestamp: '2025-06-05T09:44:52.330Z',
            lastRecordTimestamp: '2025-06-05T09:44:52.331Z',
          },
        },
      },
    });
    expect(JSON.parse(s3.payload as string)).toMatchObject({
      eventSource: 'aws:kafka',
      records: { 'my-topic-0': [{ offset: 100 }, { offset: 101 }] },
    });
  });
});

describe('parseDestination', () => {
  it.each([
    ['kafka://dead-letters', { kind: 'kafka', topic: 'dead-letters' }],
    ['arn:aws:sqs:us-east-1:123456789012:q', { kind: 'sqs', arn: 'arn:aws:sqs:us-east-1:123456789012:q' }],
    ['arn:aws:sns:us-east-1:123456789012:t', { kind: 'sns', arn: 'arn:aws:sns:us-east-1:123456789012:t' }],
    ['arn:aws:s3:::bucket', { kind: 's3', arn: 'arn:aws:s3:::bucket' }],
    [{ 'Fn::GetAtt': ['Q', 'Arn'] }, { kind: 'reference', value: { 'Fn::GetAtt': ['Q', 'Arn'] } }],
  ])('reads %j', (value, expected) => {
    expect(parseDestination(value)).toEqual(expected);
  });

  it.each(['kafka://', 'kafka://a b', 'https://example.com', 42, { a: 1, b: 2 }])('refuses %j', (value) => {
    expect(() => parseDestination(value)).toThrow();
  });
});
