import { describe, expect, it } from 'vitest';
import { publishWithRetries } from '../../../infra/publish';
import { KafkaUnavailableError } from '../../../src/kafka/errors';
import type { OutgoingRecord, RecordAck, RecordPublisher } from '../../../src/kafka';

/** Fails the first `failures` sends as the producer does when the broker did not acknowledge in time. */
function flaky(failures: number): RecordPublisher & { sent: OutgoingRecord[] } {
  const sent: OutgoingRecord[] = [];
  return {
    sent,
    send(records): Promise<RecordAck[]> {
      sent.push(...records);
      if (sent.length <= failures) return Promise.reject(new KafkaUnavailableError('not acknowledged in time', { outcome: 'unknown' }));
      return Promise.resolve([{ topic: 't', partition: 0, offset: '7' }]);
    },
  };
}

describe('npm run publish', () => {
  const record = { topic: 't', key: 'k', value: '{"id":"3f1c1e0a-8b6d-4c2e-9a7f-1b2c3d4e5f60"}' };

  it('retries a send whose outcome is unknown with the same record, so the same event id', async () => {
    const publisher = flaky(2);
    const ack = await publishWithRetries({ publisher, record, retries: 2, delayMs: 1 });
    expect(ack).toEqual({ topic: 't', partition: 0, offset: '7' });
    expect(publisher.sent).toEqual([record, record, record]);
  });

  it('gives up after its retries', async () => {
    const publisher = flaky(5);
    await expect(publishWithRetries({ publisher, record, retries: 1, delayMs: 1 })).rejects.toThrow(KafkaUnavailableError);
    expect(publisher.sent).toHaveLength(2);
  });
});
