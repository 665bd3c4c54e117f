/**
 * A simulated Kafka cluster behind a structural fake of the kafkajs client, for the
 * container producer's unit and model tests (fake timers drive it). It keeps the truth a
 * test checks the producer against: when the broker was down, which producer instances
 * are broken, which the producer disconnected, and every send each instance saw.
 *
 * Behaviour, pessimistic where kafkajs is (kafkajs #907 and #919):
 * - connect: after `connectLatencyMs` while the broker is up; refused (ECONNREFUSED)
 *   while it is down, and an instance whose connect failed is broken.
 * - sendBatch on a healthy instance: acknowledged `ackLatencyMs` after the previous
 *   request of that instance completed (one request in flight per connection, as
 *   maxInFlightRequests: 1).
 * - a broker drop breaks every instance connected at that moment, for good: a restarted
 *   broker does not revive them. Their requests in flight, and every later one, either
 *   fail with a connection error (`reject`) or never answer (`hang`, the ETIMEDOUT case).
 * - disconnecting an instance leaves its requests in flight to finish (or hang), as
 *   kafkajs does; a later request fails with kafkajs' own "The producer is disconnected".
 */
import { KafkaJSConnectionError, KafkaJSError } from 'kafkajs';
import type { ICustomPartitioner, Kafka, Message, ProducerConfig, RecordMetadata } from 'kafkajs';

export type DropMode = 'reject' | 'hang';

export interface FakeRequest {
  /** The record values of the request (a test puts a send id there). */
  values: string[];
  sentAt: number;
  settledAt?: number;
  outcome?: 'acked' | 'failed';
}

export interface FakeInstance {
  id: number;
  createdAt: number;
  connected: boolean;
  /** Broken by a broker drop or a failed connect: it will never work again. */
  broken: boolean;
  /** How a broken instance answers requests: a connection error, or never. */
  failure: DropMode;
  /** When the producer disconnected it (discarded it, or shut down). */
  disconnectedAt: number | undefined;
  requests: FakeRequest[];
}

interface Pending {
  request: FakeRequest;
  timer: NodeJS.Timeout | undefined;
  resolve: (metadata: RecordMetadata[]) => void;
  reject: (error: Error) => void;
}

export class FakeCluster {
  up = true;
  ackLatencyMs: number;
  connectLatencyMs: number;
  dropMode: DropMode = 'reject';
  readonly instances: FakeInstance[] = [];
  /** Closed intervals of downtime; the last one is open (`to` undefined) while down. */
  readonly downtimes: Array<{ from: number; to: number | undefined }> = [];
  private readonly pending = new Map<FakeInstance, Set<Pending>>();
  private readonly queueFreeAt = new Map<FakeInstance, number>();
  /** `topic:partition` to the messages written there, in order. */
  readonly logs = new Map<string, Message[]>();

  constructor(options: { ackLatencyMs?: number; connectLatencyMs?: number } = {}) {
    this.ackLatencyMs = options.ackLatencyMs ?? 5;
    this.connectLatencyMs = options.connectLatencyMs ?? 5;
  }

  /** The broker goes away: every connected instance breaks. */
  drop(mode: DropMode): void {
    if (!this.up) return;
    this.up = false;
    this.dropMode = mode;
    this.downtimes.push({ from: Date.now(), to: undefined });
    for (const instance of this.instances) {
      if (instance.disconnectedAt !== undefined) continue;
      instance.broken = true;
      instance.failure = mode;
      for (const p of this.pending.get(instance) ?? []) {
        clearTimeout(p.timer);
        p.timer = undefined;
        if (mode === 'reject') this.fail(instance, p, connectionError());
        // hang: the request never answers (until the instance is disconnected)
      }
    }
  }

  restart(): void {
    if (this.up) return;
    this.up = true;
    const last = this.downtimes[this.downtimes.length - 1];
    if (last) last.to = Date.now();
  }

  /** Whether the broker was down at any moment in [from, to]. */
  downDuring(from: number, to: number): boolean {
    return this.downtimes.some((d) => d.from <= to && (d.to === undefined || d.to >= from));
  }

  kafka(): Kafka {
    // A structural fake: only what the producer calls.
    return { producer: (config?: ProducerConfig) => this.newProducer(config?.createPartitioner) } as unknown as Kafka;
  }

  /**
   * Writes the messages as kafkajs does: each to the partition the producer's partitioner
   * chooses (partition 0 without one), answered with one entry per topic-partition whose
   * baseOffset is the offset of its first message.
   */
  private append(
    topicMessages: Array<{ topic: string; messages: Message[] }>,
    partitioner: ReturnType<ICustomPartitioner> | undefined,
  ): RecordMetadata[] {
    const partitionMetadata = Array.from({ length: FAKE_PARTITIONS }, (_, partitionId) => ({
      partitionErrorCode: 0,
      partitionId,
      leader: 0,
      replicas: [0],
      isr: [0],
    }));
    const answer = new Map<string, RecordMetadata>();
    for (const { topic, messages } of topicMessages) {
      for (const message of messages) {
        const partition = partitioner ? partitioner({ topic, partitionMetadata, message }) : 0;
        const key = `${topic}:${partition}`;
        const log = this.logs.get(key) ?? [];
        if (!answer.has(key)) answer.set(key, { topicName: topic, partition, errorCode: 0, baseOffset: String(log.length) });
        log.push(message);
        this.logs.set(key, log);
      }
    }
    return [...answer.values()];
  }

  private fail(instance: FakeInstance, p: Pending, error: Error): void {
    this.pending.get(instance)?.delete(p);
    p.request.settledAt = Date.now();
    p.request.outcome = 'failed';
    p.reject(error);
  }

  private newProducer(createPartitioner: ICustomPartitioner | undefined) {
    const partitioner = createPartitioner?.();
    const instance: FakeInstance = {
      id: this.instances.length + 1,
      createdAt: Date.now(),
      connected: false,
      broken: false,
      failure: 'reject',
      disconnectedAt: undefined,
      requests: [],
    };
    this.instances.push(instance);
    this.pending.set(instance, new Set());
    return {
      connect: () =>
        new Promise<void>((resolve, reject) => {
          if (!this.up) {
            instance.broken = true;
            setTimeout(() => reject(connectionError()), 1);
            return;
          }
          setTimeout(() => {
            if (!this.up || instance.broken) {
              instance.broken = true;
              reject(connectionError());
              return;
            }
            instance.connected = true;
            resolve();
          }, this.connectLatencyMs);
        }),
      // As kafkajs: requests in flight are left to finish (or to hang), later ones are refused.
      disconnect: () => {
        instance.disconnectedAt ??= Date.now();
        return Promise.resolve();
      },
      sendBatch: (batch: { topicMessages: Array<{ topic: string; messages: Message[] }> }) =>
        new Promise<RecordMetadata[]>((resolve, reject) => {
          const values = batch.topicMessages.flatMap((t) => t.messages.map((m) => String(m.value)));
          const request: FakeRequest = { values, sentAt: Date.now() };
          instance.requests.push(request);
          const p: Pending = { request, timer: undefined, resolve, reject };
          this.pending.get(instance)?.add(p);
          if (instance.disconnectedAt !== undefined) {
            this.fail(instance, p, new KafkaJSError('The producer is disconnected'));
            return;
          }
          if (!instance.connected || instance.broken || !this.up) {
            if (!instance.broken) {
              instance.broken = true;
              instance.failure = this.dropMode;
            }
            if (instance.failure === 'reject') p.timer = setTimeout(() => this.fail(instance, p, connectionError()), 1);
            return; // hang
          }
          const start = Math.max(Date.now(), this.queueFreeAt.get(instance) ?? 0);
          const done = start + this.ackLatencyMs;
          this.queueFreeAt.set(instance, done);
          p.timer = setTimeout(() => {
            this.pending.get(instance)?.delete(p);
            request.settledAt = Date.now();
            request.outcome = 'acked';
            resolve(this.append(batch.topicMessages, partitioner));
          }, done - Date.now());
        }),
    };
  }
}

export const FAKE_PARTITIONS = 3;

function connectionError(): Error {
  return new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092', { code: 'ECONNREFUSED' });
}
