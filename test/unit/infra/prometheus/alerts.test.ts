/**
 * The local Prometheus's alerting rules (infra/local/prometheus/rules.yml): promtool finds
 * the rules valid and passes their tests (alerts.test.yml, rules.test.yml); every alert has
 * a test that sees it fire and one that sees it stay quiet; every alert tells an operator
 * what is wrong (summary, description) and where to read what to do (runbook: a section of
 * docs/alerts.md that exists).
 *
 * Needs promtool (Debian's `prometheus` package: sudo infra/local/apt-install.sh prometheus).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { load } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { headingAnchors } from '../../../helpers/markdown';

const root = path.resolve(__dirname, '../../../..');
const rulesDir = path.join(root, 'infra/local/prometheus');
/** Where each alert's runbook annotation points: a section per alert. */
const RUNBOOKS = 'docs/alerts.md';

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  annotations?: Record<string, string>;
}
interface RulesFile {
  groups: Array<{ name: string; rules: Rule[] }>;
}
interface RuleTestsFile {
  tests: Array<{ name?: string; alert_rule_test?: Array<{ alertname: string; eval_time: string; exp_alerts?: unknown[] | null }> }>;
}

function readYaml<T>(file: string): T {
  return load(readFileSync(path.join(rulesDir, file), 'utf8')) as T;
}

function alertsOf(rules: RulesFile): Rule[] {
  return rules.groups.flatMap((g) => g.rules).filter((r) => r.alert !== undefined);
}

/**
 * The alerts that lack a test seeing them fire (exp_alerts not empty) or a test seeing
 * them stay quiet (no exp_alerts), as `<alert>: <what is missing>`.
 */
function untestedAlerts(alertNames: readonly string[], tests: RuleTestsFile): string[] {
  const cases = tests.tests.flatMap((t) => t.alert_rule_test ?? []);
  return alertNames.flatMap((name) => {
    const own = cases.filter((c) => c.alertname === name);
    const missing: string[] = [];
    if (!own.some((c) => (c.exp_alerts ?? []).length > 0)) missing.push(`${name}: no test sees it fire`);
    if (!own.some((c) => (c.exp_alerts ?? []).length === 0)) missing.push(`${name}: no test sees it stay quiet`);
    return missing;
  });
}

function promtool(args: string[]): { output: string; status: number | null } {
  const result = spawnSync('promtool', args, { cwd: rulesDir, encoding: 'utf8', timeout: 30_000 });
  if (result.error)
    throw new Error(
      `promtool ${args.join(' ')}: ${result.error.message} (install Debian's prometheus: sudo infra/local/apt-install.sh prometheus)`,
    );
  return { output: `${result.stdout}${result.stderr}`, status: result.status };
}

describe('the local alerting rules', () => {
  const rules = readYaml<RulesFile>('rules.yml');
  const alerts = alertsOf(rules);
  const tests = readYaml<RuleTestsFile>('alerts.test.yml');

  it('are valid rules (promtool check rules)', () => {
    // Prepare / Act
    const { output, status } = promtool(['check', 'rules', 'rules.yml']);
    // Assess
    expect(status, output).toBe(0);
  });

  it("pass promtool's tests (promtool test rules)", () => {
    // Prepare / Act
    const { output, status } = promtool(['test', 'rules', 'alerts.test.yml', 'rules.test.yml']);
    // Assess
    expect(status, output).toBe(0);
    expect(output.match(/SUCCESS/g)).toHaveLength(2);
  });

  it('cover dead letters, lag, record age, 5xx, refused publishes, failed pushes and a function that stopped', () => {
    // Prepare / Act
    const names = alerts.map((a) => a.alert);
    // Assess
    expect(names).toEqual([
      'DeadLettersGrowing',
      'ConsumerLagHigh',
      'RecordAgeHigh',
      'HttpErrorRatioHigh',
      'PublishesRefused',
      'MetricsPushesFailing',
      'MetricsScheduleStopped',
      'ConsumerStopped',
    ]);
  });

  it('finds an alert without a firing or a quiet test (the check can fail)', () => {
    // Prepare
    const partial: RuleTestsFile = {
      tests: [
        {
          alert_rule_test: [
            { alertname: 'A', eval_time: '5m', exp_alerts: [{}] },
            { alertname: 'B', eval_time: '5m' },
          ],
        },
      ],
    };
    // Act / Assess
    expect(untestedAlerts(['A', 'B', 'C'], partial)).toEqual([
      'A: no test sees it stay quiet',
      'B: no test sees it fire',
      'C: no test sees it fire',
      'C: no test sees it stay quiet',
    ]);
  });

  it('each have a test in alerts.test.yml that sees them fire and one that sees them stay quiet', () => {
    // Prepare / Act
    const missing = untestedAlerts(
      alerts.map((a) => a.alert ?? ''),
      tests,
    );
    // Assess: add the missing cases to infra/local/prometheus/alerts.test.yml (docs/alerts.md)
    expect(missing).toEqual([]);
  });

  it('each say what is wrong and point to a runbook section of docs/alerts.md that exists', () => {
    // Prepare
    const anchors = headingAnchors(readFileSync(path.join(root, RUNBOOKS), 'utf8'));
    // Act
    const problems = alerts.flatMap((a) => {
      const found: string[] = [];
      for (const key of ['summary', 'description', 'runbook']) {
        if (!a.annotations?.[key]?.trim()) found.push(`${a.alert}: no ${key}`);
      }
      const runbook = a.annotations?.runbook ?? '';
      const anchor = /^docs\/alerts\.md#(.+)$/.exec(runbook)?.[1];
      if (anchor === undefined || !anchors.has(anchor)) found.push(`${a.alert}: runbook ${runbook} is no heading of ${RUNBOOKS}`);
      return found;
    });
    // Assess
    expect(headingAnchors('## DeadLettersGrowing\n## The local stack: Prometheus')).toEqual(
      new Set(['deadlettersgrowing', 'the-local-stack-prometheus']),
    );
    expect(problems).toEqual([]);
  });
});
