import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DataArraySplitter, parseGroup } from '../src/pushgateway';
import { FleetAggregate } from '../src/aggregate';
import type { FamilyCatalog } from '../src/aggregate';
import { expositionText } from '../src/exposition';
import type { PushgatewayGroup } from '../src/pushgateway';

/** A group as Pushgateway 1.5.1's GET /api/v1/metrics lists it (recorded from the real one). */
function group(instance: string, fn: string, requests: string, pushTime: number, observations: [string, string, string]) {
  const labels = { job: 'svc', stage: 'dev', function: fn, instance, segment: `seg-${instance}` };
  return {
    labels,
    last_push_successful: true,
    http_requests_total: {
      time_stamp: '2026-11-22T06:32:29.577447793Z',
      type: 'COUNTER',
      help: 'HTTP requests answered, by route template, method and status code.',
      metrics: [{ labels: { ...labels, route: '/', method: 'GET', status: '200' }, value: requests }],
    },
    http_request_duration_seconds: {
      time_stamp: '2026-11-22T06:32:29.577447793Z',
      type: 'HISTOGRAM',
      help: 'Time from the request reaching the function to its answer, in seconds.',
      metrics: [
        {
          // The JSON API gives buckets as a map: key order is not le order.
          buckets: { '1': observations[0], '+Inf': observations[0], '0.1': observations[1] },
          count: observations[0],
          sum: observations[2],
          labels: { ...labels, route: '/', method: 'GET' },
        },
      ],
    },
    push_time_seconds: {
      time_stamp: '2026-11-22T06:32:29.577447793Z',
      type: 'GAUGE',
      help: 'Last Unix time when changing this group in the Pushgateway succeeded.',
      metrics: [{ labels, value: String(pushTime) }],
    },
    push_failure_time_seconds: {
      time_stamp: '2026-11-22T06:32:29.577447793Z',
      type: 'GAUGE',
      help: 'Last Unix time when changing this group in the Pushgateway failed.',
      metrics: [{ labels, value: '0' }],
    },
  };
}

const answer = {
  status: 'success',
  data: [
    group('env-a', 'http', '3', 1.7953291495774477e9, ['3', '2', '0.35']),
    group('env-b', 'http', '2', 1.7953291e9, ['2', '1', '0.5']),
    group('env-c', 'other', '7', 1.79532e9, ['7', '7', '0.07']),
    { ...group('env-z', 'http', '100', 1.7e9, ['1', '1', '1']), labels: { job: 'another-service', function: 'http', instance: 'env-z' } },
  ],
};

/** A container group with `n` requests to `route`. */
function routeGroup(instance: string, fn: string, route: string, n: number): PushgatewayGroup {
  const labels = { job: 'svc', stage: 'dev', function: fn, instance };
  return {
    labels,
    lastPushSeconds: 1,
    families: [
      {
        name: 'http_requests_total',
        type: 'counter',
        help: '',
        samples: [{ labels: { ...labels, route, method: 'GET', status: '200' }, value: n }],
      },
    ],
  };
}

function parsed(): PushgatewayGroup[] {
  return answer.data.map((raw) => parseGroup(raw).group).filter((g) => g.labels.job === 'svc');
}

/** The metrics these tests push, as a service's catalog describes them: the outside-fed labels are capped. */
const catalog: FamilyCatalog = {
  order: [],
  describe: (name) =>
    name === 'http_requests_total'
      ? { help: '', bounded: ['route', 'method'] }
      : name === 'http_response_time_seconds'
        ? { help: '', bounded: ['endpoint', 'status'] }
        : undefined,
};

function sum(groups: PushgatewayGroup[], maxLabelValues = 100): string {
  const aggregate = new FleetAggregate({ maxLabelValues, dropLabels: new Set(['instance', 'segment']), catalog });
  for (const g of groups) for (const f of g.families) aggregate.addFamily(f);
  return expositionText(aggregate.out(['http_requests_total', 'http_request_duration_seconds']));
}

describe('parseGroup', () => {
  it('reads a JSON API group with its last push time and families, without the bookkeeping series', () => {
    // Prepare / Act
    const groups = parsed();
    // Assess
    expect(groups.map((g) => g.labels.instance)).toEqual(['env-a', 'env-b', 'env-c']);
    expect(groups[0]?.lastPushSeconds).toBeCloseTo(1795329149.577, 3);
    expect(groups[0]?.families.map((f) => f.name).sort()).toEqual(['http_request_duration_seconds', 'http_requests_total']);
  });

  it('refuses a group without grouping labels', () => {
    expect(() => parseGroup({ metrics: [] })).toThrow(/no grouping labels/);
  });

  it('leaves out and counts a sample of an unexpected shape', () => {
    const raw = group('env-x', 'http', '1', 1, ['1', '1', '1']);
    (raw.http_requests_total.metrics[0] as { value: unknown }).value = 5;
    expect(parseGroup(raw).skipped).toBe(1);
  });
});

describe('DataArraySplitter', () => {
  it("cuts the JSON API's answer into its groups whatever the chunk boundaries, braces inside strings included", () => {
    // Prepare
    const tricky = { ...group('env-{"}', 'http', '1', 1, ['1', '1', '1']) };
    const text = JSON.stringify({ status: 'success', data: [...answer.data, tricky] });
    for (const size of [1, 7, 64, text.length]) {
      const elements: string[] = [];
      const splitter = new DataArraySplitter((e) => elements.push(e));
      // Act
      for (let i = 0; i < text.length; i += size) splitter.push(text.slice(i, i + size));
      splitter.end('test');
      // Assess
      expect(elements.map((e) => (JSON.parse(e) as { labels: { instance: string } }).labels.instance)).toEqual([
        'env-a',
        'env-b',
        'env-c',
        'env-z',
        'env-{"}',
      ]);
    }
  });

  it('refuses an answer whose status is not success, or that is cut short', () => {
    const failed = new DataArraySplitter(() => undefined);
    failed.push('{"status":"error","data":[]}');
    expect(() => failed.end('test')).toThrow(/status "error"/);
    const short = new DataArraySplitter(() => undefined);
    short.push('{"status":"success","data":[{"labels":');
    expect(() => short.end('test')).toThrow(/ended in the middle/);
  });

  it('accepts a null data array', () => {
    const splitter = new DataArraySplitter(() => undefined);
    splitter.push('{"status":"success","data":null}');
    expect(() => splitter.end('test')).not.toThrow();
  });
});

describe('FleetAggregate', () => {
  it('sums counters and histograms across containers per function, without the instance and segment labels', () => {
    // Prepare / Act
    const text = sum(parsed());
    // Assess
    const lines = text.split('\n');
    expect(lines).toContain('http_requests_total{function="http",job="svc",method="GET",route="/",stage="dev",status="200"} 5');
    expect(lines).toContain('http_requests_total{function="other",job="svc",method="GET",route="/",stage="dev",status="200"} 7');
    const buckets = lines.filter((l) => l.startsWith('http_request_duration_seconds_bucket{function="http"'));
    expect(buckets).toEqual([
      'http_request_duration_seconds_bucket{function="http",job="svc",method="GET",route="/",stage="dev",le="0.1"} 3',
      'http_request_duration_seconds_bucket{function="http",job="svc",method="GET",route="/",stage="dev",le="1"} 5',
      'http_request_duration_seconds_bucket{function="http",job="svc",method="GET",route="/",stage="dev",le="+Inf"} 5',
    ]);
    expect(lines).toContain('http_request_duration_seconds_count{function="http",job="svc",method="GET",route="/",stage="dev"} 5');
    expect(lines).toContain('http_request_duration_seconds_sum{function="http",job="svc",method="GET",route="/",stage="dev"} 0.85');
    expect(text).not.toMatch(/instance=|segment=|push_time_seconds/);
    expect(text).toContain('# TYPE http_request_duration_seconds histogram');
  });

  it('caps an outside-fed label for the fleet: the smallest values in sort order, the rest in "other", no count lost', () => {
    // Prepare: route is outside-fed; 6 containers with one route each, a cap of 3
    const groups = [
      routeGroup('a', 'http', '/f', 1),
      routeGroup('b', 'http', '/e', 2),
      routeGroup('c', 'http', '/d', 4),
      routeGroup('d', 'http', '/c', 8),
      routeGroup('retired', 'http', '/z', 16),
      routeGroup('e', 'http', '/b', 32),
    ];
    // Act: in two orders
    const forward = sum(groups, 3);
    const backward = sum([...groups].reverse(), 3);
    // Assess
    const values = (text: string): Record<string, number> =>
      Object.fromEntries(
        text
          .split('\n')
          .filter((l) => l.startsWith('http_requests_total{'))
          .map((l) => [String(/route="([^"]*)"/.exec(l)?.[1]), Number(l.split(' ').pop())] as const),
      );
    expect(values(forward)).toEqual({ '/b': 32, '/c': 8, '/d': 4, other: 1 + 2 + 16 });
    expect(values(backward)).toEqual(values(forward));
  });

  it('gives the same answer whatever order the groups come in (the Pushgateway lists them in a new order on every read)', () => {
    const arbitraryGroup = fc.record({
      fn: fc.constantFrom('http', 'onError'),
      route: fc.constantFrom('/a', '/b', '/c', '/d', '/e', 'other'),
      n: fc.integer({ min: 1, max: 1000 }),
    });
    fc.assert(
      fc.property(
        fc.array(arbitraryGroup, { maxLength: 12 }),
        fc.integer({ min: 1, max: 4 }),
        fc.infiniteStream(fc.nat()),
        (specs, cap, picks) => {
          const groups = specs.map((g, i) => routeGroup(`env-${i}`, g.fn, g.route, g.n));
          // A permutation drawn by fast-check (Fisher-Yates over its stream)
          const shuffled = [...groups];
          const draw = picks[Symbol.iterator]();
          for (let i = shuffled.length - 1; i > 0; i--) {
            const j = (draw.next().value ?? 0) % (i + 1);
            [shuffled[i], shuffled[j]] = [shuffled[j] as PushgatewayGroup, shuffled[i] as PushgatewayGroup];
          }
          expect(sum(shuffled, cap)).toBe(sum(groups, cap));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("caps the combinations of a metric's outside-fed labels, so a metric with two of them stays bounded too", () => {
    // Prepare: http_response_time_seconds{endpoint, status}, 3 x 3 combinations, a cap of 4
    const aggregate = new FleetAggregate({ maxLabelValues: 4, dropLabels: new Set(['instance']), catalog });
    for (const endpoint of ['/a', '/b', '/c']) {
      for (const status of ['200', '404', '500']) {
        aggregate.addFamily({
          name: 'http_response_time_seconds',
          type: 'histogram',
          help: '',
          samples: [
            {
              labels: { endpoint, status, instance: `${endpoint}${status}` },
              histogram: {
                buckets: [
                  [1, 1],
                  [Infinity, 1],
                ],
                sum: 1,
                count: 1,
              },
            },
          ],
        });
      }
    }
    // Act
    const counts = expositionText(aggregate.out([]))
      .split('\n')
      .filter((l) => l.startsWith('http_response_time_seconds_count'))
      .map((l) => l.replace('http_response_time_seconds_count', ''));
    // Assess
    expect(counts).toEqual([
      '{endpoint="/a",status="200"} 1',
      '{endpoint="/a",status="404"} 1',
      '{endpoint="/a",status="500"} 1',
      '{endpoint="/b",status="200"} 1',
      '{endpoint="other",status="other"} 5',
    ]);
  });

  it('keeps the largest value of a gauge and adds histograms of different bucket layouts at the union of their bounds', () => {
    // Prepare
    const aggregate = new FleetAggregate({ maxLabelValues: 10, dropLabels: new Set(['instance']) });
    aggregate.addFamily({
      name: 'g',
      type: 'gauge',
      help: 'g',
      samples: [
        { labels: { instance: 'a' }, value: 3 },
        { labels: { instance: 'b' }, value: 9 },
      ],
    });
    aggregate.addFamily({
      name: 'h',
      type: 'histogram',
      help: 'h',
      samples: [
        {
          labels: { instance: 'a' },
          histogram: {
            buckets: [
              [1, 1],
              [2, 2],
              [Infinity, 2],
            ],
            sum: 3,
            count: 2,
          },
        },
      ],
    });
    aggregate.addFamily({
      name: 'h',
      type: 'histogram',
      help: 'h',
      samples: [
        {
          labels: { instance: 'b' },
          histogram: {
            buckets: [
              [1, 1],
              [Infinity, 4],
            ],
            sum: 10,
            count: 4,
          },
        },
      ],
    });
    // Act
    const text = expositionText(aggregate.out([]));
    // Assess
    expect(text).toContain('g 9');
    expect(text).toContain('h_bucket{le="1"} 2\nh_bucket{le="2"} 3\nh_bucket{le="+Inf"} 6\nh_sum 13\nh_count 6');
  });

  it('leaves out a family whose type disagrees with the one first seen, and counts it', () => {
    const aggregate = new FleetAggregate({ maxLabelValues: 10, dropLabels: new Set() });
    aggregate.addFamily({ name: 'x', type: 'counter', help: '', samples: [{ labels: {}, value: 1 }] });
    aggregate.addFamily({ name: 'x', type: 'gauge', help: '', samples: [{ labels: {}, value: 5 }] });
    expect(aggregate.conflicts).toBe(1);
    expect(expositionText(aggregate.out([]))).toContain('x 1');
  });
});
