/**
 * infra/local/stack.sh and .ci/run start every time and touch only what is their own.
 * Every test here uses a stack of its own (its own state directory and ports in
 * 23100-23199), so the shared default stack keeps running untouched.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startPrivateBroker } from '../helpers/private-broker';
import { stackIsUp } from './global-setup';
import { waitFor } from '../helpers/wait-for';
import { alive, cleanEnv, pathWithout, privateStack, repo, runCommand, script, stackScript } from './local-stack-support';
import type { PrivateStack } from './local-stack-support';

const KAFKA_VERSION = '3.9.2';

// What a test made (folders, private stacks), undone after it whether it passed or not.
const undo: Array<() => unknown> = [];
afterEach(async () => {
  while (undo.length > 0) await undo.pop()!();
}, 120_000);

function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  undo.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function ownStack(...args: Parameters<typeof privateStack>): PrivateStack {
  const stack = privateStack(...args);
  undo.push(() => stack.destroy());
  return stack;
}

/** A long-lived process of the test's own, in its own process group. */
function background(command: string, args: string[]): ChildProcess {
  const child = spawn(command, args, { detached: true, stdio: 'ignore' });
  child.unref();
  return child;
}

function end(child: ChildProcess | undefined): void {
  if (child?.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // gone already
  }
}

async function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** The Authorization header for a stack's Pushgateway (it requires its credentials), or none. */
function pushgatewayAuth(dir: string | undefined): Record<string, string> {
  const file = dir === undefined ? undefined : path.join(dir, 'pushgateway', 'password');
  if (file === undefined || !existsSync(file)) return {};
  return { authorization: `Basic ${Buffer.from(`simple-time-service:${readFileSync(file, 'utf8').trim()}`).toString('base64')}` };
}

async function pushgatewayAnswers(port: number, dir?: string): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/api/v1/status`, {
      headers: pushgatewayAuth(dir),
      signal: AbortSignal.timeout(2000),
    });
    const body = (await response.json()) as { data?: { build_information?: unknown } };
    return response.ok && body.data?.build_information !== undefined;
  } catch {
    return false;
  }
}

async function pushgatewayFlag(port: number, flag: string, dir?: string): Promise<string | undefined> {
  const response = await fetch(`http://127.0.0.1:${port}/api/v1/status`, {
    headers: pushgatewayAuth(dir),
    signal: AbortSignal.timeout(2000),
  });
  const body = (await response.json()) as { data?: { flags?: Record<string, string> } };
  return body.data?.flags?.[flag];
}

describe('stack.sh with a running private broker', () => {
  // One private broker for the tests that need one running (23100-23103).
  let stack: PrivateStack;

  beforeAll(async () => {
    stack = privateStack(23100);
    const started = await stack.run('start');
    expect(started.code, started.out).toBe(0);
  }, 180_000);

  afterAll(async () => {
    await stack?.destroy();
  }, 120_000);

  it('adopts a running broker whose server.log has rolled over: readiness is a connection, not a log line', async () => {
    // Prepare: log4j's rollover, done by hand (the "started" line is now in server.log.1)
    const logs = path.join(stack.dir, `kafka-${KAFKA_VERSION}`, 'logs');
    renameSync(path.join(logs, 'server.log'), path.join(logs, 'server.log.1'));
    writeFileSync(path.join(logs, 'server.log'), '');
    const pid = stack.pid('kafka');

    // Act
    const again = await stack.run('start', { LOCAL_STACK_READY_TIMEOUT: '15' }, 60_000);

    // Assess
    expect(again.code, again.out).toBe(0);
    expect(again.out).toContain(`kafka already running (pid ${pid})`);
    expect(stack.pid('kafka')).toBe(pid);
  }, 90_000);

  it("is up for the tests' set-up while its broker and Pushgateway answer too slowly for status: a run never stops a stack it found", async () => {
    // Prepare: both frozen (SIGSTOP), as a loaded machine makes them miss status's few seconds
    const frozen = [stack.pid('kafka'), stack.pid('pushgateway')].filter((pid): pid is number => pid !== undefined);
    for (const pid of frozen) process.kill(pid, 'SIGSTOP');
    let status;
    try {
      // Act
      status = await stack.run('status', {}, 60_000);
    } finally {
      for (const pid of frozen) process.kill(pid, 'SIGCONT');
    }

    // Assess: status fails, which test/integration/global-setup.ts once read as "not running"
    // and stopped the stack after the run; its lines still say the stack is someone's
    expect(frozen).toHaveLength(2);
    expect(status.code, status.out).not.toBe(0);
    expect(status.out).toMatch(/^kafka +starting/m);
    expect(status.out).toMatch(/^pushgateway +starting/m);
    expect(stackIsUp(status.out)).toBe(true);
    expect(stackIsUp('kafka        stopped\npushgateway  stopped\nprometheus   stopped\n')).toBe(false);
  }, 90_000);

  it('refuses a LOCAL_STACK_READY_TIMEOUT that is not a whole number of seconds, without evaluating it', async () => {
    // Prepare: bash arithmetic would run the command substitution inside an array index
    const dir = tempDir('sts-timeout-');
    const marker = path.join(dir, 'evaluated');

    // Act
    const injected = await stack.run('start', { LOCAL_STACK_READY_TIMEOUT: `HOME[$(touch ${marker})]` }, 60_000);
    const words = await stack.run('start', { LOCAL_STACK_READY_TIMEOUT: '2 minutes' }, 60_000);

    // Assess
    expect(existsSync(marker)).toBe(false);
    expect(injected.code, injected.out).not.toBe(0);
    expect(injected.out).toContain('LOCAL_STACK_READY_TIMEOUT');
    expect(words.code, words.out).not.toBe(0);
    expect(words.out).toContain('LOCAL_STACK_READY_TIMEOUT');
  }, 90_000);

  it('takes only a real Pushgateway for a Pushgateway: an HTTP server answering 2xx everywhere is refused', async () => {
    // Prepare: any path answers 200, as a dev server or a proxy might
    const port = 23110;
    const server = http.createServer((_, response) => response.writeHead(200, { 'content-type': 'text/plain' }).end('OK'));
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    const other = ownStack(23108, { extra: { KAFKA_BROKERS: `127.0.0.1:${stack.ports.kafka}`, LOCAL_PUSHGATEWAY_PORT: String(port) } });

    // Act
    const started = await other.run('start', {}, 60_000);
    await new Promise<void>((resolve) => server.close(() => resolve()));

    // Assess
    expect(started.code, started.out).not.toBe(0);
    expect(started.out).toMatch(/not a Pushgateway/);
  }, 90_000);

  it("neither adopts nor stops a Pushgateway it did not start (Debian's own service)", async () => {
    // Prepare: a Pushgateway started outside the stack, as systemd would
    const port = 23111;
    const foreign = background('prometheus-pushgateway', [`--web.listen-address=127.0.0.1:${port}`]);
    const other = ownStack(23108, { extra: { KAFKA_BROKERS: `127.0.0.1:${stack.ports.kafka}`, LOCAL_PUSHGATEWAY_PORT: String(port) } });
    try {
      await waitFor(() => pushgatewayAnswers(port).then((ok) => (ok ? true : undefined)), {
        timeoutMs: 15_000,
        what: 'the foreign Pushgateway',
      });

      // Act
      const started = await other.run('start', {}, 60_000);
      const stopped = await other.run('stop', {}, 60_000);

      // Assess
      expect(started.code, started.out).not.toBe(0);
      expect(started.out).toMatch(/not started by this stack/);
      expect(stopped.code, stopped.out).toBe(0);
      expect(alive(foreign.pid)).toBe(true);
      expect(await pushgatewayAnswers(port)).toBe(true);
    } finally {
      end(foreign);
    }
  }, 90_000);

  it("renders configs literally when the state folder, the checkout path and PUSHGATEWAY_URL hold & # ' and \\", async () => {
    // Prepare: a checkout whose path holds them (links to this one), a state folder too
    const root = tempDir('sts-amp-');
    const checkout = path.join(root, "co&py#1'q");
    mkdirSync(checkout);
    for (const entry of readdirSync(repo)) {
      if (entry !== '.git') symlinkSync(path.join(repo, entry), path.join(checkout, entry));
    }
    const state = path.join(root, 'state&#x\\b');
    const odd = ownStack(23120, { prometheus: true, dir: state });
    const run = (command: string, extra: Record<string, string> = {}) =>
      runCommand('bash', [path.join(checkout, 'infra/local/stack.sh'), command], {
        env: { ...odd.env, ...extra },
        timeoutMs: 150_000,
        cwd: checkout,
      });

    // Act
    const started = await run('start');
    const status = await run('status');
    const withUrl = await run('start', { PUSHGATEWAY_URL: `http://127.0.0.1:${odd.ports.pushgateway}#a&b` });
    await run('stop');

    // Assess: every path is the real one, and everything written stays in the state folder
    expect(started.code, started.out).toBe(0);
    const kafkaHome = path.join(state, `kafka-${KAFKA_VERSION}`);
    const properties = readFileSync(path.join(kafkaHome, 'server.properties'), 'utf8');
    expect(properties).toContain(`\nlog.dirs=${kafkaHome.replaceAll('\\', '\\\\')}/data\n`);
    expect(existsSync(path.join(kafkaHome, 'data', 'meta.properties'))).toBe(true);
    expect(readFileSync(path.join(kafkaHome, 'logs', 'server.log'), 'utf8')).toContain('Kafka Server started');
    expect(status.out).toMatch(/^prometheus +running/m);
    const prometheusYml = readFileSync(path.join(state, 'prometheus', 'prometheus.yml'), 'utf8');
    expect(prometheusYml).toContain(`- '${checkout.replaceAll("'", "''")}/infra/local/prometheus/rules.yml'`);
    expect(readdirSync(root).sort()).toEqual(["co&py#1'q", 'state&#x\\b']);
    expect(withUrl.code, withUrl.out).toBe(0);
    expect(readFileSync(path.join(state, 'prometheus', 'prometheus.yml'), 'utf8')).toContain(
      `targets: ['127.0.0.1:${odd.ports.pushgateway}']`,
    );
  }, 240_000);

  it(".ci/run's exit trap stops a stack it started", async () => {
    // Prepare: here the "tests" start a Pushgateway of this stack and leave it running
    const bin = tempDir('sts-ci-bin-');
    const other = ownStack(23112, { extra: { KAFKA_BROKERS: `127.0.0.1:${stack.ports.kafka}` } });
    script(path.join(bin, 'npm'), `if [[ $1 == test ]]; then bash ${JSON.stringify(path.join(repo, 'infra/local/stack.sh'))} start; fi`);

    // Act
    const ci = await runCommand('bash', [path.join(repo, '.ci/run')], {
      env: { ...other.env, PATH: `${bin}:${process.env.PATH}` },
      timeoutMs: 120_000,
    });

    // Assess
    expect(ci.code, ci.out).toBe(0);
    expect(ci.out).toContain('pushgateway ready');
    expect(await listening(other.ports.pushgateway)).toBe(false);
  }, 150_000);

  it(".ci/run's exit trap leaves a stack that was running before it alone", async () => {
    // Prepare: npm stands in for `npm ci && npm test`
    const bin = tempDir('sts-ci-bin-');
    script(path.join(bin, 'npm'), 'exit 0');
    const pid = stack.pid('kafka');

    // Act
    const ci = await runCommand('bash', [path.join(repo, '.ci/run')], {
      env: { ...stack.env, PATH: `${bin}:${process.env.PATH}` },
      timeoutMs: 120_000,
    });

    // Assess
    expect(ci.code, ci.out).toBe(0);
    expect(alive(pid)).toBe(true);
    const status = await stack.run('status', {}, 30_000);
    expect(status.code, status.out).toBe(0);
  }, 150_000);
});

describe('stack.sh and pid files', () => {
  it('neither adopts nor stops processes whose command line merely contains kafka.Kafka or pushgateway; reset deletes only its own', async () => {
    // Prepare: pid files naming unrelated processes (a `tail -f` of the Pushgateway's log)
    const stack = ownStack(23130);
    mkdirSync(path.join(stack.dir, 'pushgateway'), { recursive: true });
    writeFileSync(path.join(stack.dir, 'pushgateway', 'pushgateway.log'), '');
    const tail = background('tail', ['-f', path.join(stack.dir, 'pushgateway', 'pushgateway.log')]);
    const notKafka = background('bash', [
      '-c',
      'sleep 600',
      'kafka.Kafka',
      path.join(stack.dir, `kafka-${KAFKA_VERSION}`, 'server.properties'),
    ]);
    writeFileSync(path.join(stack.dir, 'pushgateway.pid'), `${tail.pid}\n`);
    writeFileSync(path.join(stack.dir, 'kafka.pid'), `${notKafka.pid}\n`);
    try {
      // Act
      const stopped = await stack.run('stop', {}, 60_000);
      const started = await stack.run('start', { LOCAL_STACK_READY_TIMEOUT: '60' }, 150_000);

      // Assess: the stack started its own broker and Pushgateway, the others live on
      expect(stopped.code, stopped.out).toBe(0);
      expect(alive(tail.pid)).toBe(true);
      expect(alive(notKafka.pid)).toBe(true);
      expect(started.code, started.out).toBe(0);
      expect(stack.pid('kafka')).not.toBe(notKafka.pid);
      expect(stack.pid('pushgateway')).not.toBe(tail.pid);
      expect(await pushgatewayAnswers(stack.ports.pushgateway, stack.dir)).toBe(true);
      expect(await pushgatewayFlag(stack.ports.pushgateway, 'persistence.file', stack.dir)).toBe(
        path.join(stack.dir, 'pushgateway', 'metrics.store'),
      );
      const reset = await stack.run('reset', {}, 60_000, ['--yes']);
      expect(reset.code, reset.out).toBe(0);
      expect(alive(tail.pid)).toBe(true);
      expect(alive(notKafka.pid)).toBe(true);
      expect(readdirSync(stack.dir).filter((f) => f.startsWith('kafka-') || f === 'pushgateway')).toEqual([]);
    } finally {
      end(tail);
      end(notKafka);
      await stack.destroy();
    }
  }, 240_000);
});

describe('stack.sh commands', () => {
  it('prints its usage on stdout and exits 0 for help, -h and --help; an unknown or missing command exits 2 with the usage on stderr', async () => {
    // Prepare
    const stack = ownStack(23160);

    // Act
    const asked = await Promise.all(
      ['help', '-h', '--help'].map((command) => runCommand('bash', [stackScript, command], { env: stack.env, timeoutMs: 30_000 })),
    );
    const unknown = await stack.run('bogus', {}, 30_000);
    const missing = await runCommand('bash', [stackScript], { env: stack.env, timeoutMs: 30_000 });

    // Assess
    for (const run of asked) {
      expect(run.code, run.out).toBe(0);
      expect(run.out).toMatch(/^usage: /m);
      for (const command of ['start', 'stop', 'status', 'env', 'reset', 'help']) expect(run.out).toContain(`stack.sh ${command}`);
    }
    expect(unknown.code).toBe(2);
    expect(unknown.out).toContain('unknown command bogus');
    expect(unknown.out).toMatch(/^usage: /m);
    expect(missing.code).toBe(2);
  }, 60_000);

  it('reset says what it deletes and deletes nothing unless confirmed: --yes, or y at the prompt of npm run stack:reset', async () => {
    // Prepare: a state folder with data of each kind, nothing running
    const stack = ownStack(23164);
    const data = [`kafka-${KAFKA_VERSION}`, 'pushgateway', 'security', path.join('prometheus', 'data')];
    const fill = () => {
      for (const dir of data) mkdirSync(path.join(stack.dir, dir), { recursive: true });
      writeFileSync(path.join(stack.dir, 'security', 'scram-password'), 'x');
    };
    const present = () => data.filter((dir) => existsSync(path.join(stack.dir, dir)));
    fill();
    // npm run stack:reset in a terminal of its own (util-linux script), answering its prompt.
    const viaTerminal = (answer: string) =>
      runCommand('script', ['-qec', 'npm run -s stack:reset', '/dev/null'], { env: stack.env, timeoutMs: 60_000, input: `${answer}\n` });

    // Act
    const refused = await stack.run('reset', {}, 60_000);
    const keptAfterRefusal = present();
    const declined = await viaTerminal('n');
    const keptAfterNo = present();
    const accepted = await viaTerminal('y');
    const goneAfterYes = present();
    fill();
    const confirmed = await stack.run('reset', {}, 60_000, ['--yes']);

    // Assess
    expect(refused.code, refused.out).toBe(1);
    expect(refused.out).toContain(path.join(stack.dir, `kafka-${KAFKA_VERSION}`));
    expect(refused.out).toContain('--yes');
    expect(keptAfterRefusal).toEqual(data);
    expect(declined.out).toMatch(/Delete .*\? \[y\/N\]/);
    expect(declined.code, declined.out).toBe(1);
    expect(keptAfterNo).toEqual(data);
    expect(accepted.code, accepted.out).toBe(0);
    expect(goneAfterYes).toEqual([]);
    expect(confirmed.code, confirmed.out).toBe(0);
    expect(present()).toEqual([]);
  }, 120_000);
});

describe('stack.sh input checks', () => {
  it('refuses a KAFKA_VERSION that is not a version before any rm -rf', async () => {
    // Prepare: a version that climbs out of the state folder
    const root = tempDir('sts-version-');
    const stack = ownStack(23140, { dir: path.join(root, 'state') });
    mkdirSync(path.join(stack.dir, 'kafka-x'), { recursive: true });
    mkdirSync(path.join(root, 'victim'));
    writeFileSync(path.join(root, 'victim', 'keep'), "not the stack's");

    // Act
    const reset = await stack.run('reset', { KAFKA_VERSION: 'x/../../victim' }, 60_000, ['--yes']);

    // Assess
    expect(readFileSync(path.join(root, 'victim', 'keep'), 'utf8')).toBe("not the stack's");
    expect(reset.code, reset.out).not.toBe(0);
    expect(reset.out).toContain('KAFKA_VERSION');
  }, 90_000);

  it('bounds the Maven download: a registry that accepts and never answers fails start in time', async () => {
    // Prepare: a mirror that accepts connections and never answers, an empty cache
    const root = tempDir('sts-maven-');
    const port = 23159;
    const sockets: net.Socket[] = [];
    const registry = net.createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => registry.listen(port, '127.0.0.1', resolve));
    mkdirSync(path.join(root, 'home', '.m2'), { recursive: true });
    writeFileSync(
      path.join(root, 'home', '.m2', 'settings.xml'),
      `<settings><mirrors><mirror><id>silent</id><mirrorOf>*</mirrorOf><url>http://127.0.0.1:${port}/maven2</url></mirror></mirrors></settings>\n`,
    );
    const stack = ownStack(23150, {
      dir: path.join(root, 'state'),
      extra: {
        LOCAL_STACK_CACHE: path.join(root, 'cache'),
        MAVEN_OPTS: `-Duser.home=${path.join(root, 'home')}`,
        LOCAL_STACK_DOWNLOAD_TIMEOUT: '10',
      },
    });
    try {
      // Act
      const started = await stack.run('start', {}, 60_000);

      // Assess
      expect(started.timedOut, started.out).toBe(false);
      expect(started.code, started.out).not.toBe(0);
      expect(started.out).toMatch(/Maven did not finish within 10 s/);
      expect(sockets.length).toBeGreaterThan(0);
      expect(existsSync(path.join(root, 'cache', `kafka-${KAFKA_VERSION}`, 'libs', '.complete'))).toBe(false);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => registry.close(() => resolve()));
      await stack.destroy();
    }
  }, 90_000);
});

describe('apt installs', () => {
  // A private mount namespace hides this machine's /usr/sbin (its policy-rc.d) from the
  // script under test only; a stand-in apt-get records how it was called and whether a
  // policy that forbids starting services was in force, then fails as apt would offline.
  function aptRun(target: string[], hidden: string[], env: NodeJS.ProcessEnv, root: string) {
    const bin = pathWithout(hidden, path.join(root, 'bin'), env.PATH);
    const log = path.join(root, 'apt.log');
    script(
      path.join(root, 'apt-get'),
      [
        `echo "apt-get $*" >>${JSON.stringify(log)}`,
        `if [[ -x /usr/sbin/policy-rc.d ]]; then /usr/sbin/policy-rc.d prometheus-pushgateway start; echo "policy $?" >>${JSON.stringify(log)}; else echo "policy none" >>${JSON.stringify(log)}; fi`,
        '[[ $1 == install ]] && exit 100 || exit 0',
      ].join('\n'),
    );
    rmSync(path.join(bin, 'apt-get'), { force: true });
    symlinkSync(path.join(root, 'apt-get'), path.join(bin, 'apt-get'));
    const sbin = path.join(root, 'sbin');
    mkdirSync(sbin);
    const inner = `mount --bind ${JSON.stringify(sbin)} /usr/sbin && { "$@"; code=$?; [[ -e /usr/sbin/policy-rc.d ]] && echo "after policy-rc.d left" >>${JSON.stringify(log)}; exit $code; }`;
    return runCommand('unshare', ['-m', 'bash', '-c', inner, 'ns', ...target], { env: { ...env, PATH: bin }, timeoutMs: 120_000 }).then(
      (run) => ({
        run,
        log: existsSync(log) ? readFileSync(log, 'utf8') : '',
      }),
    );
  }

  // Installed without recommends, with a policy forbidding service starts while apt ran,
  // and that policy gone again afterwards (there was none before).
  function expectQuietInstall(log: string, pkg: string): void {
    expect(log).toMatch(new RegExp(`^apt-get install .*--no-install-recommends.* ${pkg}$`, 'm'));
    expect(log).toContain('policy 101');
    expect(log).not.toContain('policy none');
    expect(log).not.toContain('after policy-rc.d left');
  }

  it('stack.sh installs the Pushgateway without recommends and without starting its service', async () => {
    // Prepare: a machine without the Pushgateway
    const root = tempDir('sts-apt-');
    const stack = ownStack(23160, { extra: { KAFKA_BROKERS: '127.0.0.1:1' } });

    try {
      // Act
      const { run, log } = await aptRun(
        ['bash', path.join(repo, 'infra/local/stack.sh'), 'start'],
        ['prometheus-pushgateway', 'pushgateway'],
        stack.env,
        root,
      );

      // Assess
      expect(run.code, run.out).not.toBe(0);
      expectQuietInstall(log, 'prometheus-pushgateway');
    } finally {
      await stack.destroy();
    }
  }, 150_000);

  it('.ci/run installs without recommends and without starting services', async () => {
    // Prepare: a machine without kcat; npm stands in for `npm ci && npm test`
    const root = tempDir('sts-apt-ci-');
    const stack = ownStack(23164);
    mkdirSync(path.join(root, 'npm-bin'));
    script(path.join(root, 'npm-bin', 'npm'), 'exit 0');
    const env = { ...stack.env, PATH: `${path.join(root, 'npm-bin')}:${process.env.PATH}` };

    try {
      // Act
      const { run, log } = await aptRun(['bash', path.join(repo, '.ci/run')], ['kcat'], env, root);

      // Assess: the stand-in fails the install, and .ci/run stops there
      expect(run.code, run.out).not.toBe(0);
      expectQuietInstall(log, 'kcat');
    } finally {
      await stack.destroy();
    }
  }, 150_000);
});

describe('test/helpers/private-broker', () => {
  it('stops a private broker whose start fails half-way (after the broker is up)', async () => {
    // Prepare: the topics step fails (a partition count that is not a number)
    const port = 23170;
    const saved = process.env.KAFKA_TOPIC_PARTITIONS;
    // Its own folders only (the port is in their names): other files' brokers may start meanwhile.
    const mine = (d: string): boolean => d.startsWith(`sts-broker-${port}-`);
    const before = new Set(readdirSync(os.tmpdir()).filter(mine));
    process.env.KAFKA_TOPIC_PARTITIONS = 'three';
    let error: unknown;
    try {
      // Act
      await startPrivateBroker({ port });
    } catch (e) {
      error = e;
    } finally {
      if (saved === undefined) delete process.env.KAFKA_TOPIC_PARTITIONS;
      else process.env.KAFKA_TOPIC_PARTITIONS = saved;
    }

    // Assess: it failed, and nothing of it is left running or on disk
    const left = readdirSync(os.tmpdir()).filter((d) => mine(d) && !before.has(d));
    const stillUp = await listening(port);
    for (const dir of left) {
      // A leak from a failed assertion below must not outlive the test.
      await runCommand('bash', [path.join(repo, 'infra/local/stack.sh'), 'stop'], {
        env: { ...cleanEnv(), LOCAL_STACK_DIR: path.join(os.tmpdir(), dir) },
        timeoutMs: 60_000,
      });
    }
    expect(String(error)).toMatch(/KAFKA_TOPIC_PARTITIONS/);
    expect(stillUp).toBe(false);
    expect(left).toEqual([]);
  }, 180_000);
});
