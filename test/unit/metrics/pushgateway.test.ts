import { describe, expect, it } from 'vitest';
import { aggregateGroups, parseGroups, pruneStaleGroups } from '../../../src/metrics';

/** A group as Pushgateway 1.5.1's GET /api/v1/metrics lists it (recorded from the real one). */
function group(instance: string, fn: string, requests: string, pushTime: number, observations: [string, string, string]) {
  const labels = { job: 'svc', function: fn, instance };
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

describe('parseGroups', () => {
  it("reads the JSON API's groups with their last push time, keeping one job's groups", () => {
    // Prepare / Act
    const groups = parseGroups(answer, 'svc');
    // Assess
    expect(groups.map((g) => g.labels.instance)).toEqual(['env-a', 'env-b', 'env-c']);
    expect(groups[0]?.lastPushSeconds).toBeCloseTo(1795329149.577, 3);
    expect(groups[0]?.families.map((f) => f.name).sort()).toEqual(['http_request_duration_seconds', 'http_requests_total']);
  });

  it('rejects an answer that is not the JSON API', () => {
    // Prepare / Act / Assess
    expect(() => parseGroups({ status: 'error', data: [] })).toThrow(/unexpected answer/);
  });
});

describe('aggregateGroups', () => {
  it('sums counters and histograms across instances per function, without the instance label', async () => {
    // Prepare
    const groups = parseGroups(answer, 'svc');
    // Act
    const text = await aggregateGroups({ groups }).metrics();
    // Assess
    const lines = text.split('\n');
    expect(lines).toContain('http_requests_total{job="svc",function="http",route="/",method="GET",status="200"} 5');
    expect(lines).toContain('http_requests_total{job="svc",function="other",route="/",method="GET",status="200"} 7');
    const buckets = lines.filter((l) => l.startsWith('http_request_duration_seconds_bucket{job="svc",function="http"'));
    expect(buckets).toEqual([
      'http_request_duration_seconds_bucket{job="svc",function="http",route="/",method="GET",le="0.1"} 3',
      'http_request_duration_seconds_bucket{job="svc",function="http",route="/",method="GET",le="1"} 5',
      'http_request_duration_seconds_bucket{job="svc",function="http",route="/",method="GET",le="+Inf"} 5',
    ]);
    expect(lines).toContain('http_request_duration_seconds_count{job="svc",function="http",route="/",method="GET"} 5');
    expect(lines).toContain('http_request_duration_seconds_sum{job="svc",function="http",route="/",method="GET"} 0.85');
    expect(text).not.toContain('instance=');
    expect(text).not.toContain('push_time_seconds');
    expect(text).toContain('# TYPE http_request_duration_seconds histogram');
  });
});

describe('pruneStaleGroups', () => {
  it("deletes only the job's groups whose last push is older than the maximum age", async () => {
    // Prepare
    const groups = parseGroups(answer, 'svc');
    const removed: Array<Record<string, string>> = [];
    // Act
    const result = await pruneStaleGroups({
      url: 'http://pushgateway.invalid',
      timeoutMs: 100,
      job: 'svc',
      maxAgeSeconds: 900,
      nowSeconds: 1.7953291e9 + 899.5,
      groups,
      remove: (labels) => Promise.resolve(void removed.push(labels)),
    });
    // Assess
    expect(removed).toEqual([{ job: 'svc', function: 'other', instance: 'env-c' }]);
    expect(result).toMatchObject({ kept: 2, failed: [] });
  });

  it('reports a group it could not delete and still deletes the others', async () => {
    // Prepare
    const groups = parseGroups(answer, 'svc');
    // Act
    const result = await pruneStaleGroups({
      url: 'http://pushgateway.invalid',
      timeoutMs: 100,
      job: 'svc',
      maxAgeSeconds: 60,
      nowSeconds: 1.8e9,
      groups,
      remove: (labels) => (labels.instance === 'env-b' ? Promise.reject(new Error('HTTP 500')) : Promise.resolve()),
    });
    // Assess
    expect(result.deleted.map((l) => l.instance)).toEqual(['env-a', 'env-c']);
    expect(result.failed).toEqual([{ labels: { job: 'svc', function: 'http', instance: 'env-b' }, error: 'HTTP 500' }]);
  });
});
