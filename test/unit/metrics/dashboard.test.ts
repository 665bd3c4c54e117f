/**
 * The Grafana dashboard (infra/grafana) and the local Prometheus recording rules
 * (infra/local/prometheus) name only metrics the service exports, as derived from
 * METRIC_DEFINITIONS (a histogram exports name_bucket, name_sum and name_count).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { exportedMetricNames } from '../../../src/metrics';

const root = path.resolve(__dirname, '../../..');

/** PromQL's functions, aggregations and keywords: every other bare identifier is a metric. */
const PROMQL_WORDS = new Set([
  'sum', 'avg', 'min', 'max', 'count', 'topk', 'bottomk', 'quantile', 'stddev', 'stdvar', 'group',
  'rate', 'irate', 'increase', 'delta', 'idelta', 'deriv', 'histogram_quantile', 'absent', 'clamp_min', 'clamp_max',
  'abs', 'ceil', 'floor', 'round', 'vector', 'scalar', 'time', 'label_replace', 'label_join',
  'sum_over_time', 'avg_over_time', 'max_over_time', 'min_over_time', 'count_over_time', 'last_over_time',
  'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'offset', 'bool',
]);

/** The metric names a PromQL expression selects. */
function metricNamesIn(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // string literals
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\[[^\]]*\]/g, ' ') // range selectors ([5m], [$__rate_interval])
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' '); // label lists
  return [...bare.matchAll(/(?<![\w$.])[a-zA-Z_:][a-zA-Z0-9_:]*/g)]
    .map((m) => m[0])
    .filter((word) => !PROMQL_WORDS.has(word));
}

interface Panel {
  title?: string;
  targets?: Array<{ expr?: string }>;
  panels?: Panel[];
}

function panelExprs(panels: Panel[]): Array<{ where: string; expr: string }> {
  return panels.flatMap((p) => [
    ...(p.targets ?? []).map((t) => ({ where: `panel "${p.title}"`, expr: t.expr ?? '' })),
    ...panelExprs(p.panels ?? []),
  ]);
}

/** Each `expr:` of a Prometheus rules file, single-line or a `|` block. */
function ruleExprs(yaml: string): string[] {
  const lines = yaml.split('\n');
  const exprs: string[] = [];
  lines.forEach((line, i) => {
    const m = /^(\s*)(?:-\s*)?expr:\s*(.*)$/.exec(line);
    if (!m) return;
    const indent = (m[1] ?? '').length;
    if (m[2] !== '|' && m[2] !== '>') {
      exprs.push(m[2] ?? '');
      return;
    }
    const block: string[] = [];
    for (const next of lines.slice(i + 1)) {
      if (next.trim() !== '' && next.search(/\S/) <= indent) break;
      block.push(next);
    }
    exprs.push(block.join('\n'));
  });
  return exprs;
}

describe('metricNamesIn', () => {
  it('finds the selected metrics and nothing else', () => {
    // Prepare
    const expr =
      'histogram_quantile(0.99, sum by (route, le) (rate(http_request_duration_seconds_bucket{job="$job",status=~"5.."}[$__rate_interval]))) / on (job) group_left count(up)';
    // Act / Assess
    expect(metricNamesIn(expr)).toEqual(['http_request_duration_seconds_bucket', 'up']);
  });
});

describe('the Grafana dashboard', () => {
  const file = path.join(root, 'infra/grafana/simple-time-service.json');

  it('parses and names only metrics the service exports', () => {
    // Prepare
    const exported = exportedMetricNames();
    // Act
    const dashboard = JSON.parse(readFileSync(file, 'utf8')) as {
      panels: Panel[];
      templating: { list: Array<{ definition?: string }> };
    };
    const exprs = panelExprs(dashboard.panels);
    const variableMetrics = dashboard.templating.list.flatMap((v) =>
      [...(v.definition ?? '').matchAll(/label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,/g)].map((m) => m[1] ?? ''),
    );
    // Assess
    const named = new Set(exprs.flatMap(({ expr }) => metricNamesIn(expr)));
    expect(named).toContain('http_requests_total');
    expect(named).toContain('kafka_consumergroup_lag');
    const unknown = [
      ...exprs.flatMap(({ where, expr }) => metricNamesIn(expr).filter((n) => !exported.has(n)).map((n) => `${where}: ${n}`)),
      ...variableMetrics.filter((n) => !exported.has(n)).map((n) => `variable: ${n}`),
    ];
    expect(unknown).toEqual([]);
  });
});

describe('the local Prometheus recording rules', () => {
  it('name only metrics the service exports', () => {
    // Prepare
    const exported = exportedMetricNames();
    // Act
    const exprs = ruleExprs(readFileSync(path.join(root, 'infra/local/prometheus/rules.yml'), 'utf8'));
    // Assess
    expect(exprs.length).toBeGreaterThanOrEqual(3);
    expect(exprs.flatMap(metricNamesIn).filter((n) => !exported.has(n))).toEqual([]);
  });
});
