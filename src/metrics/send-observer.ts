/**
 * The one definition of what a send records, for every function that produces:
 * - `kafka_messages_sent_total{topic,status}`: every record, once, when its send settled:
 *   `success` once the broker acknowledged it, `error` when it was refused or not
 *   acknowledged in time (it may still have been written; see KafkaUnavailableError);
 * - `kafka_message_size_bytes{topic}`: the size (key, value and headers) of each record
 *   the broker acknowledged, i.e. of what was sent.
 */
import type { MetricInstances } from './registry';

export interface SendOutcome {
  topic: string;
  status: 'success' | 'error';
  /** The record's size: key, value and headers. */
  bytes: number;
}

export function sendObserver(
  metrics: Pick<MetricInstances, 'kafkaMessagesSent' | 'kafkaMessageSize'>,
): (outcome: SendOutcome) => void {
  return ({ topic, status, bytes }) => {
    metrics.kafkaMessagesSent.inc({ topic, status });
    if (status === 'success') metrics.kafkaMessageSize.observe({ topic }, bytes);
  };
}
