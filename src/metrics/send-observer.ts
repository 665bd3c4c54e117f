/**
 * What a send records, for every function that produces (the producer calls it once per
 * record when its send settled):
 * - `kafka_messages_sent_total{topic,status}`: `success` once the broker acknowledged it,
 *   `error` when it was refused or not acknowledged in time (it may still have been written);
 * - `kafka_message_size_bytes{topic}`: the size (key, value and headers) of each record the
 *   broker acknowledged.
 */
import type { SendObserver } from '../kafka';
import type { MetricInstances } from './container-metrics';

export function sendObserver(metrics: Pick<MetricInstances, 'kafkaMessagesSent' | 'kafkaMessageSize'>): SendObserver {
  return ({ topic, status, bytes }) => {
    metrics.kafkaMessagesSent.inc({ topic, status });
    if (status === 'success') metrics.kafkaMessageSize.observe({ topic }, bytes);
  };
}
