/**
 * The local broker's SASL_SSL (SCRAM-SHA-512) and SSL (mutual TLS) listeners
 * (LOCAL_KAFKA_SASL=on): a CA and certificates made at start in the state folder, a SCRAM
 * user created with the storage, both checked here by an independent client (kcat,
 * librdkafka): the right password and the client certificate are accepted, a wrong
 * password, a missing client certificate and an untrusted broker certificate are not.
 * On a state directory and ports of the test's own (26300-26319).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEnvLines } from '../helpers/private-broker';
import { alive, pathWithout, privateStack, repo } from './local-stack-support';
import type { PrivateStack } from './local-stack-support';

const BASE = 26300;
const PORTS = { plaintext: BASE, controller: BASE + 1, saslSsl: BASE + 2, ssl: BASE + 3 };
const SASL = { LOCAL_KAFKA_SASL: 'on' };

const exec = promisify(execFile);

/** kcat's metadata listing (-L) with these client properties; never throws. */
async function kcat(broker: string, properties: Record<string, string>): Promise<{ ok: boolean; out: string }> {
  const args = ['-b', broker, '-L', '-m', '5', ...Object.entries(properties).flatMap(([k, v]) => ['-X', `${k}=${v}`])];
  try {
    const { stdout, stderr } = await exec('kcat', args, { timeout: 20_000 });
    return { ok: true, out: stdout + stderr };
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    return { ok: false, out: `${e.stdout ?? ''}${e.stderr ?? ''}${e.message}` };
  }
}

describe('stack.sh with LOCAL_KAFKA_SASL=on', () => {
  let stack: PrivateStack;
  let security: string;
  let scram: Record<string, string>;
  let tls: Record<string, string>;

  beforeAll(async () => {
    stack = privateStack(BASE, { extra: { ...SASL, LOCAL_PUSHGATEWAY_PORT: String(BASE + 15) } });
    security = path.join(stack.dir, 'security');
    const started = await stack.run('start', {}, 180_000);
    expect(started.code, started.out).toBe(0);
    expect(started.out).toContain('SCRAM login over TLS accepted');
    scram = parseEnvLines((await stack.run('env', { KAFKA_AUTH: 'scram' }, 30_000)).out);
    tls = parseEnvLines((await stack.run('env', { KAFKA_AUTH: 'tls' }, 30_000)).out);
  }, 240_000);

  afterAll(async () => {
    await stack?.destroy();
  }, 120_000);

  it('makes the CA and the certificates in the state folder, keys readable by their owner only, nothing in the checkout', async () => {
    // Act
    const status = await stack.run('status', {}, 30_000);
    const tracked = await exec('git', ['ls-files', '*.pem', '*.key', '*.p12', '*.jks'], { cwd: repo });

    // The stack's own Pushgateway, with its credentials (docs/local-stack.md).
    const pushgatewayUrl = `http://simple-time-service:${readFileSync(path.join(stack.dir, 'pushgateway', 'password'), 'utf8').trim()}@127.0.0.1:${BASE + 15}`;

    // Assess
    expect(status.code, status.out).toBe(0);
    expect(status.out).toMatch(
      new RegExp(
        `^kafka +running .*127\\.0\\.0\\.1:${PORTS.plaintext} .*SASL_SSL 127\\.0\\.0\\.1:${PORTS.saslSsl}  SSL 127\\.0\\.0\\.1:${PORTS.ssl}$`,
        'm',
      ),
    );
    expect(status.out).toContain(`sasl_ssl     KAFKA_BROKERS=127.0.0.1:${PORTS.saslSsl} KAFKA_AUTH=scram`);
    expect(statSync(security).mode & 0o777).toBe(0o700);
    for (const file of ['ca.key', 'broker.pem', 'client.key', 'scram-password']) {
      expect(statSync(path.join(security, file)).mode & 0o077, file).toBe(0);
    }
    expect(scram).toEqual({
      KAFKA_BROKERS: `127.0.0.1:${PORTS.saslSsl}`,
      KAFKA_AUTH: 'scram',
      KAFKA_SASL_USERNAME: 'simple-time-service',
      KAFKA_SASL_PASSWORD: readFileSync(path.join(security, 'scram-password'), 'utf8').trim(),
      KAFKA_SSL_CA_FILE: path.join(security, 'ca.pem'),
      PUSHGATEWAY_URL: pushgatewayUrl,
    });
    expect(tls).toEqual({
      KAFKA_BROKERS: `127.0.0.1:${PORTS.ssl}`,
      KAFKA_AUTH: 'tls',
      KAFKA_SSL_CA_FILE: path.join(security, 'ca.pem'),
      KAFKA_SSL_CERT_FILE: path.join(security, 'client.pem'),
      KAFKA_SSL_KEY_FILE: path.join(security, 'client.key'),
      PUSHGATEWAY_URL: pushgatewayUrl,
    });
    expect(tracked.stdout.trim()).toBe('');
  });

  it('accepts the SCRAM user over TLS and refuses a wrong password, naming it', async () => {
    // Prepare
    const common = {
      'security.protocol': 'SASL_SSL',
      'sasl.mechanisms': 'SCRAM-SHA-512',
      'sasl.username': scram.KAFKA_SASL_USERNAME!,
      'ssl.ca.location': scram.KAFKA_SSL_CA_FILE!,
    };

    // Act
    const right = await kcat(scram.KAFKA_BROKERS!, { ...common, 'sasl.password': scram.KAFKA_SASL_PASSWORD! });
    const wrong = await kcat(scram.KAFKA_BROKERS!, { ...common, 'sasl.password': 'not-the-password' });

    // Assess
    expect(right.ok, right.out).toBe(true);
    expect(right.out).toContain(`broker 1 at 127.0.0.1:${PORTS.saslSsl}`);
    expect(wrong.ok).toBe(false);
    expect(wrong.out).toContain('Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512');
  });

  it('accepts the client certificate on the SSL listener and refuses a client without one', async () => {
    // Prepare
    const common = { 'security.protocol': 'SSL', 'ssl.ca.location': tls.KAFKA_SSL_CA_FILE! };

    // Act
    const withCert = await kcat(tls.KAFKA_BROKERS!, {
      ...common,
      'ssl.certificate.location': tls.KAFKA_SSL_CERT_FILE!,
      'ssl.key.location': tls.KAFKA_SSL_KEY_FILE!,
    });
    const without = await kcat(tls.KAFKA_BROKERS!, common);

    // Assess
    expect(withCert.ok, withCert.out).toBe(true);
    expect(withCert.out).toContain(`broker 1 at 127.0.0.1:${PORTS.ssl}`);
    expect(without.ok).toBe(false);
    expect(without.out).toMatch(/bad certificate|certificate required/);
  });

  it("a client that does not trust the local CA refuses the broker's certificate", async () => {
    // Prepare: the machine's own trust store, where the local CA is not
    const common = {
      'security.protocol': 'SASL_SSL',
      'sasl.mechanisms': 'SCRAM-SHA-512',
      'sasl.username': scram.KAFKA_SASL_USERNAME!,
      'sasl.password': scram.KAFKA_SASL_PASSWORD!,
    };

    // Act
    const untrusted = await kcat(scram.KAFKA_BROKERS!, { ...common, 'ssl.ca.location': '/etc/ssl/certs/ca-certificates.crt' });

    // Assess
    expect(untrusted.ok).toBe(false);
    expect(untrusted.out).toMatch(/certificate verify failed/);
  });

  it('start again keeps the broker, its certificates and its password', async () => {
    // Prepare
    const pid = stack.pid('kafka');
    const ca = readFileSync(path.join(security, 'ca.pem'), 'utf8');

    // Act
    const again = await stack.run('start', {}, 120_000);

    // Assess
    expect(again.code, again.out).toBe(0);
    expect(again.out).toContain(`kafka already running (pid ${pid})`);
    expect(again.out).not.toContain('making a CA');
    expect(readFileSync(path.join(security, 'ca.pem'), 'utf8')).toBe(ca);
    expect(parseEnvLines((await stack.run('env', { KAFKA_AUTH: 'scram' }, 30_000)).out)).toEqual(scram);
  });

  it('refuses to use a broker running without the listeners, then switches on when restarted, setting a SCRAM user the storage lacks and making certificates that expire anew', async () => {
    // Prepare: the broker restarted without LOCAL_KAFKA_SASL; its storage as one formatted
    // before the SCRAM user existed (no note of it, and no password yet)
    const stopped = await stack.run('stop', {}, 60_000);
    expect(stopped.code, stopped.out).toBe(0);
    const plain = await stack.run('start', { LOCAL_KAFKA_SASL: 'off' }, 180_000);
    expect(plain.code, plain.out).toBe(0);
    unlinkSync(path.join(stack.dir, 'kafka-3.9.2', 'scram-user'));
    unlinkSync(path.join(security, 'scram-password'));
    // and a client certificate that expires within the day
    await exec('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      path.join(security, 'client.key'),
      '-out',
      path.join(security, 'client.pem'),
      '-days',
      '1',
      '-subj',
      '/CN=expiring',
    ]);

    // Act
    const refused = await stack.run('start', {}, 60_000);
    const envRefused = await stack.run('env', { KAFKA_AUTH: 'scram' }, 30_000);
    await stack.run('stop', {}, 60_000);
    const switched = await stack.run('start', {}, 180_000);
    const fresh = parseEnvLines((await stack.run('env', { KAFKA_AUTH: 'scram' }, 30_000)).out);
    const login = await kcat(fresh.KAFKA_BROKERS!, {
      'security.protocol': 'SASL_SSL',
      'sasl.mechanisms': 'SCRAM-SHA-512',
      'sasl.username': fresh.KAFKA_SASL_USERNAME!,
      'sasl.password': fresh.KAFKA_SASL_PASSWORD!,
      'ssl.ca.location': fresh.KAFKA_SSL_CA_FILE!,
    });

    // Assess
    expect(refused.code).not.toBe(0);
    expect(refused.out).toContain(
      'runs without the SASL_SSL listener: stop it (npm run stack:stop kafka) and start again with LOCAL_KAFKA_SASL=on',
    );
    expect(envRefused.code).not.toBe(0);
    expect(envRefused.out).toContain('runs without the SASL_SSL listener');
    expect(switched.code, switched.out).toBe(0);
    expect(switched.out).toContain('setting the SCRAM user simple-time-service on the running broker');
    expect(switched.out).toContain("making a CA, the brokers' certificate and a client certificate");
    const verified = await exec('openssl', ['verify', '-CAfile', path.join(security, 'ca.pem'), path.join(security, 'client.pem')]);
    expect(verified.stdout).toContain(': OK');
    expect(switched.out).toContain('SCRAM login over TLS accepted');
    expect(fresh.KAFKA_SASL_PASSWORD).not.toBe(scram.KAFKA_SASL_PASSWORD);
    expect(login.ok, login.out).toBe(true);
    expect(alive(stack.pid('kafka'))).toBe(true);
  }, 240_000);

  it('refuses openssl-less machines with a clear error instead of a broker without certificates', async () => {
    // Prepare: a fresh state folder, and a PATH without openssl
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sts-nossl-'));
    try {
      const bin = mkdtempSync(path.join(os.tmpdir(), 'sts-nossl-bin-'));
      const PATH = pathWithout(['openssl'], path.join(bin, 'bin'));
      const other = privateStack(BASE + 5, { dir, extra: { ...SASL, PATH, KAFKA_BROKERS: '', LOCAL_PUSHGATEWAY_PORT: String(BASE + 16) } });

      // Act
      const started = await other.run('start', {}, 120_000);
      await other.destroy();
      rmSync(bin, { recursive: true, force: true });

      // Assess
      expect(started.code).not.toBe(0);
      expect(started.out).toContain('openssl is needed for LOCAL_KAFKA_SASL=on');
      expect(existsSync(path.join(dir, 'kafka-3.9.2', 'data', 'meta.properties'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
