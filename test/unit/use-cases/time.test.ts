/**
 * GET /'s use case with a producer that takes its time to acknowledge: the http_response
 * event's response_time_ms (http_response_time_seconds) is the time it took to produce the
 * answer, the Kafka send of the http_request event included, as the original service
 * measured it; not the microseconds spent building the payload.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config';
import type { OutgoingRecord, RecordAck, RecordPublisher } from '../../../src/kafka/records';
import { createLogger } from '../../../src/logger';
import { createTimeUseCase } from '../../../src/use-cases/time';

const ACK_MS = 40;
const config = loadConfig({ KAFKA_TOPIC_REQUESTS: 'requests', KAFKA_TOPIC_EVENTS: 'events', LOG_LEVEL: 'SILENT' });

/** Acknowledges every send ACK_MS after it was made; remembers the records in the order sent. */
function slowProducer(): RecordPublisher & { sent: OutgoingRecord[] } {
  const sent: OutgoingRecord[] = [];
  return {
    sent,
    send: (records) =>
      new Promise<RecordAck[]>((resolve) => {
        setTimeout(() => {
          sent.push(...records);
          resolve(records.map((r) => ({ topic: r.topic, partition: 0, offset: '0' })));
        }, ACK_MS);
      }),
  };
}

const request = { sourceIp: '192.0.2.10', forwardedFor: undefined, requestId: 'r-1', method: 'GET', path: '/', correlationId: 'c-1' };

describe('GET / with a producer slow to acknowledge', () => {
  it('reports in http_response the time to produce the answer, the send of http_request included', async () => {
    // Prepare
    const producer = slowProducer();
    const getTime = createTimeUseCase({ config, logger: createLogger(config), producer: () => producer, source: 'test' });
    // Act
    const started = performance.now();
    const answer = await getTime(request);
    const elapsed = performance.now() - started;
    // Assess
    expect(answer.statusCode).toBe(200);
    const response = producer.sent.find((r) => r.topic === 'events');
    const data = (JSON.parse(String(response?.value)) as { data: { response_time_ms: number } }).data;
    expect(data.response_time_ms).toBeGreaterThanOrEqual(ACK_MS - 1);
    expect(data.response_time_ms).toBeLessThanOrEqual(elapsed);
    expect(producer.sent.map((r) => r.topic)).toEqual(['requests', 'events']);
  });
});
