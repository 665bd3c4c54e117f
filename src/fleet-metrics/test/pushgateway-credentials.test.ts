/**
 * A Pushgateway that requires basic auth (the local stack's does): its credentials come as
 * PUSHGATEWAY_URL's user info, reach it as an Authorization header on every request (reads,
 * pushes, deletes), and never appear in an error message.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteGroup, fetchGroups, groupRequest } from '../src/pushgateway';

const USER = 'simple-time-service';
const PASSWORD = 'pa55-word_0123456789';
const EXPECTED = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;

const GROUPS = {
  status: 'success',
  data: [
    {
      labels: { job: 'j', instance: 'i' },
      last_push_successful: true,
      push_time_seconds: { type: 'GAUGE', help: '', metrics: [{ labels: {}, value: '1' }] },
    },
  ],
};

describe('a Pushgateway that requires basic auth', () => {
  const seen: Array<{ method: string; authorization: string | undefined }> = [];
  let server: http.Server;
  let port: number;

  beforeAll(async () => {
    server = http.createServer((request, response) => {
      seen.push({ method: request.method ?? '', authorization: request.headers.authorization });
      request.resume();
      if (request.headers.authorization !== EXPECTED) {
        response.writeHead(401, { 'www-authenticate': 'Basic' }).end('Unauthorized\n');
        return;
      }
      if (request.method === 'GET') response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(GROUPS));
      else response.writeHead(202).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("reads, pushes and deletes with the credentials of PUSHGATEWAY_URL's user info", async () => {
    // Prepare
    const url = `http://${USER}:${PASSWORD}@127.0.0.1:${port}`;
    seen.length = 0;

    // Act
    const groups = await fetchGroups({ url, timeoutMs: 2000, job: 'j' });
    await groupRequest({ url, method: 'PUT', labels: { job: 'j', instance: 'i' }, body: 'x 1\n', timeoutMs: 2000 });
    await deleteGroup({ url, timeoutMs: 2000, labels: { job: 'j', instance: 'i' } });

    // Assess
    expect(groups.map((g) => g.labels)).toEqual([{ job: 'j', instance: 'i' }]);
    expect(seen).toEqual([
      { method: 'GET', authorization: EXPECTED },
      { method: 'PUT', authorization: EXPECTED },
      { method: 'DELETE', authorization: EXPECTED },
    ]);
  });

  it('never names the password in an error', async () => {
    // Prepare: the wrong password, and a closed port
    const wrong = `http://${USER}:wrong-${PASSWORD}@127.0.0.1:${port}`;
    const closed = `http://${USER}:${PASSWORD}@127.0.0.1:9`;

    // Act
    const messages = await Promise.all(
      [wrong, closed].flatMap((url) => [
        fetchGroups({ url, timeoutMs: 2000 }).then(
          () => 'no error',
          (error: Error) => `${error.message} ${String(error.cause)}`,
        ),
        deleteGroup({ url, timeoutMs: 2000, labels: { job: 'j' } }).then(
          () => 'no error',
          (error: Error) => `${error.message} ${String(error.cause)}`,
        ),
      ]),
    );

    // Assess
    expect(messages.every((m) => m !== 'no error')).toBe(true);
    for (const message of messages) expect(message).not.toContain(PASSWORD);
    expect(messages[0]).toContain('HTTP 401');
  });
});
