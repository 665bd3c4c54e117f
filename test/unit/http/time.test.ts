import { describe, expect, it } from 'vitest';
import { buildTimePayload, parseForwardedFor } from '../../../src/http/time';
import { hostInfo } from '../../../src/runtime';
import { loadConfig } from '../../../src/config';

describe('parseForwardedFor', () => {
  it('keeps the entries in order, trimmed, without empties', () => {
    expect(parseForwardedFor(' 203.0.113.9, 10.0.0.1,, 198.51.100.2 ')).toEqual(['203.0.113.9', '10.0.0.1', '198.51.100.2']);
  });

  it('is empty without the header', () => {
    expect(parseForwardedFor(undefined)).toEqual([]);
  });
});

describe('buildTimePayload', () => {
  const host = hostInfo(loadConfig({ AWS_LAMBDA_FUNCTION_NAME: 'fn', AWS_LAMBDA_LOG_STREAM_NAME: '2026/11/22/[$LATEST]abc123' }).runtime);

  it('takes ip from the source ip, never from X-Forwarded-For', () => {
    const payload = buildTimePayload({
      sourceIp: '192.0.2.10',
      forwardedFor: '6.6.6.6',
      requestId: 'r1',
      host,
      now: new Date('2026-01-31T12:34:56.789Z'),
    });
    expect(payload).toMatchObject({
      timestamp: '2026-01-31T12:34:56.789Z',
      ip: '192.0.2.10',
      proxy_chain: ['6.6.6.6'],
      request_id: 'r1',
    });
  });

  it('names the execution environment from the log stream', () => {
    expect(host.execution_environment_id).toBe('abc123');
    expect(host.function_name).toBe('fn');
    expect(host.node_version).toBe(process.version);
  });
});
