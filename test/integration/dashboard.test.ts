/**
 * The local dashboard (infra/local/prometheus/consoles/simple-time-service.html) and the
 * alerts page, as a person sees them: traffic goes through `serverless offline` (GET /,
 * health, status, publish, commands, GET /metrics, the scheduled lag run, a poison record,
 * and a Pushgateway that refuses the first pushes) on topics of its own and the shared
 * broker; its own Pushgateway (Debian's, in memory only), where a benchmark's group (the
 * job and stage of bench/service.ts) and another stage of the service push beside it; and a
 * Prometheus started by infra/local/stack.sh with a state folder and port of the test's own
 * (so the console flags and rules under test are stack.sh's). Headless Chromium (Debian's
 * `chromium`) opens the page as `npm start` links it (?stage=<this checkout's stage>) and
 * checks: the default range (15 minutes); current values at the top; every panel showing
 * this traffic, with short legends; nothing of the benchmark nor of the other stage (which
 * the page shows only with every stage selected); 0 rather than "no data" where nothing is
 * wrong (and on a stage with no data at all); and Prometheus's alerts page listing every
 * alert of rules.yml. Screenshots are saved (DASHBOARD_SCREENSHOT and ALERTS_SCREENSHOT, or
 * the temp folder).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Admin } from 'kafkajs';
import { load } from 'js-yaml';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config';
import { CONSUMER_FUNCTIONS, consumerGroupId } from '../../src/consumers/functions';
import { BENCH_SERVICE } from '../../bench/service';
import { createEvent } from '../../src/events';
import { stageLabel } from '../../src/metrics';
import { createMetricsPusher } from '@simple-time-service/fleet-metrics';
import { createMetrics } from '../../src/metrics/container-metrics';
import { createTopic, testConfig, testKafka, uniqueName } from '../helpers/kafka';
import { scheduledEvent } from '../helpers/lambda';
import { startService } from '../helpers/offline';
import type { Offline } from '../helpers/offline';
import { startPushgateway } from '../helpers/pushgateway';
import type { OwnPushgateway } from '../helpers/pushgateway';
import { waitFor } from '../helpers/wait-for';

const run = promisify(execFile);
const repo = path.resolve(__dirname, '../..');
const stack = path.join(repo, 'infra/local/stack.sh');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const HTTP_PORT = 24300;
const LAMBDA_PORT = 24302;
const PUSHGATEWAY_PORT = 24391;
const PROMETHEUS_PORT = 24390;
const SERVICE = 'simple-time-service';
const TOKEN = 'dashboard-test-admin-token';
const WAVES = 5;
const WAVE_GAP_MS = 6_000; // a little more than the scrape interval (5 s)
const screenshotPath = process.env.DASHBOARD_SCREENSHOT ?? path.join(os.tmpdir(), 'simple-time-service-dashboard.png');
const alertsScreenshotPath = process.env.ALERTS_SCREENSHOT ?? path.join(os.tmpdir(), 'simple-time-service-alerts.png');
/** The stage label this checkout's functions push under (what `npm start` links with ?stage=). */
const STAGE = stageLabel('local', repo);
const OTHER_STAGE = 'other-stage';

// Topics sharing one prefix, as the service's own do (simple-time-service-requests, ...).
const base = uniqueName('dash');
const topics = { requests: `${base}-requests`, events: `${base}-events`, commands: `${base}-commands`, dlq: `${base}-dlq` };
const group = uniqueName('dash-group');
/** The consumer groups' names as the legends show them: without the prefix they share. */
const groupSuffixes = CONSUMER_FUNCTIONS.map((fn) =>
  consumerGroupId(loadConfig({ KAFKA_CONSUMER_GROUP: group }).kafka, fn).slice(group.length + 1),
);

/** What the tests read in the page (the DOM types are not in this project's lib). */
interface PageElement {
  id: string;
  textContent: string | null;
  querySelector: (selector: string) => PageElement | null;
  querySelectorAll: (selector: string) => ArrayLike<PageElement>;
  compareDocumentPosition: (other: PageElement) => number;
}
interface QueryAnswer {
  status: string;
  data: { result: Array<{ metric: Record<string, string>; values: Array<[number, string]> }> };
}
interface InPage {
  document: PageElement & { documentElement: { scrollHeight: number }; getElementById: (id: string) => PageElement | null };
  location: { hash: string };
  PromConsole?: { _graph_registry: Array<{ rendered_data: unknown; params: { duration: number } }> };
  /** The page's own table of panels, each with its PromConsole.Graph. */
  panels: Array<{
    id: string;
    title: string;
    graph: { params: { expr: string[] }; rendered_data: QueryAnswer[]; graphTd: PageElement; legendDiv: PageElement };
  }>;
  /** The page's current values at the top, each with its last value once read. */
  stats: Array<{ id: string; value?: number }>;
}

interface PanelReport {
  id: string;
  title: string;
  exprs: string[];
  series: string[];
  samples: number;
  max: number;
  error: string | null;
}

interface PageReport {
  panels: PanelReport[];
  /** Each stat's id, shown text and value. */
  stats: Array<{ id: string; text: string; value: number }>;
  stageOptions: string[];
  /** The time control's range, as shown and as the graphs use it (seconds). */
  range: { shown: string; seconds: number; hash: string };
  statsAbovePanels: boolean;
}

/**
 * The Pushgateway seen through a door that can be shut: while `failing`, every push is
 * answered 503 (the functions count a failed push); otherwise requests go through as they are.
 */
async function startPushgatewayDoor(target: URL): Promise<{ url: string; failing: boolean; refused: number; close: () => Promise<void> }> {
  const door = { url: '', failing: true, refused: 0, close: () => Promise.resolve() };
  const server = http.createServer((request, response) => {
    if (door.failing && (request.method === 'PUT' || request.method === 'POST')) {
      door.refused += 1;
      request.resume();
      response.writeHead(503, { 'content-type': 'text/plain' }).end('closed for the test');
      return;
    }
    const upstream = http.request(
      { host: target.hostname, port: target.port, path: request.url, method: request.method, headers: request.headers, timeout: 5_000 },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      },
    );
    upstream.on('timeout', () => upstream.destroy(new Error('Pushgateway timeout')));
    upstream.on('error', () => {
      if (!response.headersSent) response.writeHead(502);
      response.end();
    });
    request.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  door.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  door.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return door;
}

async function stackCommand(command: 'start' | 'stop', env: NodeJS.ProcessEnv): Promise<string> {
  const { stdout, stderr } = await run('bash', [stack, command], { env, timeout: 180_000 });
  return stdout + stderr;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * What must never show on the service's dashboard, pushed beside it: a benchmark's group (its
 * own job and stage, as bench/service.ts gives every benchmark; the function "local" and a
 * bench-* topic, as an in-process benchmark pushes), and another stage of the service.
 */
function foreignPushers(url: string): Array<() => Promise<unknown>> {
  const groups = [
    {
      grouping: { job: BENCH_SERVICE.SERVICE_NAME, stage: BENCH_SERVICE.STAGE, function: 'local', instance: 'bench' },
      route: '/bench',
      topic: 'bench-requests-x',
    },
    {
      grouping: { job: SERVICE, stage: OTHER_STAGE, function: `${SERVICE}-other-http`, instance: 'other' },
      route: '/other-stage',
      topic: 'other-stage-requests',
    },
  ];
  return groups.map(({ grouping, route, topic }) => {
    const metrics = createMetrics();
    const pusher = createMetricsPusher({ metrics, url, grouping, timeoutMs: 2_000, intervalMs: 0 });
    return () => {
      metrics.httpRequests.inc({ route, method: 'GET', status: '200' }, 10);
      metrics.kafkaMessagesSent.inc({ topic, status: 'success' }, 10);
      return pusher.push();
    };
  });
}

/** The alert names of the local rules. */
function alertNames(): string[] {
  const rules = load(fs.readFileSync(path.join(repo, 'infra/local/prometheus/rules.yml'), 'utf8')) as {
    groups: Array<{ rules: Array<{ alert?: string }> }>;
  };
  return rules.groups.flatMap((g) => g.rules).flatMap((r) => (r.alert === undefined ? [] : [r.alert]));
}

describe('the local dashboard in Prometheus', () => {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sts-dashboard-'));
  const stackEnv: NodeJS.ProcessEnv = {
    ...process.env,
    LOCAL_STACK_DIR: stateDir,
    LOCAL_PROMETHEUS_PORT: String(PROMETHEUS_PORT),
    // The shared broker and this test's Pushgateway: stack.sh starts Prometheus only.
    KAFKA_BROKERS: testConfig.kafka.brokers.join(','),
    PUSHGATEWAY_URL: `http://127.0.0.1:${PUSHGATEWAY_PORT}`,
  };
  const prometheusUrl = `http://127.0.0.1:${PROMETHEUS_PORT}`;
  const pageUrl = `${prometheusUrl}/consoles/simple-time-service.html`;
  const kafka = testKafka('sts-dashboard-test');
  const foreign = foreignPushers(`http://127.0.0.1:${PUSHGATEWAY_PORT}`);
  let admin: Admin | undefined;
  let pushgateway: OwnPushgateway | undefined;
  let door: Awaited<ReturnType<typeof startPushgatewayDoor>> | undefined;
  let offline: Offline | undefined;
  let browser: Browser | undefined;
  let page: Page | undefined;
  let stackStarted = false;
  let trafficStarted = 0;
  const problems: string[] = [];

  beforeAll(async () => {
    admin = kafka.admin();
    await admin.connect();
    for (const topic of Object.values(topics)) await createTopic(admin, topic, 3);
    pushgateway = await startPushgateway(PUSHGATEWAY_PORT);
    for (const push of foreign) expect(await push()).toBe('success');
    stackStarted = true;
    const started = await stackCommand('start', stackEnv);
    expect(started, started).toContain(`prometheus ready: UI on ${prometheusUrl}`);
    door = await startPushgatewayDoor(new URL(`http://127.0.0.1:${PUSHGATEWAY_PORT}`));
    offline = await startService({
      httpPort: HTTP_PORT,
      lambdaPort: LAMBDA_PORT,
      topics,
      group,
      // Every invocation pushes, so each wave reaches the Pushgateway.
      env: { ADMIN_TOKEN: TOKEN, PUSHGATEWAY_URL: door.url, METRICS_PUSH_INTERVAL_MS: '0' },
    });
    browser = await chromium.launch({ executablePath: CHROMIUM });
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });
    page.on('response', (response) => {
      if (response.status() >= 400) problems.push(`${response.status()} ${response.url()}`);
    });
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await offline?.stop();
    await door?.close();
    if (stackStarted) await stackCommand('stop', stackEnv).catch((error: unknown) => console.log(`stack.sh stop: ${String(error)}`));
    await pushgateway?.stop();
    fs.rmSync(stateDir, { recursive: true, force: true });
    // The topics and consumer groups (all named by uniqueName) go with test/helpers/cleanup.ts.
    await admin?.disconnect();
  }, 120_000);

  async function call(method: string, route: string, body?: unknown): Promise<number> {
    const init: RequestInit = {
      method,
      signal: AbortSignal.timeout(10_000),
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    };
    if (body !== undefined) init.body = JSON.stringify(body);
    const response = await fetch(`${offline!.baseUrl}${route}`, init);
    await response.arrayBuffer();
    return response.status;
  }

  async function sendPoisonAndBurst(index: number): Promise<void> {
    // A record nobody can process (onHttpRequest dead-letters it), and a burst of events
    // just before the lag is read, which the consumers have not caught up with yet.
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: topics.requests, messages: [{ key: `poison-${index}`, value: 'not json' }] });
    const burst = Array.from({ length: 40 }, (_, i) => ({
      key: `burst-${i}`,
      value: JSON.stringify(createEvent({ eventType: 'custom_event', data: { i }, source: 'dashboard-test' })),
    }));
    await producer.send({ topic: topics.events, messages: burst });
    await producer.disconnect();
  }

  async function wave(index: number): Promise<void> {
    // The first wave meets a Pushgateway that refuses pushes; the next ones deliver the count.
    door!.failing = index === 0;
    const statuses: number[] = [];
    for (let i = 0; i < 4 + index; i++) statuses.push(await call('GET', '/'));
    statuses.push(await call('GET', '/healthz'), await call('GET', '/kafka/status'), await call('GET', '/metrics'));
    statuses.push(await call('POST', '/kafka/publish', { event_type: 'custom_event', data: { wave: index } }));
    statuses.push(
      await call('POST', '/kafka/publish', { event_type: 'time.now', topic: topics.commands, data: { timezone: 'Europe/Paris' } }),
    );
    expect(statuses.filter((s) => s >= 300)).toEqual([]);
    if (index % 2 === 1) await sendPoisonAndBurst(index);
    for (const push of foreign) await push();
    // The scheduled run of the metrics function: consumer-group lag.
    const lag = await fetch(`http://127.0.0.1:${LAMBDA_PORT}/2015-03-31/functions/${SERVICE}-local-metrics/invocations`, {
      method: 'POST',
      body: JSON.stringify(scheduledEvent()),
      signal: AbortSignal.timeout(20_000),
    });
    expect(lag.status).toBe(200);
    await lag.arrayBuffer();
  }

  /**
   * The page at `query` (and `hash`, as the time control sets it), once every graph has
   * rendered and every stat has been read (bounded: 30 s).
   */
  async function openPage(query: string, hash = ''): Promise<PageReport> {
    // A page of its own each time: a URL that differs only in its hash would not load anew.
    await page!.goto('about:blank');
    await page!.goto(`${pageUrl}${query}${hash}`);
    await page!.waitForFunction(
      () => {
        const inPage = globalThis as unknown as InPage;
        const registry = inPage.PromConsole?._graph_registry;
        return (
          registry !== undefined &&
          registry.length > 0 &&
          registry.every((g) => g.rendered_data !== null) &&
          inPage.stats.every((s) => s.value !== undefined)
        );
      },
      null,
      { timeout: 30_000 },
    );
    return page!.evaluate(() => {
      const { panels, stats, document, location, PromConsole } = globalThis as unknown as InPage;
      return {
        panels: panels.map((panel) => {
          const results = panel.graph.rendered_data.flatMap((answer) => answer.data.result);
          const values = results.flatMap((r) => r.values.map(([, v]) => Number(v))).filter((v) => Number.isFinite(v));
          const statuses = panel.graph.rendered_data.map((answer) => answer.status).filter((s) => s !== 'success');
          return {
            id: panel.id,
            title: panel.title,
            exprs: panel.graph.params.expr,
            series: Array.from(panel.graph.legendDiv.querySelectorAll('.label')).map((label) => label.textContent ?? ''),
            samples: values.length,
            max: values.length > 0 ? Math.max(...values) : Number.NaN,
            error: statuses.length > 0 ? statuses.join(',') : (panel.graph.graphTd.querySelector('.prom_graph_error')?.textContent ?? null),
          };
        }),
        stats: stats.map((stat) => ({
          id: stat.id,
          text: document.getElementById(`stat-${stat.id}`)?.querySelector('.sts-stat-value')?.textContent ?? '',
          value: stat.value ?? Number.NaN,
        })),
        stageOptions: Array.from(document.querySelectorAll('#sts-stage-select option')).map((o) => o.textContent ?? ''),
        range: {
          shown: (document.getElementById('prom_graph_duration') as unknown as { value: string }).value,
          seconds: PromConsole?._graph_registry[0]?.params.duration ?? Number.NaN,
          hash: location.hash,
        },
        // Node.DOCUMENT_POSITION_FOLLOWING: the panels come after the stats.
        statsAbovePanels: (document.getElementById('sts-stats')!.compareDocumentPosition(document.getElementById('sts-panels')!) & 4) === 4,
      };
    });
  }

  /** The page over the time since the traffic started (and a little before). */
  function sinceTraffic(): string {
    const duration = Math.ceil((Date.now() - trafficStarted) / 1000) + 10;
    return `#pctc${encodeURIComponent(JSON.stringify({ duration, endTime: 0 }))}`;
  }

  /** A panel has data when it shows series with samples; a panel that counts, a value above 0. */
  function missingData(report: PageReport): string[] {
    const mayBeZero = new Set(['lag', 'errors']);
    return report.panels
      .filter((r) => r.error !== null || r.samples === 0 || (!mayBeZero.has(r.id) && !(r.max > 0)))
      .map((r) => `${r.title}: ${r.series.length} series, ${r.samples} samples, max ${r.max}, error ${r.error} (${r.exprs.join(' ; ')})`);
  }

  /** The legends of a panel. */
  const seriesOf = (report: PageReport, id: string) => report.panels.find((r) => r.id === id)?.series ?? [];
  const statOf = (report: PageReport, id: string) => report.stats.find((s) => s.id === id);

  it("shows this stage's traffic in every panel, current values at the top, short legends, and nothing of a benchmark or another stage", async () => {
    // Act
    trafficStarted = Date.now();
    for (let i = 0; i < WAVES; i++) {
      await wave(i);
      await sleep(WAVE_GAP_MS);
    }
    expect(door!.refused, 'pushes refused while the Pushgateway door was shut').toBeGreaterThan(0);
    // Prometheus scrapes every 5 s: the last wave's counts reach it within a few scrapes.
    let report = await openPage(`?stage=${STAGE}`, sinceTraffic());
    const deadline = Date.now() + 45_000;
    while ((missingData(report).length > 0 || !(statOf(report, 'dead-letters')!.value > 0)) && Date.now() < deadline) {
      await sleep(3_000);
      report = await openPage(`?stage=${STAGE}`, sinceTraffic());
    }
    for (const r of report.panels)
      console.log(`${r.id}: ${r.series.length} series, ${r.samples} samples, max ${r.max}: ${r.series.join(' | ')}`);
    console.log(`stats: ${report.stats.map((s) => `${s.id}=${s.text}`).join(' ')}`);

    // Assess
    expect(report.panels.map((r) => r.id)).toEqual([
      'requests',
      'errors',
      'latency',
      'produced',
      'consumed',
      'dead-letters',
      'lag',
      'age',
      'failed-pushes',
    ]);
    expect(missingData(report)).toEqual([]);
    expect(seriesOf(report, 'requests')).toEqual(
      expect.arrayContaining(['GET /', 'GET /healthz', 'GET /kafka/status', 'POST /kafka/publish', 'GET /metrics']),
    );
    expect(seriesOf(report, 'produced')).toEqual(expect.arrayContaining(['requests', 'events', 'commands', 'dlq']));
    expect(seriesOf(report, 'consumed')).toEqual(expect.arrayContaining(['onHttpRequest', 'onHttpResponse', 'onCommand', 'onCustomEvent']));
    expect(seriesOf(report, 'lag')).toEqual(expect.arrayContaining(groupSuffixes));
    expect(seriesOf(report, 'age')).toEqual(expect.arrayContaining(['onHttpRequest', 'onCustomEvent']));
    expect(seriesOf(report, 'dead-letters')).toContain('not_json requests');
    expect(seriesOf(report, 'failed-pushes').some((s) => s.endsWith(' error'))).toBe(true);
    // No 5xx in this traffic: the ratio panel draws 0 per route
    expect(report.panels.find((r) => r.id === 'errors')).toMatchObject({ max: 0, error: null });
    // Short legends: no test or service prefix, no Pushgateway label
    const legends = report.panels.flatMap((r) => r.series);
    expect(legends.filter((l) => l.length > 30 || l.includes(base) || l.includes(group) || l.includes('undefined'))).toEqual([]);
    // Nothing of the benchmark's job nor of the other stage
    expect(legends.filter((l) => /bench|other-stage|\blocal\b/.test(l))).toEqual([]);
    expect(report.stageOptions).toEqual(expect.arrayContaining(['all', STAGE, OTHER_STAGE]));
    expect(report.stageOptions.filter((o) => o.includes(BENCH_SERVICE.STAGE))).toEqual([]);
    // Current values at the top
    expect(report.statsAbovePanels).toBe(true);
    expect(report.stats.map((s) => s.id)).toEqual([
      'alerts',
      'requests',
      'error-ratio',
      'latency',
      'lag',
      'age',
      'dead-letters',
      'failed-pushes',
    ]);
    expect(statOf(report, 'requests')!.value).toBeGreaterThan(0);
    expect(statOf(report, 'error-ratio')!.text).toBe('0%');
    expect(statOf(report, 'dead-letters')!.value).toBeGreaterThan(0);
    expect(statOf(report, 'dead-letters')!.text).toMatch(/^[1-9]\d*$/);
    expect(statOf(report, 'failed-pushes')!.value).toBeGreaterThan(0);
    expect(problems).toEqual([]);

    // The screenshot: the whole page in one viewport, so the time control sits at the bottom.
    const height = await page!.evaluate(() => (globalThis as unknown as InPage).document.documentElement.scrollHeight);
    await page!.setViewportSize({ width: 1400, height });
    await page!.waitForFunction(
      () => (globalThis as unknown as InPage).document.querySelectorAll('.rickshaw_graph svg').length >= 9,
      null,
      {
        timeout: 10_000,
      },
    );
    await page!.screenshot({ path: screenshotPath });
    console.log(`dashboard screenshot: ${screenshotPath} (${fs.statSync(screenshotPath).size} bytes)`);
  }, 240_000);

  it('opens on the last 15 minutes, shows every stage of the service only when asked, and never the benchmark', async () => {
    // Act
    await page!.setViewportSize({ width: 1400, height: 900 });
    const linked = await openPage(`?stage=${STAGE}`);
    const every = await openPage('');
    // Assess
    expect(linked.range).toMatchObject({ shown: '15m', seconds: 900 });
    expect(linked.range.hash).toMatch(/^#pctc/);
    expect(seriesOf(every, 'requests')).toContain('GET /other-stage');
    expect(seriesOf(linked, 'requests')).not.toContain('GET /other-stage');
    expect(every.panels.flatMap((r) => r.series).filter((l) => /bench/.test(l))).toEqual([]);
    expect(problems).toEqual([]);
  });

  it('draws 0, not "No timeseries returned", on a stage with nothing to show', async () => {
    // Act
    const report = await openPage('?stage=no-such-stage');
    // Assess
    const notZero = report.panels
      .filter((r) => r.error !== null || r.samples === 0 || r.max !== 0)
      .map((r) => `${r.title}: ${r.samples} samples, max ${r.max}, ${r.error}`);
    expect(notZero).toEqual([]);
    expect(report.stats.filter((s) => s.value !== 0).map((s) => `${s.id}=${s.text}`)).toEqual([]);
    expect(report.stageOptions).toContain('no-such-stage (no data)');
    expect(problems).toEqual([]);
  });

  it("lists every alert of the local rules on Prometheus's alerts page, and the dead letters' one firing", async () => {
    // Act
    await page!.goto(`${prometheusUrl}/classic/alerts`);
    const text = (await page!.textContent('body')) ?? '';
    const firing = await waitFor(
      async () => {
        const answer = (await (await fetch(`${prometheusUrl}/api/v1/alerts`, { signal: AbortSignal.timeout(5_000) })).json()) as {
          data: { alerts: Array<{ state: string; labels: Record<string, string> }> };
        };
        const found = answer.data.alerts
          .filter((a) => a.state === 'firing' && a.labels.stage === STAGE)
          .map((a) => a.labels.alertname ?? '');
        return found.includes('DeadLettersGrowing') ? found : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 1_000, what: 'DeadLettersGrowing to fire for this stage' },
    );
    // Assess
    expect(alertNames()).toHaveLength(8);
    expect(alertNames().filter((name) => !text.includes(name))).toEqual([]);
    expect(firing).toContain('DeadLettersGrowing');
    // The screenshot: the firing dead letters' alert opened, with its annotations.
    await page!.reload();
    await page!.setViewportSize({ width: 1400, height: 1100 });
    await page!.click('text=Show annotations');
    await page!.click('text=DeadLettersGrowing');
    await page!.screenshot({ path: alertsScreenshotPath, fullPage: true });
    console.log(`alerts screenshot: ${alertsScreenshotPath}`);
  });
});
