/**
 * What the local stack keeps from other local users and from the web pages a developer
 * opens: no password on a command line (the process list is readable by every user), no
 * secret in a file others can read, the Pushgateway's admin API off, and no write to the
 * Pushgateway without its credentials (a page on another site can POST to 127.0.0.1 without
 * any preflight). On a state directory and ports of the test's own (27100-27119).
 */
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait-for';
import { parseEnvLines } from '../helpers/private-broker';
import { privateStack } from './local-stack-support';
import type { PrivateStack } from './local-stack-support';

const BASE = 27100;
const PORTS = { kafka: BASE, controller: BASE + 1, pushgateway: BASE + 2, prometheus: BASE + 3 };
const METRICS_TOKEN = 'local-stack-secrets-test-token';

/** Every process's arguments, read from /proc, until stopped: what `ps` shows any user. */
function watchCommandLines(): { seen: Set<string>; stop: () => void } {
  const seen = new Set<string>();
  const scan = () => {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
        if (args.length > 0) seen.add(args.split('\0').join(' '));
      } catch {
        // gone meanwhile
      }
    }
  };
  const timer = setInterval(scan, 25);
  return { seen, stop: () => clearInterval(timer) };
}

function modeOf(file: string): number {
  return statSync(file).mode & 0o777;
}

describe('the local stack keeps its secrets', () => {
  let stack: PrivateStack;
  const watcher = watchCommandLines();
  const passwords: string[] = [];

  beforeAll(async () => {
    stack = privateStack(BASE, {
      prometheus: true,
      extra: { LOCAL_KAFKA_SASL: 'on', LOCAL_KAFKA_SASL_PORT: String(BASE + 4), LOCAL_KAFKA_TLS_PORT: String(BASE + 5), METRICS_TOKEN },
    });
    // The storage is formatted with the SCRAM user (kafka-storage), then the user is set
    // again on the running broker (kafka-configs) once its password changed.
    const first = await stack.run('start', {}, 180_000);
    expect(first.code, first.out).toBe(0);
    const security = path.join(stack.dir, 'security');
    passwords.push(readFileSync(path.join(security, 'scram-password'), 'utf8').trim());
    rmSync(path.join(security, 'scram-password'));
    const second = await stack.run('start', {}, 180_000);
    expect(second.code, second.out).toBe(0);
    expect(second.out).toContain('setting the SCRAM user');
    passwords.push(readFileSync(path.join(security, 'scram-password'), 'utf8').trim());
    watcher.stop();
  }, 420_000);

  afterAll(async () => {
    watcher.stop();
    await stack?.destroy();
  }, 120_000);

  it('never passes the SCRAM password on a command line: neither to the storage tool nor to kafka-configs', () => {
    // Assess: the tools ran (their java command lines were seen), without the password
    const tools = [...watcher.seen].filter(
      (args) => args.startsWith('java ') && args.includes(stack.dir) && !args.includes('kafka.Kafka '),
    );
    expect(tools.length).toBeGreaterThan(0);
    expect(passwords.every((p) => /^[A-Za-z0-9_-]{16,}$/.test(p))).toBe(true);
    for (const password of passwords) {
      expect([...watcher.seen].filter((args) => args.includes(password))).toEqual([]);
    }
  });

  it('renders the Prometheus config that holds METRICS_TOKEN readable by its owner only, and keeps every credential file so', () => {
    // Prepare
    const config = path.join(stack.dir, 'prometheus', 'prometheus.yml');

    // Assess
    expect(readFileSync(config, 'utf8')).toContain(METRICS_TOKEN);
    expect(modeOf(config).toString(8)).toBe('600');
    expect(modeOf(path.join(stack.dir, 'security')).toString(8)).toBe('700');
    for (const file of readdirSync(path.join(stack.dir, 'pushgateway')).filter((f) => /credential|web/.test(f))) {
      expect(modeOf(path.join(stack.dir, 'pushgateway', file)).toString(8), file).toBe('600');
    }
  });

  it('runs the Pushgateway without its admin API: no wiping every group over HTTP', async () => {
    // Act
    const wipe = await fetch(`http://127.0.0.1:${PORTS.pushgateway}/api/v1/admin/wipe`, {
      method: 'PUT',
      signal: AbortSignal.timeout(5000),
    });

    // Assess
    expect(wipe.status).not.toBe(202);
    expect([401, 404]).toContain(wipe.status);
  });

  it('refuses a write from a page of another site (a simple cross-origin POST) and any write without its credentials', async () => {
    // Prepare: what a form or fetch() on any web page can send to 127.0.0.1 without a preflight
    const job = `sts-injected-${Date.now()}`;
    const injection = {
      method: 'POST',
      headers: { origin: 'https://attacker.example', 'content-type': 'text/plain' },
      body: 'injected_series 1\n',
      signal: AbortSignal.timeout(5000),
    };
    const env = parseEnvLines((await stack.run('env', { KAFKA_AUTH: 'none' }, 30_000)).out);
    const url = new URL(env.PUSHGATEWAY_URL ?? `http://127.0.0.1:${PORTS.pushgateway}`);
    const authorization = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`;
    const base = `http://127.0.0.1:${PORTS.pushgateway}`;

    // Act
    const crossOrigin = await fetch(`${base}/metrics/job/${job}`, injection);
    const plain = await fetch(`${base}/metrics/job/${job}`, { ...injection, headers: { 'content-type': 'text/plain' } });
    const read = await fetch(`${base}/api/v1/metrics`, { headers: { authorization }, signal: AbortSignal.timeout(5000) });
    const withCredentials = await fetch(`${base}/metrics/job/${job}`, {
      ...injection,
      headers: { authorization, 'content-type': 'text/plain' },
    });
    const cleanup = await fetch(`${base}/metrics/job/${job}`, {
      method: 'DELETE',
      headers: { authorization },
      signal: AbortSignal.timeout(5000),
    });

    // Assess
    expect(crossOrigin.status).toBe(401);
    expect(plain.status).toBe(401);
    expect(await read.text()).not.toContain(job);
    expect(url.username).not.toBe('');
    expect([200, 202]).toContain(withCredentials.status);
    expect(cleanup.status).toBe(202);
  });

  it("scrapes the Pushgateway with its credentials: Prometheus's target is up", async () => {
    // Act / Assess: bounded by the scrape interval
    await waitFor(
      async () => {
        const response = await fetch(
          `http://127.0.0.1:${PORTS.prometheus}/api/v1/query?query=${encodeURIComponent('up{job="pushgateway"}')}`,
          { signal: AbortSignal.timeout(5000) },
        );
        const body = (await response.json()) as { data?: { result?: Array<{ value: [number, string] }> } };
        return body.data?.result?.[0]?.value[1] === '1' ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500, what: "Prometheus's scrape of the Pushgateway to be up" },
    );
  });
});
