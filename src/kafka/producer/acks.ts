/**
 * Records to kafkajs messages, and kafkajs' answer back to one acknowledgement per record.
 */
import { Partitioners } from 'kafkajs';
import type { ICustomPartitioner, Message, RecordMetadata } from 'kafkajs';
import type { OutgoingRecord, RecordAck } from '../records';

export function toMessage(record: OutgoingRecord): Message {
  const message: Message = { key: record.key, value: record.value };
  if (record.headers) message.headers = record.headers;
  return message;
}

/** The partition kafkajs' default partitioner chose for each message it was given (weakly held). */
const chosenPartition = new WeakMap<Message, number>();

/** kafkajs' default partitioner, telling `chosenPartition` what it chose. */
export const recordingPartitioner: ICustomPartitioner = () => {
  const partition = Partitioners.DefaultPartitioner();
  return (args) => {
    const chosen = partition(args);
    chosenPartition.set(args.message, chosen);
    return chosen;
  };
};

/**
 * One acknowledgement per record, in the order sent. kafkajs answers a request with one
 * entry per topic-partition (the offset of its first record) and keeps each partition's
 * records in the order given, so a record's offset is its partition's base offset plus
 * the records of that partition before it. A record whose partition is not known (a key-less
 * record moved to another partition by a retry of only part of the request) gets offset -1.
 */
export function toAcks(sent: ReadonlyArray<{ topic: string; message: Message }>, metadata: RecordMetadata[]): RecordAck[] {
  const next = new Map<string, bigint>();
  for (const m of metadata) if (m.baseOffset !== undefined) next.set(`${m.topicName}\u0000${m.partition}`, BigInt(m.baseOffset));
  return sent.map(({ topic, message }) => {
    const partition = chosenPartition.get(message);
    const key = `${topic}\u0000${partition}`;
    const offset = partition === undefined ? undefined : next.get(key);
    if (partition === undefined || offset === undefined || offset < 0n) return { topic, partition: partition ?? -1, offset: '-1' };
    next.set(key, offset + 1n);
    return { topic, partition, offset: String(offset) };
  });
}
