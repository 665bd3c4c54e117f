/**
 * The service's own registry written by the fleet protocol's text writer: sample for
 * sample what prom-client writes for it (the writer itself: the fleet-metrics package's
 * test/exposition.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { expositionText, FleetAggregate } from '@simple-time-service/fleet-metrics';
import { createMetrics } from '../../../src/metrics/container-metrics';

describe('expositionText', () => {
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
      const samples = new Map<
        string,
        { labels: Record<string, string>; value?: number; histogram?: { buckets: Array<[number, number]>; sum: number; count: number } }
      >();
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
    const ours = expositionText(aggregate.out([]))
      .split('\n')
      .filter((l) => /^[a-z]/.test(l));
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
