/**
 * Plain Kafka records, free of Lambda and kafkajs types: what a consumer handler gets
 * after an MSK (or self-managed Kafka) event is decoded, and what a producer sends.
 */

/** One record as delivered to a consumer function. */
export interface ConsumedRecord {
  topic: string;
  partition: number;
  /** Offsets are 64-bit; kept as a decimal string so nothing is rounded. */
  offset: string;
  /** Broker timestamp in epoch milliseconds. */
  timestamp: number;
  timestampType: 'CREATE_TIME' | 'LOG_APPEND_TIME' | 'NO_TIMESTAMP_TYPE';
  key: Buffer | null;
  value: Buffer | null;
  /** Header values in arrival order; a header name may repeat. */
  headers: Array<{ name: string; value: Buffer }>;
}

/** One record to produce. */
export interface OutgoingRecord {
  topic: string;
  key: string | Buffer | null;
  value: string | Buffer | null;
  headers?: Record<string, string | Buffer>;
}

function bytesOf(value: string | Buffer | null): number {
  if (value === null) return 0;
  return typeof value === 'string' ? Buffer.byteLength(value) : value.length;
}

/** A record's size as sent: key, value, and each header's name and value, in bytes. */
export function recordBytes(record: OutgoingRecord): number {
  let bytes = bytesOf(record.key) + bytesOf(record.value);
  for (const [name, value] of Object.entries(record.headers ?? {})) bytes += Buffer.byteLength(name) + bytesOf(value);
  return bytes;
}

/** Where the broker put a record once it acknowledged it. */
export interface RecordAck {
  topic: string;
  partition: number;
  offset: string;
}

/**
 * What every producing part of the service depends on: send records, resolve only
 * after the broker acknowledged all of them (acks=all), or reject within `timeoutMs`.
 */
export interface RecordPublisher {
  send(records: OutgoingRecord[], options?: { timeoutMs?: number }): Promise<RecordAck[]>;
}
