/**
 * src/provisioning/cloudformation-response.ts: the response is PUT the way a pre-signed S3 URL expects it,
 * tried again after an error, and never past its deadline however the URL behaves.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  RESPONSE_BUDGET_MS,
  RESPONSE_ATTEMPTS,
  RESPONSE_ATTEMPT_TIMEOUT_MS,
  RESPONSE_RETRY_PAUSE_MS,
  sendResponseWithFetch,
} from '../../../src/provisioning/cloudformation-response';

const body = { Status: 'SUCCESS' as const, PhysicalResourceId: 'p', StackId: 's', RequestId: 'r', LogicalResourceId: 'l' };

describe('sendResponseWithFetch', () => {
  let server: http.Server | undefined;
  afterEach(() => new Promise<void>((resolve) => (server ? (server.closeAllConnections(), server.close(() => resolve())) : resolve())));

  const listen = async (handler: http.RequestListener) => {
    server = http.createServer(handler);
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/response`;
  };

  it('PUTs the JSON with an empty content type, and tries again after an error', async () => {
    const seen: Array<{ method?: string; type?: string; body: string }> = [];
    const url = await listen((req, res) => {
      let text = '';
      req.on('data', (c: Buffer) => (text += c.toString()));
      req.on('end', () => {
        seen.push({ method: req.method, type: req.headers['content-type'], body: text });
        res.statusCode = seen.length === 1 ? 500 : 200;
        res.end();
      });
    });
    await sendResponseWithFetch(url, body, Date.now() + 5_000);
    expect(seen).toHaveLength(2);
    expect(seen[1]).toEqual({ method: 'PUT', type: '', body: JSON.stringify(body) });
  });

  it('gives up by its deadline when the URL never answers', async () => {
    let requests = 0;
    const url = await listen(() => void requests++);
    const started = Date.now();
    await expect(sendResponseWithFetch(url, body, started + 1_500)).rejects.toThrow(
      /could not be reached \(\d attempt\(s\) before the deadline\)/,
    );
    expect(Date.now() - started).toBeLessThan(1_500 + 250);
    expect(requests).toBeGreaterThanOrEqual(1);
    expect(requests).toBeLessThanOrEqual(RESPONSE_ATTEMPTS);
  });

  it('keeps every attempt and pause within RESPONSE_BUDGET_MS', () => {
    expect(RESPONSE_BUDGET_MS).toBe(RESPONSE_ATTEMPTS * RESPONSE_ATTEMPT_TIMEOUT_MS + (RESPONSE_ATTEMPTS - 1) * RESPONSE_RETRY_PAUSE_MS);
  });
});
