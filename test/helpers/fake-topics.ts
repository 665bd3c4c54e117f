/**
 * Topics behind a RecordPublisher, for the consumers' unit and model tests (fake timers
 * drive it): every request a consumer makes, what of it landed in which partition's log,
 * and whether it was acknowledged.
 *
 * As the container producer over kafkajs: one `send` is one produce request, acknowledged
 * `ackLatencyMs` later, or failing once the caller's deadline (`timeoutMs`, else
 * `sendTimeoutMs`) passes. The records of one destination partition land together (one
 * record batch), in the order given. Faults, armed one per coming request:
 * - `refuse`: nothing is written; the send fails as not sent;
 * - `partial`: the batches of the first `partitions` destination partitions of the request
 *   land, then the send fails: the caller cannot know which;
 * - `hang`: no answer; the caller's deadline ends its wait, and the records land then.
 */
import { KafkaUnavailableError } from '../../src/kafka/errors';
import type { OutgoingRecord, RecordAck, RecordPublisher } from '../../src/kafka/records';

export type SendFault = { kind: 'refuse' } | { kind: 'partial'; partitions: number } | { kind: 'hang' };

export interface FakeRequest {
  records: OutgoingRecord[];
  sentAt: number;
  settledAt: number | undefined;
  outcome: 'acked' | 'failed' | undefined;
  fault: SendFault | undefined;
}

export interface LoggedRecord {
  record: OutgoingRecord;
  request: FakeRequest;
  offset: number;
}

export class FakeTopics implements RecordPublisher {
  ackLatencyMs = 2;
  readonly requests: FakeRequest[] = [];
  /** `topic-partition` to the records that landed there, in order. */
  readonly logs = new Map<string, LoggedRecord[]>();
  private readonly faults: SendFault[] = [];

  constructor(
    readonly partitions = 3,
    readonly sendTimeoutMs = 1000,
  ) {}

  /** The next request (after those already armed) fails this way. */
  arm(fault: SendFault): void {
    this.faults.push(fault);
  }

  disarm(): void {
    this.faults.length = 0;
  }

  partitionOf(record: OutgoingRecord): number {
    if (record.key === null) return 0;
    let hash = 0;
    for (const byte of Buffer.from(record.key)) hash = (hash * 31 + byte) >>> 0;
    return hash % this.partitions;
  }

  /** Every record that landed, in every partition. */
  landed(): LoggedRecord[] {
    return [...this.logs.values()].flat();
  }

  send(records: OutgoingRecord[], options: { timeoutMs?: number } = {}): Promise<RecordAck[]> {
    const request: FakeRequest = { records, sentAt: Date.now(), settledAt: undefined, outcome: undefined, fault: this.faults.shift() };
    this.requests.push(request);
    const deadline = options.timeoutMs ?? this.sendTimeoutMs;
    return new Promise<RecordAck[]>((resolve, reject) => {
      const fail = (message: string, outcome: 'not_sent' | 'unknown') => {
        request.settledAt = Date.now();
        request.outcome = 'failed';
        reject(new KafkaUnavailableError(message, { outcome }));
      };
      const { fault } = request;
      if (fault?.kind === 'hang' || (!fault && this.ackLatencyMs > deadline)) {
        setTimeout(() => {
          fail(`no acknowledgement within ${deadline} ms`, 'unknown');
          this.write(request, Number.POSITIVE_INFINITY);
        }, deadline);
        return;
      }
      setTimeout(() => {
        if (fault?.kind === 'refuse') return fail('the broker refused the request', 'not_sent');
        if (fault?.kind === 'partial') {
          this.write(request, fault.partitions);
          return fail('the connection closed before the answer', 'unknown');
        }
        const acks = this.write(request, Number.POSITIVE_INFINITY);
        request.settledAt = Date.now();
        request.outcome = 'acked';
        resolve(acks);
      }, this.ackLatencyMs);
    });
  }

  /** Lands the batches of the request's first `partitions` destination partitions; one ack per record written. */
  private write(request: FakeRequest, partitions: number): RecordAck[] {
    const order: string[] = [];
    for (const r of request.records) {
      const where = `${r.topic}-${this.partitionOf(r)}`;
      if (!order.includes(where)) order.push(where);
    }
    const chosen = new Set(order.slice(0, partitions));
    const acks: RecordAck[] = [];
    for (const record of request.records) {
      const partition = this.partitionOf(record);
      const where = `${record.topic}-${partition}`;
      if (!chosen.has(where)) continue;
      const log = this.logs.get(where) ?? [];
      log.push({ record, request, offset: log.length });
      this.logs.set(where, log);
      acks.push({ topic: record.topic, partition, offset: String(log.length - 1) });
    }
    return acks;
  }
}
