import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config';
import { createKafka, saslOptions } from '../../../src/kafka';
import type { Logger } from '../../../src/logger';

const testKafkaSettings = loadConfig({}).kafka;

describe('saslOptions', () => {
  it('uses no SASL for none and tls', () => {
    expect(saslOptions({ auth: 'none', sasl: undefined, region: 'eu-west-1' })).toBeUndefined();
    expect(saslOptions({ auth: 'tls', sasl: undefined, region: 'eu-west-1' })).toBeUndefined();
  });

  it('uses SCRAM-SHA-512 with the configured credentials', () => {
    expect(saslOptions({ auth: 'scram', sasl: { username: 'u', password: 'p' }, region: 'eu-west-1' })).toEqual({
      mechanism: 'scram-sha-512',
      username: 'u',
      password: 'p',
    });
  });

  it('uses OAUTHBEARER with a token provider for MSK IAM', () => {
    const options = saslOptions({ auth: 'iam', sasl: undefined, region: 'eu-west-1' });
    expect(options?.mechanism).toBe('oauthbearer');
    expect(options && 'oauthBearerProvider' in options && typeof options.oauthBearerProvider).toBe('function');
  });
});

describe('MSK IAM token (aws-msk-iam-sasl-signer-js, signed locally)', () => {
  it('signs a kafka-cluster:Connect request for the region with the caller credentials', async () => {
    // Prepare: static credentials, so signing needs no network
    const saved = { ...process.env };
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      AWS_SESSION_TOKEN: '',
    });
    const options = saslOptions({ auth: 'iam', sasl: undefined, region: 'eu-west-1' });
    if (!options || !('oauthBearerProvider' in options)) throw new Error('expected an OAUTHBEARER provider');

    // Act
    const { value } = await options.oauthBearerProvider();
    process.env = saved;

    // Assess: the token is a base64url presigned URL
    const url = new URL(Buffer.from(value, 'base64url').toString('utf8'));
    expect(url.hostname).toBe('kafka.eu-west-1.amazonaws.com');
    expect(url.searchParams.get('Action')).toBe('kafka-cluster:Connect');
    expect(url.searchParams.get('X-Amz-Credential')).toMatch(/^AKIAIOSFODNN7EXAMPLE\/\d{8}\/eu-west-1\/kafka-cluster\/aws4_request$/);
    expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe("kafkajs' own log lines", () => {
  /** A logger that keeps every line it is given. */
  function captured() {
    const lines: Array<{ level: string; message: string; extra: Record<string, unknown> }> = [];
    const at = (level: string) => (message: string, extra: Record<string, unknown> = {}) => lines.push({ level, message, extra });
    const logger = { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') } as unknown as Logger; // only the four levels are called
    const kafka = createKafka({ kafka: testKafkaSettings, brokers: ['127.0.0.1:1'], logger });
    return { lines, log: kafka.logger() };
  }

  const stack = 'Error: connect ECONNREFUSED 127.0.0.1:1\n    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16)';

  it('carry no stack, at any level', () => {
    const { lines, log } = captured();
    log.error('Connection error: connect ECONNREFUSED 127.0.0.1:1', { broker: '127.0.0.1:1', stack });
    log.error('Crash: KafkaJSNonRetriableError: something unexpected', { groupId: 'g', stack });
    log.warn('an unusual warning', { stack });
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) {
      expect(line.extra).not.toHaveProperty('stack');
      expect(JSON.stringify(line)).not.toContain('node:net');
    }
  });

  it.each([
    ['a refused connection during a restart', 'Connection error: connect ECONNREFUSED 127.0.0.1:1', { broker: '127.0.0.1:1', stack }],
    ["a consumer crash on a loading coordinator", "Crash: KafkaJSProtocolError: The coordinator is loading and hence can't process requests for this group", { groupId: 'g', stack }],
    ['a group coordinator not available yet', 'Response GroupCoordinator(key: 10, version: 2)', { error: 'The group coordinator is not available', correlationId: 1 }],
    ['InitProducerId while the coordinator loads', 'Response InitProducerId(key: 22, version: 1)', { error: "The coordinator is loading and hence can't process requests", correlationId: 2 }],
    ['a leader not available yet', 'Response Metadata(key: 3, version: 6)', { error: 'There is no leader for this topic-partition as we are in the middle of a leadership election' }],
  ])('log %s once, at WARN, not as an ERROR storm', (_what, message, extra) => {
    const { lines, log } = captured();
    for (let i = 0; i < 5; i += 1) log.error(message, { ...extra, retryCount: i });
    expect(lines.filter((l) => l.level === 'error')).toEqual([]);
    expect(lines.filter((l) => l.level === 'warn')).toHaveLength(1);
  });

  it('keep errors a retry cannot fix at ERROR, without a stack', () => {
    const { lines, log } = captured();
    log.error('SASL SCRAM SHA512 authentication failed: invalid credentials', { broker: 'b:9096', stack });
    expect(lines).toEqual([{ level: 'error', message: 'SASL SCRAM SHA512 authentication failed: invalid credentials', extra: expect.not.objectContaining({ stack }) as unknown }]);
  });
});
