/**
 * What GET /kafka/status reports about the cluster: whether the brokers answer, the
 * service's topics with their partition counts, and (through the same admin connection)
 * consumer-group lag.
 *
 * The route is public, so a caller must not be able to make the container churn broker
 * connections: the description is read at most once per `cacheMs` per container (callers
 * in between, and callers arriving while a read runs, share it), with one admin
 * connection, bounded as a whole by `timeoutMs`, and closed (awaited, bounded) before the
 * answer, so no socket is left open when Lambda freezes the container. A failed read is
 * kept for `cacheMs` too.
 */
import type { Kafka } from 'kafkajs';
import { adminOffsetReader } from './offsets';
import type { OffsetReader } from './offsets';
import { TimeoutError, errorMessage } from '../errors';
import { withTimeout } from '../timeout';
import { naming } from './permissions';

export interface ClusterStatus {
  reachable: boolean;
  brokers: string[];
  topics: Array<{ name: string; partitions: number | null }>;
  error?: string;
}

export interface StatusSnapshot<L> {
  cluster: ClusterStatus;
  /** What `lag` returned, or why it could not be read. */
  lag: L | { error: string };
  /** When it was read (epoch ms). */
  readAt: number;
}

const DISCONNECT_TIMEOUT_MS = 1000;

function bounded<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  return withTimeout(promise, timeoutMs, () => new TimeoutError(`no answer within ${timeoutMs} ms`));
}

export function createClusterStatusReader<L>(params: {
  kafka: () => Promise<Kafka>;
  topics: string[];
  /** Reads consumer lag on the same admin connection. */
  lag: (reader: OffsetReader) => Promise<L>;
  /** Bound on one whole read (connect, describe, lag). */
  timeoutMs: number;
  /** How long a read is reused. */
  cacheMs: number;
  now?: () => number;
}): { read(): Promise<StatusSnapshot<L>> } {
  const { topics, timeoutMs, cacheMs } = params;
  const now = params.now ?? Date.now;
  let last: StatusSnapshot<L> | undefined;
  let running: Promise<StatusSnapshot<L>> | undefined;

  async function readOnce(): Promise<StatusSnapshot<L>> {
    const started = now();
    const left = () => timeoutMs - (now() - started);
    const unreachable = (error: unknown): ClusterStatus => ({
      reachable: false,
      brokers: [],
      topics: topics.map((name) => ({ name, partitions: null })),
      error: errorMessage(error),
    });
    let kafka: Kafka;
    try {
      kafka = await bounded(params.kafka(), left());
    } catch (error) {
      return { cluster: unreachable(error), lag: { error: errorMessage(error) }, readAt: now() };
    }
    const admin = kafka.admin({ retry: { retries: 0 } });
    try {
      await bounded(admin.connect(), left());
      const description = await bounded(admin.describeCluster(), left());
      const existing = new Set(await bounded(admin.listTopics(), left()));
      const present = topics.filter((t) => existing.has(t));
      const describe = () => admin.fetchTopicMetadata({ topics: present });
      const needs = present.map((t) => ({ action: 'kafka-cluster:DescribeTopic', resource: `topic ${t}` }));
      const metadata = present.length > 0 ? await bounded(naming(needs, describe), left()) : { topics: [] };
      const partitions = new Map(metadata.topics.map((t) => [t.name, t.partitions.length]));
      const cluster: ClusterStatus = {
        reachable: true,
        brokers: description.brokers.map((b) => `${b.host}:${b.port}`),
        topics: topics.map((name) => ({ name, partitions: partitions.get(name) ?? null })),
      };
      const lag = await bounded(params.lag(adminOffsetReader(admin)), left()).catch((error: unknown) => ({ error: errorMessage(error) }));
      return { cluster, lag, readAt: now() };
    } catch (error) {
      return { cluster: unreachable(error), lag: { error: errorMessage(error) }, readAt: now() };
    } finally {
      await bounded(admin.disconnect(), DISCONNECT_TIMEOUT_MS).catch(() => undefined);
    }
  }

  return {
    read() {
      if (last && now() - last.readAt < cacheMs) return Promise.resolve(last);
      running ??= readOnce()
        .then((snapshot) => {
          last = snapshot;
          return snapshot;
        })
        .finally(() => {
          running = undefined;
        });
      return running;
    },
  };
}
