/**
 * The Grafana dashboard (infra/grafana), the local dashboard (the Prometheus console
 * infra/local/prometheus/consoles/simple-time-service.html) and the local Prometheus
 * recording rules (infra/local/prometheus) name only metrics the service exports, as
 * derived from METRIC_DEFINITIONS (a histogram exports name_bucket, name_sum and
 * name_count), and only labels those metrics have; the local dashboard graphs no metric
 * the Grafana dashboard for AWS leaves out.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { definitionByName, exportedMetricNames } from '../../../../src/metrics/definitions';

const root = path.resolve(__dirname, '../../../..');

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

/** The label names an expression matches on or aggregates by. */
function labelNamesIn(expr: string): string[] {
  const names: string[] = [];
  for (const [, matchers = ''] of expr.matchAll(/\{([^}]*)\}/g)) {
    for (const [, name = ''] of matchers.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)) names.push(name);
  }
  for (const [, list = ''] of expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)) {
    names.push(...list.split(',').map((n) => n.trim()).filter((n) => n.length > 0));
  }
  return names;
}

/**
 * Labels an expression may use: its metrics' own, `le` for a histogram's buckets, and the
 * labels of the Pushgateway grouping every container pushes under (job, stage, function,
 * instance, segment).
 */
const GROUPING_LABELS = new Set(['job', 'stage', 'function', 'instance', 'segment', 'le']);

function unknownLabels(expr: string): string[] {
  const allowed = new Set(GROUPING_LABELS);
  for (const name of metricNamesIn(expr)) {
    const definition = definitionByName(name.replace(/_(bucket|sum|count)$/, '')) ?? definitionByName(name);
    for (const label of definition?.labelNames ?? []) allowed.add(label);
  }
  return labelNamesIn(expr).filter((label) => !allowed.has(label));
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
    expect(exprs.flatMap(({ where, expr }) => unknownLabels(expr).map((l) => `${where}: ${l}`))).toEqual([]);
  });
});

describe('the local dashboard (Prometheus console)', () => {
  const page = readFileSync(path.join(root, 'infra/local/prometheus/consoles/simple-time-service.html'), 'utf8');
  /** Each query of the page's panel table: `{ expr: "...", name: "..." }` (JavaScript strings). */
  const queries = [...page.matchAll(/\{\s*expr:\s*"((?:[^"\\]|\\.)*)",\s*name:\s*"((?:[^"\\]|\\.)*)"\s*\}/g)].map((m) => ({
    expr: (m[1] ?? '').replace(/\\(.)/g, '$1'),
    name: m[2] ?? '',
  }));

  it('reads every query of the page', () => {
    // Prepare / Act
    const exprCount = [...page.matchAll(/\bexpr:\s*["'`]/g)].length;
    // Assess: none written in another form that this test would miss
    expect(queries.length).toBe(exprCount);
    expect(queries.length).toBeGreaterThanOrEqual(8);
  });

  it('names only metrics the service exports, and only their labels', () => {
    // Prepare
    const exported = exportedMetricNames();
    // Act
    const named = queries.flatMap(({ expr }) => metricNamesIn(expr));
    // Assess
    expect(named.filter((n) => !exported.has(n))).toEqual([]);
    expect(queries.flatMap(({ expr }) => unknownLabels(expr).map((l) => `${expr}: ${l}`))).toEqual([]);
  });

  it('graphs request rate and latency, events produced, records consumed, lag, dead letters and failed pushes', () => {
    // Prepare / Act
    const named = new Set(queries.flatMap(({ expr }) => metricNamesIn(expr)));
    // Assess
    for (const metric of [
      'http_requests_total',
      'http_request_duration_seconds_bucket',
      'kafka_messages_sent_total',
      'kafka_messages_received_total',
      'kafka_consumergroup_lag',
      'kafka_consumer_lag_ms_bucket',
      'dead_letters_total',
      'pushgateway_pushes_total',
    ]) {
      expect(named, metric).toContain(metric);
    }
  });

  it('names in each legend only labels its query keeps', () => {
    // Prepare / Act
    const problems = queries.flatMap(({ expr, name }) => {
      const kept = new Set(labelNamesIn(expr.replace(/\{[^}]*\}/g, '')));
      return [...name.matchAll(/\[\[\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\]\]/g)].map((m) => m[1] ?? '').filter((l) => !kept.has(l)).map((l) => `${name}: ${l}`);
    });
    // Assess
    expect(problems).toEqual([]);
  });

  it('graphs no metric the Grafana dashboard for AWS leaves out (the same series)', () => {
    // Prepare
    const grafana = JSON.parse(readFileSync(path.join(root, 'infra/grafana/simple-time-service.json'), 'utf8')) as { panels: Panel[] };
    const onGrafana = new Set(panelExprs(grafana.panels).flatMap(({ expr }) => metricNamesIn(expr)));
    // Act
    const local = new Set(queries.flatMap(({ expr }) => metricNamesIn(expr)));
    // Assess
    expect([...local].filter((n) => !onGrafana.has(n))).toEqual([]);
  });
});

/** The Pushgateway's own series, one per group: when it was last pushed to. */
const PUSHGATEWAY_METRICS = new Set(['push_time_seconds', 'push_failure_time_seconds']);

describe('the local Prometheus recording and alerting rules', () => {
  it("name only metrics the service exports, the Pushgateway's own and the rules' recorded series", () => {
    // Prepare
    const yaml = readFileSync(path.join(root, 'infra/local/prometheus/rules.yml'), 'utf8');
    const recorded = new Set([...yaml.matchAll(/^\s*-\s*record:\s*(\S+)/gm)].map((m) => m[1] ?? ''));
    const known = new Set([...exportedMetricNames(), ...PUSHGATEWAY_METRICS, ...recorded]);
    // Act
    const exprs = ruleExprs(yaml);
    // Assess
    expect(exprs.length).toBeGreaterThanOrEqual(3);
    expect(exprs.flatMap(metricNamesIn).filter((n) => !known.has(n))).toEqual([]);
  });
});
