/**
 * Model-based property test of the fleet's counters: container processes count, push
 * (successfully, failing before the Pushgateway saw it, or failing after it applied it),
 * idle for any time (also frozen, when the monotonic clock may not move), restart in the
 * same execution environment; the metrics function
 * folds every group older than the maximum age into the retired totals, sometimes two
 * folds at once (one fold's write held on the way, as a slow network or a run retried past
 * its timeout does, while another fold runs). Requests go to more routes than the fleet's
 * cap keeps, so some are summed as "other", and the Pushgateway lists its groups in a
 * new order on every read. After every step: no series GET /metrics shows ever goes down
 * (nor comes back lower after it ended), and the total never exceeds what was counted.
 *
 * The pushers, the fold and the read are the real ones (src/fleet-metrics/src/push.ts, fleet.ts);
 * the Pushgateway is src/fleet-metrics/test/fake-pushgateway.ts, whose contract
 * test/integration/metrics-fleet.test.ts checks against the real one.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { foldStaleGroups, readFleet } from '../../../src/metrics/fleet';
import type { FleetScope } from '@simple-time-service/fleet-metrics';
import { createMetrics } from '../../../src/metrics/container-metrics';
import { createMetricsPusher } from '@simple-time-service/fleet-metrics';
import type { MetricsPusher } from '../../../src/metrics';
import type { PushSender } from '@simple-time-service/fleet-metrics';
import { FakePushgateway } from '../../../src/fleet-metrics/test/fake-pushgateway';

const MAX_AGE_SECONDS = 900;
const ROUTES = ['/a', '/b', '/c'];
/** The fleet's cap of distinct routes: fewer than there are. */
const FLEET_MAX_LABEL_VALUES = 2;
/** Two containers of the http function and one of another function. */
const FUNCTIONS = ['http', 'http', 'onError'];
type Mode = 'ok' | 'lost' | 'applied-then-failed';

class World {
  /** The wall clock (the Pushgateway's, the fold's and the containers'). */
  clockMs = 0;
  /** The containers' monotonic clock: it does not move while they are frozen. */
  monotonicMs = 0;
  readonly pushgateway: FakePushgateway;
  readonly scope: FleetScope;
  counted = 0;
  /** Every series GET /metrics showed, with its last value. */
  seen = new Map<string, number>();
  mode: Mode = 'ok';
  processes: Array<{ metrics: ReturnType<typeof createMetrics>; pusher: MetricsPusher }> = [];
  /** Folds whose write is held on the way. */
  pending: Array<Promise<unknown>> = [];

  constructor(seed: number) {
    this.pushgateway = new FakePushgateway(() => this.clockMs / 1000, seed);
    this.scope = {
      url: 'http://pushgateway.invalid',
      timeoutMs: 1000,
      job: 'svc',
      stage: 'dev',
      maxLabelValues: FLEET_MAX_LABEL_VALUES,
      api: this.pushgateway,
    };
  }

  readonly send: PushSender = ({ grouping, body }) => {
    if (this.mode !== 'lost') this.pushgateway.pushText({ ...grouping }, body);
    return this.mode === 'ok' ? Promise.resolve() : Promise.reject(new Error('socket hang up'));
  };

  start(index: number): void {
    const metrics = createMetrics();
    const pusher = createMetricsPusher({
      metrics,
      url: 'http://pushgateway.invalid',
      grouping: { job: 'svc', stage: 'dev', function: FUNCTIONS[index] ?? 'http', instance: `env-${index}` },
      timeoutMs: 300,
      intervalMs: 0,
      groupMaxAgeSeconds: MAX_AGE_SECONDS,
      now: () => this.monotonicMs,
      wallNow: () => this.clockMs,
      send: this.send,
    });
    this.processes[index] = { metrics, pusher };
  }

  fold(): Promise<unknown> {
    return foldStaleGroups({ ...this.scope, maxAgeSeconds: MAX_AGE_SECONDS, nowSeconds: this.clockMs / 1000 });
  }

  /** What GET /metrics shows of http_requests_total, by series. */
  async requests(): Promise<Map<string, number>> {
    const read = await readFleet(this.scope);
    const series = new Map<string, number>();
    for (const s of read.families.find((f) => f.name === 'http_requests_total')?.series ?? [])
      series.set(JSON.stringify(s.labels), s.value ?? 0);
    return series;
  }
}

type Cmd = fc.AsyncCommand<{ n: number }, World>;

const count = (p: number, n: number, route = '/a'): Cmd => ({
  check: () => true,
  run: (_m, w) => {
    w.processes[p]?.metrics.httpRequests.inc({ route, method: 'GET', status: '200' }, n);
    w.counted += n;
    return Promise.resolve();
  },
  toString: () => `count(${p}, ${n}, ${route})`,
});

const push = (p: number, mode: Mode): Cmd => ({
  check: () => true,
  run: async (_m, w) => {
    w.mode = mode;
    await w.processes[p]?.pusher.push();
    w.mode = 'ok';
  },
  toString: () => `push(${p}, ${mode})`,
});

const advance = (seconds: number, frozen = false): Cmd => ({
  check: () => true,
  run: (_m, w) => {
    w.clockMs += seconds * 1000;
    if (!frozen) w.monotonicMs += seconds * 1000;
    return Promise.resolve();
  },
  toString: () => `advance(${seconds} s${frozen ? ', frozen' : ''})`,
});

const fold = (): Cmd => ({
  check: () => true,
  run: async (_m, w) => {
    await w.fold();
  },
  toString: () => 'fold()',
});

/** A fold that runs until its write of the retired totals is on the way, and is held there. */
const foldHeld = (): Cmd => ({
  check: () => true,
  run: async (_m, w) => {
    const before = w.pushgateway.heldPuts;
    w.pushgateway.hold();
    let settled = false;
    const run = w.fold().finally(() => {
      settled = true;
    });
    w.pending.push(run);
    for (let i = 0; i < 1000 && !settled && w.pushgateway.heldPuts === before; i++) await new Promise((resolve) => setImmediate(resolve));
    w.pushgateway.hold(false);
  },
  toString: () => 'foldHeld()',
});

/** The held writes land; the folds that sent them finish. */
const release = (): Cmd => ({
  check: () => true,
  run: async (_m, w) => {
    w.pushgateway.release();
    await Promise.all(w.pending.splice(0));
  },
  toString: () => 'release()',
});

const restart = (p: number): Cmd => ({
  check: () => true,
  run: (_m, w) => {
    w.start(p);
    return Promise.resolve();
  },
  toString: () => `restart(${p})`,
});

/** After every step: no series goes down or comes back lower, and the total never exceeds what was counted. */
const checkAfter = (): Cmd => ({
  check: () => true,
  run: async (_m, w) => {
    const requests = await w.requests();
    for (const [series, value] of requests) {
      expect(value, series).toBeGreaterThanOrEqual(w.seen.get(series) ?? 0);
      w.seen.set(series, value);
    }
    expect([...requests.values()].reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(w.counted);
  },
  toString: () => 'check',
});

async function runModel(cmds: Iterable<Cmd>, seed: number): Promise<void> {
  const world = new World(seed);
  FUNCTIONS.forEach((_, i) => world.start(i));
  const steps = [...cmds, release()].flatMap((c) => [c, checkAfter()]);
  await fc.asyncModelRun(() => ({ model: { n: 0 }, real: world }), steps);
}

describe('fleet counters (model)', () => {
  it('never go down and never count anything twice, whatever the pushes, idle gaps, failures, restarts and folds, two folds at once included', async () => {
    const process = fc.integer({ min: 0, max: FUNCTIONS.length - 1 });
    const commands = [
      fc.tuple(process, fc.integer({ min: 1, max: 50 }), fc.constantFrom(...ROUTES)).map(([p, n, route]) => count(p, n, route)),
      fc.tuple(process, fc.constantFrom<Mode>('ok', 'ok', 'ok', 'lost', 'applied-then-failed')).map(([p, m]) => push(p, m)),
      fc.tuple(fc.constantFrom(1, 10, 300, 839, 841, 901, 2000), fc.boolean()).map(([s, frozen]) => advance(s, frozen)),
      fc.constant(fold()),
      fc.constant(foldHeld()),
      fc.constant(release()),
      process.map((p) => restart(p)),
    ];
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { size: '+1' }), fc.integer({ min: 1, max: 2 ** 31 - 1 }), (cmds, seed) =>
        runModel(cmds, seed),
      ),
      { numRuns: 200 },
    );
  }, 300_000);

  it('two folds at once: one whose write of the retired totals lands after the other fold finished loses nothing', async () => {
    // Prepare: container groups of 5 and 7 requests, pushed 100 s apart
    await runModel(
      [
        count(0, 5),
        push(0, 'ok'),
        advance(100),
        count(1, 7),
        push(1, 'ok'),
        // Act: fold A sees only the first group stale, and its write is held on the way;
        // fold B, later, folds both and deletes them; then A's write lands.
        advance(MAX_AGE_SECONDS - 50),
        foldHeld(),
        advance(100),
        fold(),
        release(),
      ],
      1,
    );
    // Assess: every step's check held (the total stayed 12)
  });

  it('a read does not depend on the order the Pushgateway lists its groups: no series goes down from one read to the next', async () => {
    // Prepare: two functions' retired totals holding three routes between them (the fleet
    // keeps two), and a live container of the first function with the third route
    await runModel(
      [
        count(0, 1, '/a'),
        count(0, 1, '/b'),
        push(0, 'ok'),
        count(2, 1, '/c'),
        push(2, 'ok'),
        advance(MAX_AGE_SECONDS + 1),
        fold(),
        count(1, 5, '/c'),
        push(1, 'ok'),
        // Act: read again and again (each read lists the groups in a new order)
        ...Array.from({ length: 10 }, () => advance(1)),
      ],
      7,
    );
    // Assess: every step's check held
  });
});
