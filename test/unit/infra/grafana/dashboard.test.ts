/**
 * The Grafana dashboard (infra/grafana), the local dashboard (the Prometheus console
 * infra/local/prometheus/consoles/simple-time-service.html) and the local Prometheus rules
 * (infra/local/prometheus/rules.yml) name only metrics the service exports, as derived from
 * METRIC_DEFINITIONS (a histogram exports name_bucket, name_sum and name_count), the
 * Pushgateway's own and the rules' recorded series, and only labels those metrics have. Both
 * dashboards select the service's job and stage in every query (never a benchmark's), draw 0
 * rather than nothing, open on the last 15 minutes and show current values at the top; the
 * local dashboard graphs no metric the Grafana dashboard for AWS leaves out.
 */
import { readFileSync } from 'node:fs';
import { load } from 'js-yaml';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { definitionByName, exportedMetricNames } from '../../../../src/metrics/definitions';

const root = path.resolve(__dirname, '../../../..');

/** PromQL's functions, aggregations and keywords: every other bare identifier is a metric. */
const PROMQL_WORDS = new Set([
  'sum',
  'avg',
  'min',
  'max',
  'count',
  'topk',
  'bottomk',
  'quantile',
  'stddev',
  'stdvar',
  'group',
  'rate',
  'irate',
  'increase',
  'delta',
  'idelta',
  'deriv',
  'histogram_quantile',
  'absent',
  'clamp_min',
  'clamp_max',
  'abs',
  'ceil',
  'floor',
  'round',
  'vector',
  'scalar',
  'time',
  'label_replace',
  'label_join',
  'sum_over_time',
  'avg_over_time',
  'max_over_time',
  'min_over_time',
  'count_over_time',
  'last_over_time',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'offset',
  'bool',
]);

/** Series Prometheus and the Pushgateway make themselves: firing alerts, each group's last push. */
const BUILT_IN_SERIES = new Set(['ALERTS', 'push_time_seconds', 'push_failure_time_seconds']);

/** The local rules' recorded series, each with the metrics its expression reads (recursively). */
const rulesFile = load(readFileSync(path.join(root, 'infra/local/prometheus/rules.yml'), 'utf8')) as {
  groups: Array<{ rules: Array<{ record?: string; expr: string }> }>;
};
const RECORDED = new Map(
  rulesFile.groups
    .flatMap((g) => g.rules)
    .filter((r) => r.record !== undefined)
    .map((r) => [r.record ?? '', r.expr]),
);

/** The metrics an expression reads, with recorded series replaced by what they read. */
function baseMetricsIn(expr: string): string[] {
  return metricNamesIn(expr).flatMap((name) => {
    const recorded = RECORDED.get(name);
    return recorded === undefined ? [name] : baseMetricsIn(recorded);
  });
}

/** Each label selector `{...}` of an expression. */
function selectorsIn(expr: string): string[] {
  return [...expr.matchAll(/\{([^}]*)\}/g)].map((m) => m[1] ?? '');
}

/** The metric names a PromQL expression selects. */
function metricNamesIn(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // string literals
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\[[^\]]*\]/g, ' ') // range selectors ([5m], [$__rate_interval])
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' '); // label lists
  return [...bare.matchAll(/(?<![\w$.])[a-zA-Z_:][a-zA-Z0-9_:]*/g)].map((m) => m[0]).filter((word) => !PROMQL_WORDS.has(word));
}

/** The label names an expression matches on or aggregates by. */
function labelNamesIn(expr: string): string[] {
  const names: string[] = [];
  for (const [, matchers = ''] of expr.matchAll(/\{([^}]*)\}/g)) {
    for (const [, name = ''] of matchers.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)) names.push(name);
  }
  for (const [, list = ''] of expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)) {
    names.push(
      ...list
        .split(',')
        .map((n) => n.trim())
        .filter((n) => n.length > 0),
    );
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
  for (const name of baseMetricsIn(expr)) {
    if (name === 'ALERTS') for (const label of ['alertname', 'alertstate', 'severity']) allowed.add(label);
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
  const dashboard = JSON.parse(readFileSync(path.join(root, 'infra/grafana/simple-time-service.json'), 'utf8')) as {
    panels: Array<Panel & { type: string; gridPos: { x: number; y: number; w: number; h: number } }>;
    templating: { list: Array<{ definition?: string }> };
    time: { from: string; to: string };
  };
  const exprs = panelExprs(dashboard.panels);

  it('parses and names only metrics the service exports', () => {
    // Prepare
    const exported = new Set([...exportedMetricNames(), ...BUILT_IN_SERIES]);
    // Act
    const variableMetrics = dashboard.templating.list.flatMap((v) =>
      [...(v.definition ?? '').matchAll(/label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,/g)].map((m) => m[1] ?? ''),
    );
    // Assess
    const named = new Set(exprs.flatMap(({ expr }) => metricNamesIn(expr)));
    expect(named).toContain('http_requests_total');
    expect(named).toContain('kafka_consumergroup_lag');
    const unknown = [
      ...exprs.flatMap(({ where, expr }) =>
        metricNamesIn(expr)
          .filter((n) => !exported.has(n))
          .map((n) => `${where}: ${n}`),
      ),
      ...variableMetrics.filter((n) => !exported.has(n)).map((n) => `variable: ${n}`),
    ];
    expect(unknown).toEqual([]);
    expect(exprs.flatMap(({ where, expr }) => unknownLabels(expr).map((l) => `${where}: ${l}`))).toEqual([]);
  });

  it("selects the service's job and stage in every query (never a benchmark's)", () => {
    // Prepare / Act
    const unscoped = exprs.flatMap(({ where, expr }) =>
      selectorsIn(expr)
        .filter((s) => !s.includes('job="$job"') || !s.includes('stage="$stage"'))
        .map((s) => `${where}: {${s}}`),
    );
    // Assess
    expect(unscoped).toEqual([]);
  });

  it('opens on the last 15 minutes, with current values at the top and an error-ratio panel', () => {
    // Prepare / Act
    const top = dashboard.panels.filter((p) => p.gridPos.y === 0);
    const below = dashboard.panels.filter((p) => p.gridPos.y > 0);
    // Assess
    expect(dashboard.time).toEqual({ from: 'now-15m', to: 'now' });
    expect(top.map((p) => p.type)).toEqual(top.map(() => 'stat'));
    expect(top.map((p) => p.title)).toEqual(expect.arrayContaining(['5xx ratio, 5 min', 'Consumer lag', 'Dead letters, 10 min']));
    expect(below.every((p) => p.gridPos.y >= Math.max(...top.map((t) => t.gridPos.h)))).toBe(true);
    expect(below.map((p) => p.title)).toContain('HTTP error ratio (5xx)');
  });

  it('draws 0 rather than nothing: the first query of every panel falls back to vector(0)', () => {
    // Prepare / Act
    const without = dashboard.panels.filter((p) => !/ or on \(\) vector\(0\)$/.test(p.targets?.[0]?.expr ?? '')).map((p) => p.title);
    // Assess
    expect(without).toEqual([]);
  });

  it('shows the record age beside the consumer lag', () => {
    // Prepare / Act
    const lag = dashboard.panels.find(
      (p) => panelExprs([p]).some(({ expr }) => expr.includes('kafka_consumergroup_lag')) && p.type === 'timeseries',
    );
    const age = dashboard.panels.find(
      (p) => panelExprs([p]).some(({ expr }) => expr.includes('kafka_consumer_lag_ms_bucket')) && p.type === 'timeseries',
    );
    // Assess
    expect(age?.gridPos.y).toBe(lag?.gridPos.y);
  });
});

describe('the local dashboard (Prometheus console)', () => {
  const page = readFileSync(path.join(root, 'infra/local/prometheus/consoles/simple-time-service.html'), 'utf8');
  /** Each query of the page's stats and panels: `{ expr: "...", name: "..." }` (JavaScript strings). */
  const queries = [...page.matchAll(/\{\s*expr:\s*"((?:[^"\\]|\\.)*)",\s*name:\s*"((?:[^"\\]|\\.)*)"\s*\}/g)].map((m) => ({
    expr: (m[1] ?? '').replace(/\\(.)/g, '$1'),
    name: m[2] ?? '',
  }));
  /** The first query of each graph panel (`queries: [ { expr: ... } ...`). */
  const firstQueries = [...page.matchAll(/queries:\s*\[\s*\{\s*expr:\s*"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1] ?? '');
  /** Each stat's query (`query: { expr: ... }`). */
  const statQueries = [...page.matchAll(/query:\s*\{\s*expr:\s*"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1] ?? '');

  it('reads every query of the page', () => {
    // Prepare / Act
    const exprCount = [...page.matchAll(/\bexpr:\s*["'`]/g)].length;
    // Assess: none written in another form that this test would miss
    expect(queries.length).toBe(exprCount);
    expect(firstQueries.length).toBeGreaterThanOrEqual(9);
    expect(statQueries.length).toBeGreaterThanOrEqual(6);
  });

  it("names only metrics the service exports, the rules' recorded series, and only their labels", () => {
    // Prepare
    const known = new Set([...exportedMetricNames(), ...BUILT_IN_SERIES, ...RECORDED.keys()]);
    // Act
    const named = queries.flatMap(({ expr }) => metricNamesIn(expr));
    // Assess
    expect(named.filter((n) => !known.has(n))).toEqual([]);
    expect(queries.flatMap(({ expr }) => unknownLabels(expr).map((l) => `${expr}: ${l}`))).toEqual([]);
  });

  it("selects the service's job and stage in every query (never a benchmark's)", () => {
    // Prepare / Act
    const unscoped = queries.flatMap(({ expr }) =>
      selectorsIn(expr)
        .filter((s) => !s.includes("job='$job'") || !s.includes("stage=~'$stage'"))
        .map((s) => `${expr}: {${s}}`),
    );
    // Assess
    expect(unscoped).toEqual([]);
  });

  it('draws 0 rather than nothing: every stat and the first query of every panel fall back to vector(0)', () => {
    // Prepare / Act
    const without = [...firstQueries, ...statQueries].filter((expr) => !expr.endsWith(' or on () vector(0)'));
    // Assess
    expect(without).toEqual([]);
  });

  it('opens on the last 15 minutes (the hash the time control reads when the URL has none)', () => {
    // Prepare / Act
    const initial = /JSON\.stringify\(\{ duration: (\d+), endTime: 0 \}\)/.exec(page)?.[1];
    // Assess
    expect(initial).toBe('900');
  });

  it('graphs request rate, 5xx ratio and latency, events produced, records consumed, lag, record age, dead letters and failed pushes', () => {
    // Prepare / Act
    const named = new Set(queries.flatMap(({ expr }) => baseMetricsIn(expr)));
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
      return [...name.matchAll(/\[\[\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\]\]/g)]
        .map((m) => m[1] ?? '')
        .filter((l) => !kept.has(l))
        .map((l) => `${name}: ${l}`);
    });
    // Assess
    expect(problems).toEqual([]);
  });

  it('graphs no metric the Grafana dashboard for AWS leaves out (the same series)', () => {
    // Prepare
    const grafana = JSON.parse(readFileSync(path.join(root, 'infra/grafana/simple-time-service.json'), 'utf8')) as { panels: Panel[] };
    const onGrafana = new Set(panelExprs(grafana.panels).flatMap(({ expr }) => baseMetricsIn(expr)));
    // Act
    const local = new Set(queries.flatMap(({ expr }) => baseMetricsIn(expr)));
    // Assess
    expect([...local].filter((n) => !onGrafana.has(n))).toEqual([]);
  });
});

describe('the local Prometheus recording and alerting rules', () => {
  it("name only metrics the service exports, the Pushgateway's own and the rules' recorded series", () => {
    // Prepare
    const yaml = readFileSync(path.join(root, 'infra/local/prometheus/rules.yml'), 'utf8');
    const known = new Set([...exportedMetricNames(), ...BUILT_IN_SERIES, ...RECORDED.keys()]);
    // Act
    const exprs = ruleExprs(yaml);
    // Assess
    expect(exprs.length).toBeGreaterThanOrEqual(3);
    expect(exprs.flatMap(metricNamesIn).filter((n) => !known.has(n))).toEqual([]);
  });
});
