/**
 * Model-based property test of the container producer (src/kafka/producer/) against a
 * simulated cluster (./fake-cluster.ts) on fake timers. fast-check generates interleavings
 * of sends (with and without a caller's own deadline), slow acknowledgements, slow
 * connections (discovery and handshakes longer than a send's deadline), broker drops
 * (requests failing or hanging) and restarts, and the passing of time; after every step:
 *
 * 1. every send settles within its bound: the caller's deadline (else KAFKA_SEND_TIMEOUT_MS),
 *    plus, when no connection was ready as it was made, the connection's own budget
 *    (KAFKA_CONNECT_TIMEOUT_MS and its margin), which may be longer than a send's;
 * 2. no send is refused ("not sent") while the broker is healthy: up while the send is
 *    pending, and not down at any moment of the back-off plus connect bound before it;
 * 3. no healthy producer is discarded: every producer instance the container producer
 *    disconnected was broken (by a drop, or a connect that failed);
 * 4. a send the broker acknowledged within its deadline succeeded, and a send that
 *    succeeded was acknowledged by the broker;
 * 5. a send made while the broker is healthy reaches the broker before its deadline.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { KafkaUnavailableError } from '../../../src/kafka/errors';
import { createContainerProducer } from '../../../src/kafka';
import type { ContainerProducer } from '../../../src/kafka';
import { FakeCluster } from '../../helpers/fake-cluster';
import type { DropMode } from '../../helpers/fake-cluster';

const SEND_TIMEOUT_MS = 1000;
// Longer than a send's: a connection (discovery, TLS, authentication) may take longer than a send.
const CONNECT_TIMEOUT_MS = 2500;
const BACKOFF_MS = 1000;
/** The longest a connect may take before the producer gives up on it (its own bound). */
const CONNECT_BOUND_MS = CONNECT_TIMEOUT_MS + 500;
const HEALTHY_WINDOW_MS = BACKOFF_MS + CONNECT_BOUND_MS;

interface SendRecord {
  id: string;
  issuedAt: number;
  bound: number;
  settledAt?: number;
  ok?: boolean;
  error?: unknown;
}

interface Real {
  cluster: FakeCluster;
  producer: ContainerProducer;
  sends: SendRecord[];
}

interface Model {
  up: boolean;
}

function healthyAt(cluster: FakeCluster, t: number): boolean {
  return !cluster.downDuring(t - HEALTHY_WINDOW_MS, t);
}

function requestOf(cluster: FakeCluster, id: string) {
  for (const instance of cluster.instances) {
    const request = instance.requests.find((r) => r.values.includes(id));
    if (request) return { instance, request };
  }
  return undefined;
}

function checkInvariants(real: Real): void {
  const now = Date.now();
  const { cluster } = real;
  for (const s of real.sends) {
    const what = `send ${s.id} issued at ${s.issuedAt} with bound ${s.bound} (now ${now})`;
    // 1. settles within its bound
    if (s.settledAt !== undefined) expect(s.settledAt - s.issuedAt, what).toBeLessThanOrEqual(s.bound);
    if (now >= s.issuedAt + s.bound) expect(s.settledAt, `${what} has not settled`).toBeDefined();
    if (s.settledAt === undefined) continue;
    const seen = requestOf(cluster, s.id);
    // 2. never refused while the broker is healthy
    if (s.error instanceof KafkaUnavailableError && s.error.outcome === 'not_sent') {
      const healthyThroughout = healthyAt(cluster, s.issuedAt) && !cluster.downDuring(s.issuedAt, s.settledAt);
      expect(healthyThroughout, `${what} was not sent (${s.error.message}) while the broker was healthy`).toBe(false);
    }
    // 4. acknowledged in time <=> succeeded
    if (s.ok) expect(seen?.request.outcome, `${what} succeeded without an acknowledgement`).toBe('acked');
    if (
      seen?.request.outcome === 'acked' &&
      seen.request.settledAt !== undefined &&
      seen.request.settledAt - s.issuedAt <= s.bound &&
      seen.request.settledAt < s.settledAt
    ) {
      expect(s.ok, `${what} was acknowledged at ${seen.request.settledAt} yet failed: ${String(s.error)}`).toBe(true);
    }
    // 5. reaches the broker when the broker is healthy
    if (healthyAt(cluster, s.issuedAt) && now >= s.issuedAt + s.bound && !cluster.downDuring(s.issuedAt, s.issuedAt + s.bound)) {
      expect(seen, `${what} never reached the broker although it was healthy`).toBeDefined();
    }
  }
  // 3. only broken instances are discarded
  for (const instance of cluster.instances) {
    if (instance.disconnectedAt !== undefined) {
      expect(
        instance.broken,
        `instance ${instance.id} (created ${instance.createdAt}) was healthy yet disconnected at ${instance.disconnectedAt}`,
      ).toBe(true);
    }
  }
}

let sendCounter = 0;

class SendCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly deadline: number | undefined) {}
  check = () => true;
  async run(_m: Model, real: Real): Promise<void> {
    const id = `send-${++sendCounter}`;
    const connected = real.producer.state().status === 'connected';
    const s: SendRecord = { id, issuedAt: Date.now(), bound: (this.deadline ?? SEND_TIMEOUT_MS) + (connected ? 0 : CONNECT_BOUND_MS) };
    real.sends.push(s);
    const options = this.deadline === undefined ? {} : { timeoutMs: this.deadline };
    real.producer.send([{ topic: 't', key: null, value: id }], options).then(
      () => {
        s.settledAt = Date.now();
        s.ok = true;
      },
      (error: unknown) => {
        s.settledAt = Date.now();
        s.ok = false;
        s.error = error;
      },
    );
    await vi.advanceTimersByTimeAsync(0);
    checkInvariants(real);
  }
  toString = () => `send(${this.deadline ?? 'default'})`;
}

class AdvanceCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly ms: number) {}
  check = () => true;
  async run(_m: Model, real: Real): Promise<void> {
    // Every settlement and disconnect records its own time, so checking once after is exact.
    await vi.advanceTimersByTimeAsync(this.ms);
    checkInvariants(real);
  }
  toString = () => `advance(${this.ms})`;
}

class AckLatencyCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly ms: number) {}
  check = () => true;
  async run(_m: Model, real: Real): Promise<void> {
    real.cluster.ackLatencyMs = this.ms;
    await Promise.resolve();
  }
  toString = () => `ackLatency(${this.ms})`;
}

class ConnectLatencyCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly ms: number) {}
  check = () => true;
  async run(_m: Model, real: Real): Promise<void> {
    real.cluster.connectLatencyMs = this.ms;
    await Promise.resolve();
  }
  toString = () => `connectLatency(${this.ms})`;
}

class DropCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly mode: DropMode) {}
  check = (m: Readonly<Model>) => m.up;
  async run(m: Model, real: Real): Promise<void> {
    m.up = false;
    real.cluster.drop(this.mode);
    await vi.advanceTimersByTimeAsync(0);
    checkInvariants(real);
  }
  toString = () => `drop(${this.mode})`;
}

class RestartCommand implements fc.AsyncCommand<Model, Real> {
  check = (m: Readonly<Model>) => !m.up;
  async run(m: Model, real: Real): Promise<void> {
    m.up = true;
    real.cluster.restart();
    await vi.advanceTimersByTimeAsync(0);
    checkInvariants(real);
  }
  toString = () => 'restart';
}

const commands = [
  fc.oneof(fc.constant(undefined), fc.constant(300), fc.integer({ min: 50, max: 2000 })).map((d) => new SendCommand(d)),
  fc.integer({ min: 1, max: 1500 }).map((ms) => new AdvanceCommand(ms)),
  // Long enough for the broker to count as healthy again after a restart.
  fc.integer({ min: HEALTHY_WINDOW_MS, max: HEALTHY_WINDOW_MS + 2000 }).map((ms) => new AdvanceCommand(ms)),
  // A healthy broker acknowledges within the send timeout, sometimes slower than a short deadline.
  fc.integer({ min: 1, max: 900 }).map((ms) => new AckLatencyCommand(ms)),
  // A healthy broker's connection may take longer than a send's deadline, within its own budget.
  fc.integer({ min: 1, max: CONNECT_TIMEOUT_MS - 100 }).map((ms) => new ConnectLatencyCommand(ms)),
  fc.constantFrom<DropMode>('reject', 'hang').map((mode) => new DropCommand(mode)),
  fc.constant(new RestartCommand()),
];

describe('container producer (model-based)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('keeps its promises under any interleaving of sends, slow acks, drops, restarts and deadlines', async () => {
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: 60, size: 'large' }), async (cmds) => {
        vi.useFakeTimers({ now: 1_000_000 });
        const cluster = new FakeCluster({ ackLatencyMs: 5, connectLatencyMs: 5 });
        const producer = createContainerProducer({
          kafka: () => cluster.kafka(),
          sendTimeoutMs: SEND_TIMEOUT_MS,
          connectTimeoutMs: CONNECT_TIMEOUT_MS,
          backoffMs: BACKOFF_MS,
        });
        const real: Real = { cluster, producer, sends: [] };
        try {
          await fc.asyncModelRun(() => ({ model: { up: true }, real }), cmds);
          // Every send settles in the end, and the invariants still hold.
          await vi.advanceTimersByTimeAsync(CONNECT_BOUND_MS + SEND_TIMEOUT_MS * 3);
          checkInvariants(real);
          expect(real.sends.every((s) => s.settledAt !== undefined)).toBe(true);
        } finally {
          await producer.disconnect();
          vi.useRealTimers();
        }
      }),
      { numRuns: Number(process.env.PRODUCER_MODEL_RUNS ?? 1000) },
    );
  }, 600_000);
});
