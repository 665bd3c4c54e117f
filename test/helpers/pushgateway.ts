/** A Pushgateway of a test's own (Debian's binary), in memory only, on a port of its own. */
import { spawn, spawnSync } from 'node:child_process';
import { deleteGroup, fetchGroups } from '@simple-time-service/fleet-metrics';
import { waitFor } from './wait-for';

export interface OwnPushgateway {
  url: string;
  stop: () => Promise<void>;
}

/**
 * Debian's Pushgateway on 127.0.0.1:`port`, keeping nothing on disk: its default persistence
 * file is /var/lib/prometheus/pushgateway.data, shared with every other Pushgateway on the machine.
 */
export async function startPushgateway(port: number): Promise<OwnPushgateway> {
  const bin = ['prometheus-pushgateway', 'pushgateway'].find((name) => spawnSync('sh', ['-c', `command -v ${name}`]).status === 0);
  if (!bin) throw new Error('no Pushgateway: apt-get install prometheus-pushgateway (.ci/run installs it)');
  const child = spawn(bin, [`--web.listen-address=127.0.0.1:${port}`, '--persistence.file='], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`the Pushgateway exited: ${output}`);
        return (await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) })).ok ? true : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 100, what: `a Pushgateway on ${url}` },
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, stop };
}

/** Deletes every group a test pushed under its own `job` (whatever the rest of each group's key). */
export async function deletePushedGroups(url: string, job: string): Promise<void> {
  const groups = await fetchGroups({ url, timeoutMs: 2000, job }).catch(() => []);
  for (const group of groups) await deleteGroup({ url, timeoutMs: 2000, labels: group.labels }).catch(() => undefined);
}
