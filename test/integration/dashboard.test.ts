/**
 * The local dashboard (infra/local/prometheus/consoles/simple-time-service.html), as a
 * person sees it: traffic goes through `serverless offline` (GET /, health, status,
 * publish, commands, GET /metrics, the scheduled lag run, a poison record, and a
 * Pushgateway that refuses the first pushes) on topics of its own and the shared broker;
 * its own Pushgateway (Debian's, in memory only) and a Prometheus started by
 * infra/local/stack.sh with a state folder and port of the test's own (so the console
 * flags under test are stack.sh's, and the page shows this run only); then headless
 * Chromium (Debian's `chromium`) opens the page. Every panel
 * must show series with samples (the panels that count things, a value above 0), the
 * panels keyed by topic or group must show this test's own, and the page must load
 * without an error. A screenshot is saved (DASHBOARD_SCREENSHOT, or the temp folder).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Admin } from 'kafkajs';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config';
import { CONSUMER_FUNCTIONS, consumerGroupId } from '../../src/consumers/functions';
import { createEvent } from '../../src/events';
import { createTopic, testConfig, testKafka, uniqueName, uniqueServiceTopics } from '../helpers/kafka';
import { scheduledEvent } from '../helpers/lambda';
import { startService } from '../helpers/offline';
import type { Offline } from '../helpers/offline';
import { startPushgateway } from '../helpers/pushgateway';
import type { OwnPushgateway } from '../helpers/pushgateway';

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

const topics = uniqueServiceTopics('dash');
const group = uniqueName('dash-group');
const consumerGroups = CONSUMER_FUNCTIONS.map((fn) => consumerGroupId(loadConfig({ KAFKA_CONSUMER_GROUP: group }).kafka, fn));

/** What the tests read in the page (the DOM types are not in this project's lib). */
interface PageElement {
  textContent: string | null;
  querySelector: (selector: string) => PageElement | null;
  querySelectorAll: (selector: string) => ArrayLike<PageElement>;
}
interface QueryAnswer {
  status: string;
  data: { result: Array<{ metric: Record<string, string>; values: Array<[number, string]> }> };
}
interface InPage {
  document: PageElement & { documentElement: { scrollHeight: number } };
  PromConsole?: { _graph_registry: Array<{ rendered_data: unknown }> };
  /** The page's own table of panels, each with its PromConsole.Graph. */
  panels: Array<{
    id: string;
    title: string;
    graph: { params: { expr: string[] }; rendered_data: QueryAnswer[]; graphTd: PageElement; legendDiv: PageElement };
  }>;
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
  let admin: Admin | undefined;
  let pushgateway: OwnPushgateway | undefined;
  let door: Awaited<ReturnType<typeof startPushgatewayDoor>> | undefined;
  let offline: Offline | undefined;
  let browser: Browser | undefined;
  let stackStarted = false;

  beforeAll(async () => {
    admin = kafka.admin();
    await admin.connect();
    for (const topic of Object.values(topics)) await createTopic(admin, topic, 3);
    pushgateway = await startPushgateway(PUSHGATEWAY_PORT);
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
    const init: RequestInit = { method, signal: AbortSignal.timeout(10_000), headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' } };
    if (body !== undefined) init.body = JSON.stringify(body);
    const response = await fetch(`${offline!.baseUrl}${route}`, init);
    await response.arrayBuffer();
    return response.status;
  }

  async function wave(index: number): Promise<void> {
    // The first wave meets a Pushgateway that refuses pushes; the next ones deliver the count.
    door!.failing = index === 0;
    const statuses: number[] = [];
    for (let i = 0; i < 4 + index; i++) statuses.push(await call('GET', '/'));
    statuses.push(await call('GET', '/healthz'), await call('GET', '/kafka/status'), await call('GET', '/metrics'));
    statuses.push(await call('POST', '/kafka/publish', { event_type: 'custom_event', data: { wave: index } }));
    statuses.push(await call('POST', '/kafka/publish', { event_type: 'time.now', topic: topics.commands, data: { timezone: 'Europe/Paris' } }));
    expect(statuses.filter((s) => s >= 300)).toEqual([]);
    if (index % 2 === 1) {
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
    // The scheduled run of the metrics function: consumer-group lag.
    const lag = await fetch(`http://127.0.0.1:${LAMBDA_PORT}/2015-03-31/functions/${SERVICE}-local-metrics/invocations`, {
      method: 'POST',
      body: JSON.stringify(scheduledEvent()),
      signal: AbortSignal.timeout(20_000),
    });
    expect(lag.status).toBe(200);
    await lag.arrayBuffer();
  }

  /** The page over the time since `since` (and a little before), as the time control would set it. */
  async function panelReports(page: Page, since: number): Promise<PanelReport[]> {
    const duration = Math.ceil((Date.now() - since) / 1000) + 10;
    await page.goto(`${pageUrl}#pctc${encodeURIComponent(JSON.stringify({ duration, endTime: 0 }))}`);
    // Bounded: PromConsole renders each graph once all of its queries have answered.
    await page.waitForFunction(
      () => {
        const registry = (globalThis as unknown as InPage).PromConsole?._graph_registry;
        return registry !== undefined && registry.length > 0 && registry.every((g) => g.rendered_data !== null);
      },
      null,
      { timeout: 30_000 },
    );
    return page.evaluate(() => {
      const { panels } = globalThis as unknown as InPage;
      return panels.map((panel) => {
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
      });
    });
  }

  /** A panel has data when it shows series with samples; a panel that counts, a value above 0. */
  function missingData(reports: PanelReport[]): string[] {
    const mayBeZero = new Set(['lag']);
    return reports
      .filter((r) => r.error !== null || r.samples === 0 || (!mayBeZero.has(r.id) && !(r.max > 0)))
      .map((r) => `${r.title}: ${r.series.length} series, ${r.samples} samples, max ${r.max}, error ${r.error} (${r.exprs.join(' ; ')})`);
  }

  it('shows data in every panel after a few waves of traffic, with this run in it', async () => {
    // Act
    const trafficStarted = Date.now();
    for (let i = 0; i < WAVES; i++) {
      await wave(i);
      await sleep(WAVE_GAP_MS);
    }
    expect(door!.refused, 'pushes refused while the Pushgateway door was shut').toBeGreaterThan(0);

    browser = await chromium.launch({ executablePath: CHROMIUM });
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });
    page.on('response', (response) => {
      if (response.status() >= 400) problems.push(`${response.status()} ${response.url()}`);
    });

    // Prometheus scrapes every 5 s: the last wave's counts reach it within a few scrapes.
    let reports = await panelReports(page, trafficStarted);
    const deadline = Date.now() + 45_000;
    while (missingData(reports).length > 0 && Date.now() < deadline) {
      await sleep(3_000);
      reports = await panelReports(page, trafficStarted);
    }
    for (const r of reports) console.log(`${r.id}: ${r.series.length} series, ${r.samples} samples, max ${r.max}`);

    // Assess
    expect(reports.map((r) => r.id)).toEqual(['requests', 'latency', 'produced', 'consumed', 'lag', 'age', 'dead-letters', 'failed-pushes']);
    expect(missingData(reports)).toEqual([]);
    const seriesOf = (id: string) => reports.find((r) => r.id === id)?.series ?? [];
    expect(seriesOf('requests')).toEqual(expect.arrayContaining(['GET /', 'GET /healthz', 'GET /kafka/status', 'POST /kafka/publish', 'GET /metrics']));
    expect(seriesOf('produced')).toEqual(expect.arrayContaining([topics.requests, topics.events, topics.commands, topics.dlq]));
    expect(seriesOf('consumed')).toEqual(expect.arrayContaining(['onHttpRequest', 'onHttpResponse', 'onCommand', 'onCustomEvent']));
    expect(seriesOf('lag')).toEqual(expect.arrayContaining(consumerGroups));
    expect(seriesOf('dead-letters')).toContain(`not_json from ${topics.requests}`);
    expect(seriesOf('failed-pushes').some((s) => s.endsWith(' error'))).toBe(true);
    expect(problems).toEqual([]);

    // The screenshot: the whole page in one viewport, so the time control sits at the bottom.
    const height = await page.evaluate(() => (globalThis as unknown as InPage).document.documentElement.scrollHeight);
    await page.setViewportSize({ width: 1400, height });
    await page.waitForFunction(() => (globalThis as unknown as InPage).document.querySelectorAll('.rickshaw_graph svg').length >= 8, null, {
      timeout: 10_000,
    });
    await page.screenshot({ path: screenshotPath });
    console.log(`dashboard screenshot: ${screenshotPath} (${fs.statSync(screenshotPath).size} bytes)`);
  }, 240_000);
});
