/**
 * Model-based property test of the fleet's counters: container processes count, push
 * (successfully, failing before the Pushgateway saw it, or failing after it applied it),
 * idle for any time, restart in the same execution environment; the metrics function
 * folds every group older than the maximum age into the retired totals. After every step:
 * the total GET /metrics would show never goes down and never exceeds what was counted.
 *
 * The pushers are the real ones (src/metrics/push.ts); the Pushgateway and the fold are a
 * model of their contract (PUT replaces a group, the fold adds a stale group to the
 * retired totals and deletes it), which test/integration/metrics-fleet.test.ts checks
 * against the real Pushgateway.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../../src/metrics/registry';
import { createMetricsPusher } from '../../../src/metrics/push';
import type { MetricsPusher } from '../../../src/metrics';
import type { PushSender } from '../../../src/metrics/push';

const MAX_AGE_SECONDS = 900;
const REQUEST = { route: '/', method: 'GET', status: '200' } as const;
type Mode = 'ok' | 'lost' | 'applied-then-failed';

class World {
  clockMs = 0;
  groups = new Map<string, { requests: number; pushedMs: number }>();
  retired = 0;
  counted = 0;
  lastTotal = 0;
  mode: Mode = 'ok';
  processes: Array<{ metrics: ReturnType<typeof createMetrics>; pusher: MetricsPusher }> = [];

  readonly send: PushSender = ({ grouping, body }) => {
    const line = body.split('\n').find((l) => l.startsWith('http_requests_total{'));
    const requests = Number(line?.split(' ').pop() ?? 0);
    if (this.mode !== 'lost') this.groups.set(JSON.stringify(grouping), { requests, pushedMs: this.clockMs });
    return this.mode === 'ok' ? Promise.resolve() : Promise.reject(new Error('socket hang up'));
  };

  start(index: number): void {
    const metrics = createMetrics();
    const pusher = createMetricsPusher({
      metrics,
      url: 'http://pushgateway.invalid',
      grouping: { job: 'svc', stage: 'dev', function: 'http', instance: `env-${index}` },
      timeoutMs: 300,
      intervalMs: 0,
      groupMaxAgeSeconds: MAX_AGE_SECONDS,
      now: () => this.clockMs,
      send: this.send,
    });
    this.processes[index] = { metrics, pusher };
  }

  total(): number {
    let sum = this.retired;
    for (const g of this.groups.values()) sum += g.requests;
    return sum;
  }
}

type Cmd = fc.AsyncCommand<{ n: number }, World>;

const count = (p: number, n: number): Cmd => ({
  check: () => true,
  run: (_m, w) => {
    w.processes[p]?.metrics.httpRequests.inc(REQUEST, n);
    w.counted += n;
    return Promise.resolve();
  },
  toString: () => `count(${p}, ${n})`,
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

const advance = (seconds: number): Cmd => ({
  check: () => true,
  run: (_m, w) => {
    w.clockMs += seconds * 1000;
    return Promise.resolve();
  },
  toString: () => `advance(${seconds} s)`,
});

const fold = (): Cmd => ({
  check: () => true,
  run: (_m, w) => {
    for (const [key, g] of w.groups) {
      if (w.clockMs - g.pushedMs > MAX_AGE_SECONDS * 1000) {
        w.retired += g.requests;
        w.groups.delete(key);
      }
    }
    return Promise.resolve();
  },
  toString: () => 'fold()',
});

const restart = (p: number): Cmd => ({
  check: () => true,
  run: (_m, w) => {
    w.start(p);
    return Promise.resolve();
  },
  toString: () => `restart(${p})`,
});

describe('fleet counters (model)', () => {
  it('never go down and never count anything twice, whatever the pushes, idle gaps, failures, restarts and folds', async () => {
    const process = fc.integer({ min: 0, max: 1 });
    const commands = [
      fc.tuple(process, fc.integer({ min: 1, max: 50 })).map(([p, n]) => count(p, n)),
      fc.tuple(process, fc.constantFrom<Mode>('ok', 'ok', 'ok', 'lost', 'applied-then-failed')).map(([p, m]) => push(p, m)),
      fc.constantFrom(1, 10, 300, 839, 841, 901, 2000).map((s) => advance(s)),
      fc.constant(fold()),
      process.map((p) => restart(p)),
    ];
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { size: '+1' }), async (cmds) => {
        const world = new World();
        world.start(0);
        world.start(1);
        await fc.asyncModelRun(() => ({ model: { n: 0 }, real: world }), [...cmds].flatMap((c) => [c, checkAfter()]));
      }),
      { numRuns: 300 },
    );
  });
});

/** After every step: the total never goes down, and never exceeds what was counted. */
function checkAfter(): Cmd {
  return {
    check: () => true,
    run: (_m, w) => {
      const total = w.total();
      expect(total).toBeGreaterThanOrEqual(w.lastTotal);
      expect(total).toBeLessThanOrEqual(w.counted);
      w.lastTotal = total;
      return Promise.resolve();
    },
    toString: () => 'check',
  };
}
