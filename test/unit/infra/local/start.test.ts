/**
 * `npm start`'s pieces without a stack (infra/local/start.ts, summary.ts, admin-token.ts):
 * the routes and their functions from the real serverless.yml, the summary a newcomer
 * reads (admin curl, the dashboard of this checkout's stage, the Prometheus pages Debian's
 * 2.42 serves), the local admin token file, the quiet environment of serverless offline,
 * and a configuration refused before anything starts.
 */
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { adminAccess, localAdminToken } from '../../../../infra/local/admin-token';
import { configurationProblem, keepLine, offlineEnvironment } from '../../../../infra/local/start';
import { httpRoutes, summary } from '../../../../infra/local/summary';
import { stageLabel } from '../../../../src/metrics';

const repo = path.resolve(__dirname, '../../../..');
const serverlessYml = readFileSync(path.join(repo, 'serverless.yml'), 'utf8');
const seconds = { total: '1.0', stack: '0.5', offline: '0.5' };

describe('npm start: the routes of serverless.yml', () => {
  it('names the function of every route', () => {
    expect(httpRoutes(serverlessYml)).toEqual([
      { method: 'GET', path: '/', fn: 'http' },
      { method: 'GET', path: '/healthz', fn: 'http' },
      { method: 'GET', path: '/kafka/status', fn: 'http' },
      { method: 'POST', path: '/kafka/publish', fn: 'http' },
      { method: 'POST', path: '/kafka/flush', fn: 'http' },
      { method: 'GET', path: '/metrics', fn: 'metrics' },
    ]);
  });
});

describe("npm start's summary", () => {
  const base = {
    env: { KAFKA_BROKERS: '127.0.0.1:9092' },
    apiUrl: 'http://127.0.0.1:3000',
    routes: httpRoutes(serverlessYml),
    checkout: repo,
    seconds,
  };

  it("prints each route's function, a dashboard link pinned to this checkout's stage and the Prometheus pages that exist", () => {
    const text = summary({ ...base, prometheusUrl: 'http://127.0.0.1:9090', admin: { kind: 'off' } });
    expect(text).toMatch(/GET {2}\/kafka\/status {3}\(function http\)/);
    expect(text).toMatch(/GET {2}\/metrics {8}\(function metrics\)/);
    expect(text).toContain(`Dashboard    http://127.0.0.1:9090/consoles/simple-time-service.html?stage=${stageLabel('local', repo)}`);
    expect(text).toContain('http://127.0.0.1:9090/classic/targets');
    expect(text).not.toMatch(/9090\/(targets|alerts|consoles\/)(\s|$)/);
    expect(text).toMatch(/Try {10}npm run send -- --command time\.now/);
  });

  it('prints a curl for the admin routes that works as pasted in another shell', () => {
    const file = path.join(os.homedir(), '.local/state/simple-time-service/admin-token');
    const fromFile = summary({ ...base, prometheusUrl: undefined, admin: { kind: 'file', file, token: 't'.repeat(32), made: false } });
    const given = summary({ ...base, prometheusUrl: undefined, admin: { kind: 'given', token: "it's-a-token-of-mine" } });
    expect(fromFile).toContain(
      'curl -X POST http://127.0.0.1:3000/kafka/flush -H "Authorization: Bearer $(cat ~/.local/state/simple-time-service/admin-token)"',
    );
    expect(given).toContain(`curl -X POST http://127.0.0.1:3000/kafka/flush -H 'Authorization: Bearer it'\\''s-a-token-of-mine'`);
    expect(summary({ ...base, prometheusUrl: undefined, admin: { kind: 'off' } })).toMatch(/Admin {8}off \(ADMIN_TOKEN is empty\)/);
  });
});

describe('the local admin token', () => {
  it('is made once, mode 600, and the same on the next start', () => {
    const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'sts-admin-')), 'state');
    const first = localAdminToken(dir);
    const second = localAdminToken(dir);
    expect(first.made).toBe(true);
    expect(first.token).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(statSync(first.file).mode & 0o777).toBe(0o600);
    expect(second).toEqual({ ...first, made: false });
  });

  it('is made again when the file could be read by others', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sts-admin-'));
    writeFileSync(path.join(dir, 'admin-token'), 'a-token-anyone-could-read\n', { mode: 0o644 });
    const token = localAdminToken(dir);
    expect(token.made).toBe(true);
    expect(token.token).not.toBe('a-token-anyone-could-read');
    expect(statSync(token.file).mode & 0o777).toBe(0o600);
  });

  it("is the shell's ADMIN_TOKEN when it sets one, none when it is empty", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sts-admin-'));
    expect(adminAccess({ ADMIN_TOKEN: 'x'.repeat(16) }, dir)).toEqual({ kind: 'given', token: 'x'.repeat(16) });
    expect(adminAccess({ ADMIN_TOKEN: '' }, dir)).toEqual({ kind: 'off' });
    expect(adminAccess({}, dir)).toMatchObject({ kind: 'file', made: true });
  });
});

describe('npm start: the environment', () => {
  it('readable logs and serverless offline at warning unless asked otherwise', () => {
    expect(offlineEnvironment({}, [])).toMatchObject({ LOG_FORMAT: 'pretty', SLS_LOG_LEVEL: 'warning' });
    expect(offlineEnvironment({ LOG_FORMAT: 'json', SLS_LOG_LEVEL: 'info' }, [])).toMatchObject({
      LOG_FORMAT: 'json',
      SLS_LOG_LEVEL: 'info',
    });
    expect(offlineEnvironment({}, ['--verbose']).SLS_LOG_LEVEL).toBeUndefined();
  });

  it("keeps serverless offline's warnings and the functions' lines, not its box of routes nor blank lines", () => {
    const printed = [
      '',
      ' ┌──────┐',
      ' │      │',
      ' │   GET  | http://127.0.0.1:3000/   │',
      ' └──────┘',
      '',
      '12:00:00.000 INFO  http GET / 200 in 3 ms',
      'Warning: something',
    ];
    const state = { inBox: false };
    expect(printed.filter((line) => keepLine(line, state))).toEqual(['12:00:00.000 INFO  http GET / 200 in 3 ms', 'Warning: something']);
  });

  it('refuses a configuration src/config.ts refuses, naming the variable, before anything starts', () => {
    expect(configurationProblem({ KAFKA_SEND_TIMEOUT_MS: '3000000000' })).toBe(
      'invalid configuration: KAFKA_SEND_TIMEOUT_MS: Too big: expected number to be <=30000; nothing was started (docs/configuration.md)',
    );
    expect(configurationProblem({ ADMIN_TOKEN: 'short' })).toMatch(/ADMIN_TOKEN: at least 16 characters/);
    expect(configurationProblem({})).toBeUndefined();
  });
});
