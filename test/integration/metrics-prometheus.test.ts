/**
 * The local Prometheus of infra/local/stack.sh: its recording rules pass promtool's rule
 * tests, and it scrapes the real Pushgateway with honor_labels, so a container's pushed
 * series keep their job, function and instance labels.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/metrics/container-metrics';
import { createMetricsPusher } from '@simple-time-service/fleet-metrics';
import { deleteGroup, fetchGroups } from '@simple-time-service/fleet-metrics';
import { testConfig, uniqueName } from '../helpers/kafka';
import { waitFor } from '../helpers/wait-for';

const prometheusUrl = `http://127.0.0.1:${process.env.LOCAL_PROMETHEUS_PORT ?? '9090'}`;
const rulesDir = path.resolve(__dirname, '../../infra/local/prometheus');

interface QueryAnswer {
  status: string;
  data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
}

describe('local Prometheus', () => {
  const job = uniqueName('sts-prom');
  const grouping = { job, stage: 'dev', function: 'http', instance: 'container-p' };

  afterAll(async () => {
    for (const group of await fetchGroups({ url: testConfig.pushgateway.url, timeoutMs: 2000, job })) {
      await deleteGroup({ url: testConfig.pushgateway.url, timeoutMs: 2000, labels: group.labels });
    }
  });

  it("passes promtool's tests of the recording rules", () => {
    // Prepare / Act
    const result = spawnSync('promtool', ['test', 'rules', 'rules.test.yml'], { cwd: rulesDir, encoding: 'utf8', timeout: 30_000 });
    // Assess
    expect(result.error).toBeUndefined();
    expect(`${result.stdout}${result.stderr}`).toContain('SUCCESS');
    expect(result.status).toBe(0);
  });

  it("scrapes the Pushgateway keeping the containers' own labels (honor_labels)", async () => {
    // Prepare
    const metrics = createMetrics();
    metrics.httpRequests.inc({ route: '/', method: 'GET', status: '200' }, 5);
    const pusher = createMetricsPusher({ metrics, url: testConfig.pushgateway.url, grouping, timeoutMs: 300, intervalMs: 0 });
    // Act
    expect(await pusher.push()).toBe('success');
    // Assess
    const query = encodeURIComponent(`http_requests_total{job="${job}"}`);
    const series = await waitFor(
      async () => {
        const answer = (await (await fetch(`${prometheusUrl}/api/v1/query?query=${query}`)).json()) as QueryAnswer;
        return answer.data.result.length > 0 ? answer.data.result : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500, what: `Prometheus at ${prometheusUrl} to scrape the pushed series` },
    );
    expect(series).toHaveLength(1);
    expect(series[0]?.metric).toMatchObject({ job, stage: 'dev', function: 'http', instance: 'container-p', route: '/', status: '200' });
    expect(series[0]?.metric.segment).toMatch(/^[0-9a-f]{12}$/);
    expect(series[0]?.value[1]).toBe('5');
  });
});
