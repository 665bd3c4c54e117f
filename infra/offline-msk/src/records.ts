/** Plain Kafka records and partitions, free of kafkajs and Lambda types. */

/** One record as read from the broker. */
export interface ConsumedRecord {
  topic: string;
  partition: number;
  /** Offsets are 64-bit; kept as a decimal string so nothing is rounded. */
  offset: string;
  /** Broker timestamp in epoch milliseconds (-1 when the record has none). */
  timestamp: number;
  timestampType: 'CREATE_TIME' | 'LOG_APPEND_TIME' | 'NO_TIMESTAMP_TYPE';
  key: Buffer | null;
  value: Buffer | null;
  /** Header values in arrival order; a header name may repeat. */
  headers: Array<{ name: string; value: Buffer }>;
}

export interface TopicPartition {
  topic: string;
  partition: number;
}

/** The key AWS uses for one partition in events and partial batch responses: `<topic>-<partition>`. */
export function partitionKey(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}
