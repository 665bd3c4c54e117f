/**
 * The text format written by pushes and GET /metrics: numbers as the Prometheus text
 * format reads them (and as the containers' prom-client writes them), escapes as defined.
 */
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../../src/metrics/registry';
import { expositionText, formatNumber, parseNumber } from '../../../src/metrics/exposition';
import { FleetAggregate } from '../../../src/metrics/aggregate';

describe('formatNumber', () => {
  it('writes integers in plain digits, other values in their shortest round-trip form, and the special values as the format spells them', () => {
    const cases: Array<[number, string]> = [
      [1_048_576, '1048576'],
      [0, '0'],
      [-0, '0'],
      [3, '3'],
      [2 ** 53 + 2, '9007199254740994'],
      [1e21, '1e+21'],
      [1.5e300, '1.5e+300'],
      [0.0005, '0.0005'],
      [1e-7, '1e-7'],
      [0.1 + 0.2, '0.30000000000000004'],
      [Number.NaN, 'NaN'],
      [Number.POSITIVE_INFINITY, '+Inf'],
      [Number.NEGATIVE_INFINITY, '-Inf'],
    ];
    for (const [value, text] of cases) expect(formatNumber(value)).toBe(text);
  });

  it("reads back the Pushgateway JSON API's spellings", () => {
    expect(parseNumber('1.048576e+06')).toBe(1_048_576);
    expect(formatNumber(parseNumber('1.048576e+06'))).toBe('1048576');
    expect(parseNumber('+Inf')).toBe(Number.POSITIVE_INFINITY);
    expect(parseNumber('-Inf')).toBe(Number.NEGATIVE_INFINITY);
    expect(Number.isNaN(parseNumber('NaN'))).toBe(true);
    expect(parseNumber('1.7961623583242779e+09')).toBe(1796162358.3242779);
  });
});

describe('expositionText', () => {
  it('escapes backslash, double quote and newline in label values, and backslash and newline in help', () => {
    const text = expositionText([{ name: 'x_total', help: 'a \\ b\nc "q"', type: 'counter', series: [{ labels: [['route', 'a"b\\c\nd']], value: 1 }] }]);
    expect(text).toBe('# HELP x_total a \\\\ b\\nc "q"\n# TYPE x_total counter\nx_total{route="a\\"b\\\\c\\nd"} 1\n');
  });

  it("writes a container's registry sample for sample as prom-client does (finite values)", async () => {
    // Prepare
    const metrics = createMetrics();
    metrics.kafkaMessageSize.observe({ topic: 't' }, 2_000_000);
    metrics.kafkaMessageSize.observe({ topic: 't' }, 3);
    metrics.httpRequests.inc({ route: 'a"b\\c\nd', method: 'GET', status: '200' }, 12);
    metrics.httpRequestDuration.observe({ route: '/', method: 'GET' }, 0.0004);
    const reference = (await metrics.registry.metrics()).split('\n').filter((l) => /^[a-z]/.test(l));
    // Act: through the fleet aggregate (one container) and the writer
    const aggregate = new FleetAggregate({ maxLabelValues: 100, dropLabels: new Set() });
    for (const metric of await metrics.registry.getMetricsAsJSON()) {
      const histogram = String(metric.type) === 'histogram';
      const samples = new Map<string, { labels: Record<string, string>; value?: number; histogram?: { buckets: Array<[number, number]>; sum: number; count: number } }>();
      for (const v of metric.values) {
        const { le, ...rest } = v.labels as Record<string, string | number>;
        const labels = Object.fromEntries(Object.entries(rest).map(([k, x]) => [k, String(x)]));
        const key = JSON.stringify(labels);
        if (!histogram) {
          samples.set(key, { labels, value: v.value });
          continue;
        }
        const s = samples.get(key) ?? { labels, histogram: { buckets: [], sum: 0, count: 0 } };
        samples.set(key, s);
        const name = (v as { metricName?: string }).metricName ?? '';
        if (name.endsWith('_bucket')) s.histogram?.buckets.push([le === '+Inf' ? Infinity : Number(le), v.value]);
        else if (name.endsWith('_sum') && s.histogram) s.histogram.sum = v.value;
        else if (name.endsWith('_count') && s.histogram) s.histogram.count = v.value;
      }
      aggregate.addFamily({ name: metric.name, type: String(metric.type) as 'counter', help: metric.help, samples: [...samples.values()] });
    }
    const ours = expositionText(aggregate.out([])).split('\n').filter((l) => /^[a-z]/.test(l));
    // Assess: the same samples; only label order may differ (ours are sorted by name)
    const normalize = (line: string) => {
      const m = /^(\w+)(?:\{(.*)\})? (\S+)$/.exec(line);
      const labels = [...(m?.[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => `${l[1]}=${l[2]}`).sort();
      return `${m?.[1]}{${labels.join(',')}} ${m?.[3]}`;
    };
    expect(ours.map(normalize).sort()).toEqual(reference.map(normalize).sort());
    expect(ours).toContain('kafka_message_size_bytes_bucket{topic="t",le="1048576"} 1');
  });
});
