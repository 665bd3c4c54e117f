import { describe, expect, it, vi } from 'vitest';
import { createMetrics } from '../../../src/metrics/container-metrics';
import { createMetricsPusher } from '@simple-time-service/fleet-metrics';
import type { PushSender } from '@simple-time-service/fleet-metrics';

const grouping = { job: 'svc', stage: 'dev', function: 'fn', instance: 'env-1' };

function setup(params: { send: PushSender; intervalMs: number; timeoutMs?: number }) {
  const metrics = createMetrics();
  let clock = 0;
  // The wall clock (milliseconds since the epoch); it moves with the monotonic clock unless a test says otherwise.
  let wall = 1_700_000_000_000;
  const warnings: Array<Record<string, unknown>> = [];
  const infos: string[] = [];
  const pusher = createMetricsPusher({
    metrics,
    url: 'http://pushgateway.invalid:9091',
    grouping,
    timeoutMs: params.timeoutMs ?? 300,
    intervalMs: params.intervalMs,
    now: () => clock,
    wallNow: () => wall,
    send: params.send,
    logger: {
      warn: (_message: string, extra?: unknown) => warnings.push(extra as Record<string, unknown>),
      info: (message: string) => infos.push(message),
    },
  });
  const outcomes = async () =>
    Object.fromEntries((await metrics.pushgatewayPushes.get()).values.map((v) => [String(v.labels.outcome), v.value] as const));
  return {
    pusher,
    metrics,
    warnings,
    infos,
    outcomes,
    advance: (ms: number) => {
      clock += ms;
      wall += ms;
    },
    /** Time the monotonic clock does not see (a frozen container: performance.now() may stand still). */
    freeze: (ms: number) => (wall += ms),
    /** The wall clock set back (or forward) by `ms`, as NTP may. */
    stepWall: (ms: number) => (wall += ms),
  };
}

describe('createMetricsPusher', () => {
  it('pushes on the first invocation, then at most once per interval, with the grouping and the registry', async () => {
    // Prepare
    const pushes: Array<{ grouping: object; text: string }> = [];
    const send: PushSender = ({ body, grouping: g }) => {
      pushes.push({ grouping: { ...g }, text: body });
      return Promise.resolve();
    };
    const { pusher, metrics, advance } = setup({ send, intervalMs: 10_000 });
    // Act
    metrics.httpRequests.inc({ route: '/', method: 'GET', status: '200' });
    const first = await pusher.pushIfDue();
    advance(5000);
    const second = await pusher.pushIfDue();
    advance(5000);
    const third = await pusher.pushIfDue();
    // Assess
    expect([first, second, third]).toEqual(['success', 'skipped', 'success']);
    expect(pushes).toHaveLength(2);
    expect(pushes[0]?.grouping).toMatchObject(grouping);
    expect((pushes[0]?.grouping as { segment?: string }).segment).toMatch(/^[0-9a-f]{12}$/);
    expect(pushes[0]?.text).toContain('http_requests_total{method="GET",route="/",status="200"} 1');
    // The outcome of a push is counted, so it travels with the next one.
    expect(pushes[1]?.text).toContain('pushgateway_pushes_total{outcome="success"} 1');
  });

  it('pushes on every invocation with interval 0', async () => {
    // Prepare
    let sent = 0;
    const { pusher } = setup({ send: () => Promise.resolve(void sent++), intervalMs: 0 });
    // Act
    for (let i = 0; i < 5; i++) await pusher.pushIfDue();
    // Assess
    expect(sent).toBe(5);
  });

  it('never throws on failure: counts it, logs it once, and backs off before the next attempt', async () => {
    // Prepare
    let attempts = 0;
    const send: PushSender = () => {
      attempts += 1;
      return Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:9'));
    };
    const { pusher, warnings, outcomes, advance } = setup({ send, intervalMs: 0 });
    // Act
    const results = [];
    for (let i = 0; i < 10; i++) results.push(await pusher.pushIfDue());
    advance(1000);
    results.push(await pusher.pushIfDue());
    advance(1000);
    results.push(await pusher.pushIfDue()); // second failure: the back-off doubled to 2 s
    // Assess
    expect(results.filter((r) => r === 'error')).toHaveLength(2);
    expect(attempts).toBe(2);
    expect(await outcomes()).toEqual({ success: 0, error: 2, timeout: 0 });
    expect(warnings).toHaveLength(2);
    expect(warnings[1]).toMatchObject({ outcome: 'error', consecutive_failures: 2, next_attempt_in_ms: 2000 });
  });

  it('aborts a push that takes longer than the timeout and reports it as a timeout', async () => {
    // Prepare
    const send: PushSender = ({ signal }) =>
      new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('aborted'))));
    const { pusher, outcomes } = setup({ send, intervalMs: 0, timeoutMs: 20 });
    // Act
    const outcome = await pusher.push();
    // Assess
    expect(outcome).toBe('timeout');
    expect(await outcomes()).toEqual({ success: 0, error: 0, timeout: 1 });
  });

  it('caps the timeout at 300 ms whatever it is given', async () => {
    // Prepare
    let seen = 0;
    const send: PushSender = ({ timeoutMs }) => Promise.resolve(void (seen = timeoutMs));
    const { pusher } = setup({ send, intervalMs: 0, timeoutMs: 5000 });
    // Act
    await pusher.push();
    // Assess
    expect(seen).toBe(300);
  });

  it('logs the recovery after failures', async () => {
    // Prepare
    let fail = true;
    const send: PushSender = () => (fail ? Promise.reject(new Error('down')) : Promise.resolve());
    const { pusher, infos, advance } = setup({ send, intervalMs: 0 });
    // Act
    await pusher.pushIfDue();
    fail = false;
    advance(1000);
    const outcome = await pusher.pushIfDue();
    // Assess
    expect(outcome).toBe('success');
    expect(infos).toEqual(['metrics push recovered']);
  });

  it('shares one push between concurrent invocations', async () => {
    // Prepare
    let sent = 0;
    let release: () => void = () => undefined;
    const send: PushSender = () => {
      sent += 1;
      return new Promise((resolve) => (release = resolve));
    };
    const { pusher } = setup({ send, intervalMs: 0 });
    // Act
    const first = pusher.pushIfDue();
    const second = await pusher.pushIfDue();
    await new Promise((resolve) => setImmediate(resolve)); // the body is built before the send starts
    release();
    // Assess
    expect(await first).toBe('success');
    expect(second).toBe('skipped');
    expect(sent).toBe(1);
  });
});

describe('segments: a group is never overwritten with smaller counts nor pushed to after it may have been pruned', () => {
  const REQUEST = { route: '/', method: 'GET', status: '200' } as const;

  function recorder() {
    const pushes: Array<{ segment: string; requests: number }> = [];
    const send: PushSender = ({ body, grouping: g }) => {
      const line = body.split('\n').find((l) => l.startsWith('http_requests_total{'));
      pushes.push({ segment: g.segment, requests: Number(line?.split(' ').pop() ?? 0) });
      return Promise.resolve();
    };
    return { pushes, send };
  }

  it('a new process (a runtime restart in the same environment) pushes into a segment of its own', async () => {
    // Prepare
    const { pushes, send } = recorder();
    const first = setup({ send, intervalMs: 0 });
    const restarted = setup({ send, intervalMs: 0 });
    // Act
    first.metrics.httpRequests.inc(REQUEST, 100);
    await first.pusher.push();
    restarted.metrics.httpRequests.inc(REQUEST, 3);
    await restarted.pusher.push();
    // Assess
    expect(pushes[0]?.segment).not.toBe(pushes[1]?.segment);
    expect(first.pusher.grouping).toMatchObject(grouping);
  });

  it('keeps its segment while pushes are closer than the group age less a minute, then moves on with only the new counts', async () => {
    // Prepare
    const { pushes, send } = recorder();
    const { pusher, metrics, advance } = setup({ send, intervalMs: 0 });
    // Act
    metrics.httpRequests.inc(REQUEST, 100);
    await pusher.push();
    advance(839_000); // 900 s maximum age - 60 s margin - 1 s
    metrics.httpRequests.inc(REQUEST, 5);
    await pusher.push();
    advance(840_001);
    metrics.httpRequests.inc(REQUEST, 1);
    await pusher.push();
    metrics.httpRequests.inc(REQUEST, 2);
    await pusher.push();
    // Assess
    expect(pushes.map((p) => p.requests)).toEqual([100, 105, 1, 3]);
    expect(pushes[1]?.segment).toBe(pushes[0]?.segment);
    expect(pushes[2]?.segment).not.toBe(pushes[1]?.segment);
    expect(pushes[3]?.segment).toBe(pushes[2]?.segment);
  });

  it('starts a new segment after an idle gap only the wall clock saw (frozen, the monotonic clock stood still), so a thawed container never pushes into a folded group', async () => {
    // Prepare
    const { pushes, send } = recorder();
    const { pusher, metrics, freeze } = setup({ send, intervalMs: 0 });
    metrics.httpRequests.inc(REQUEST, 100);
    await pusher.push();
    // Act: frozen past the group's maximum age (folded meanwhile), then thawed and invoked
    freeze(901_000);
    metrics.httpRequests.inc(REQUEST, 1);
    await pusher.push();
    // Assess
    expect(pushes.map((p) => p.requests)).toEqual([100, 1]);
    expect(pushes[1]?.segment).not.toBe(pushes[0]?.segment);
  });

  it('a wall clock set back does not hide an idle gap the monotonic clock saw', async () => {
    // Prepare
    const { pushes, send } = recorder();
    const { pusher, metrics, advance, stepWall } = setup({ send, intervalMs: 0 });
    metrics.httpRequests.inc(REQUEST, 100);
    await pusher.push();
    // Act
    advance(901_000);
    stepWall(-3_600_000);
    metrics.httpRequests.inc(REQUEST, 1);
    await pusher.push();
    // Assess
    expect(pushes.map((p) => p.requests)).toEqual([100, 1]);
  });

  it('after a failed push and a long idle gap, the new segment starts after what the failed push carried (never counted twice)', async () => {
    // Prepare
    const { pushes, send } = recorder();
    let fail = false;
    const { pusher, metrics, advance } = setup({
      send: (push) => (fail ? Promise.reject(new Error('socket hang up')) : send(push)),
      intervalMs: 0,
    });
    // Act
    metrics.httpRequests.inc(REQUEST, 10);
    await pusher.push();
    fail = true;
    metrics.httpRequests.inc(REQUEST, 5);
    await pusher.push(); // may or may not have reached the group
    fail = false;
    advance(901_000);
    metrics.httpRequests.inc(REQUEST, 1);
    await pusher.push();
    // Assess
    expect(pushes.map((p) => p.requests)).toEqual([10, 1]);
  });
});

describe('createMetricsPusher between invocations', () => {
  it('pushes what the last invocations left once the interval is over, with one timer at a time, only where the runtime does not freeze', async () => {
    // Prepare
    const bodies: string[] = [];
    const send: PushSender = ({ body }) => {
      bodies.push(body);
      return Promise.resolve();
    };
    let clock = 0;
    const timers: Array<{ flush: () => void; ms: number }> = [];
    const make = (flushBetweenInvocations: boolean) => {
      const metrics = createMetrics();
      const pusher = createMetricsPusher({
        metrics,
        url: 'http://pushgateway.invalid:9091',
        grouping,
        timeoutMs: 300,
        intervalMs: 10_000,
        now: () => clock,
        send,
        flushBetweenInvocations,
        schedule: (flush, ms) => {
          timers.push({ flush, ms });
          return () => undefined;
        },
      });
      return { metrics, pusher };
    };
    const local = make(true);
    // Act: the first invocation pushes; two more within the interval are left unpushed
    local.metrics.httpRequests.inc({ route: '/', method: 'GET', status: '200' });
    await local.pusher.pushIfDue();
    clock = 1000;
    local.metrics.httpRequests.inc({ route: '/', method: 'GET', status: '200' });
    await local.pusher.pushIfDue();
    clock = 2000;
    local.metrics.httpRequests.inc({ route: '/', method: 'GET', status: '200' });
    await local.pusher.pushIfDue();
    // Assess: one timer, due when the interval is over
    expect(timers.map((t) => t.ms)).toEqual([9000]);
    clock = 10_000;
    timers[0]?.flush();
    await vi.waitFor(() => expect(bodies).toHaveLength(2));
    expect(bodies[1]).toMatch(/^http_requests_total\{method="GET",route="\/",status="200"\} 3$/m);

    // Act: on Lambda (it freezes), no timer
    timers.length = 0;
    const lambda = make(false);
    await lambda.pusher.pushIfDue();
    clock = 11_000;
    await lambda.pusher.pushIfDue();
    expect(timers).toEqual([]);
  });
});
