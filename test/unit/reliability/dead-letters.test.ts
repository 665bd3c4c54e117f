/**
 * How the reliability tests find an acknowledged publish on the dead-letter topic
 * (test/reliability/support.ts): both kinds of dead letter, and nothing from what is not one.
 */
import { describe, expect, it } from 'vitest';
import { kafkaDestinationMessages } from '../../../infra/offline-msk/src/failure';
import { deadLetterId } from '../../reliability/support';

const envelope = (id: string) => Buffer.from(JSON.stringify({ id, event_type: 'rolling_probe', data: {} }));

describe('deadLetterId', () => {
  it('reads a record the service dead-lettered: the record as it was, the reason in its headers', () => {
    expect(deadLetterId(envelope('e-1'), { 'dlq.reason': 'handler_error' })).toEqual({ id: 'e-1', reason: 'handler_error' });
  });

  it("reads a record the local event source gave up on: Lambda's on-failure JSON, the record in its payload", () => {
    const source = {
      kind: 'msk' as const,
      eventSourceArn: 'arn:aws:kafka:us-east-1:123456789012:cluster/c/1',
      bootstrapServers: ['127.0.0.1:9092'],
    };
    const record = {
      topic: 't',
      partition: 1,
      offset: '78',
      timestamp: 1_700_000_000_000,
      timestampType: 'CREATE_TIME' as const,
      key: null,
      value: envelope('e-2'),
      headers: [],
    };
    const [message] = kafkaDestinationMessages(
      {
        condition: 'RetriesExhausted',
        records: [record],
        requestId: 'r',
        approximateInvokeCount: 11,
        response: null,
        at: new Date(0),
        reason: 'boom',
      },
      { functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:f', source },
    );

    expect(deadLetterId(Buffer.from(message!.value), {})).toEqual({ id: 'e-2', reason: 'on-failure destination: RetriesExhausted' });
  });

  it('finds no id in what is not JSON or carries none', () => {
    expect(deadLetterId(Buffer.from('not json'), {})).toBeUndefined();
    expect(deadLetterId(null, {})).toBeUndefined();
    expect(deadLetterId(Buffer.from('{"n":1}'), {})).toBeUndefined();
  });
});
