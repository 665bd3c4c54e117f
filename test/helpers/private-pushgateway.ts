/**
 * A Pushgateway (and a Prometheus) of a test's or benchmark's own: the same Debian
 * binaries the local stack runs, on a free loopback port, state in memory only, so a
 * test that prunes, folds or fills groups never touches the shared Pushgateway's groups.
 *
 * Debian's Pushgateway persists to /var/lib/prometheus/pushgateway.data unless told
 * otherwise, so the private one is always started with its own (empty) persistence file.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { closedPort } from './net';
import { waitFor } from './wait-for';

export interface PrivateProcess {
  url: string;
  pid: number;
  /** Resident memory of the process now, in bytes (from /proc). */
  rssBytes: () => number;
  /** Peak resident memory of the process so far, in bytes (VmHWM). */
  peakRssBytes: () => number;
  stop: () => Promise<void>;
}

function procStatus(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  return match?.[1] ? Number(match[1]) * 1024 : 0;
}

async function startProcess(params: {
  bin: string;
  args: (port: number, dir: string) => string[];
  what: string;
  readyPath: string;
  port?: number;
}): Promise<PrivateProcess> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sts-private-'));
  const port = params.port ?? (await closedPort());
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(params.bin, params.args(port, dir), { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`${params.what} exited: ${log}`);
        const response = await fetch(`${url}${params.readyPath}`, { signal: AbortSignal.timeout(1000) });
        return response.ok ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100, what: `${params.what} on ${url} to be ready` },
    );
  } catch (error) {
    await stop();
    throw error;
  }
  const pid = child.pid ?? 0;
  return { url, pid, rssBytes: () => procStatus(pid, 'VmRSS'), peakRssBytes: () => procStatus(pid, 'VmHWM'), stop };
}

/** A Pushgateway of one's own; `flags` are added to its command line. */
export function startPrivatePushgateway(params: { flags?: string[]; bin?: string; port?: number } = {}): Promise<PrivateProcess> {
  const options: Parameters<typeof startProcess>[0] = {
    bin: params.bin ?? process.env.PUSHGATEWAY_BIN ?? 'prometheus-pushgateway',
    args: (port, dir) => [
      `--web.listen-address=127.0.0.1:${port}`,
      `--persistence.file=${path.join(dir, 'pushgateway.data')}`,
      ...(params.flags ?? []),
    ],
    what: 'a private Pushgateway',
    readyPath: '/-/ready',
  };
  if (params.port !== undefined) options.port = params.port;
  return startProcess(options);
}

/** A Prometheus of one's own with the given configuration (YAML text). */
export function startPrivatePrometheus(params: { config: string; port?: number }): Promise<PrivateProcess> {
  const options: Parameters<typeof startProcess>[0] = {
    bin: 'prometheus',
    args: (port, dir) => {
      writeFileSync(path.join(dir, 'prometheus.yml'), params.config);
      return [
        `--config.file=${path.join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${path.join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ];
    },
    what: 'a private Prometheus',
    readyPath: '/-/ready',
  };
  if (params.port !== undefined) options.port = params.port;
  return startProcess(options);
}

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

/** One instant PromQL query against a Prometheus. */
export async function promQuery(url: string, query: string): Promise<PromSample[]> {
  const response = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(query)}`, { signal: AbortSignal.timeout(5000) });
  const answer = (await response.json()) as { status: string; error?: string; data?: { result: PromSample[] } };
  if (answer.status !== 'success') throw new Error(`PromQL ${query}: ${answer.error ?? response.status}`);
  return answer.data?.result ?? [];
}
