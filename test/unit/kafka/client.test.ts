import { describe, expect, it } from 'vitest';
import { saslOptions } from '../../../src/kafka';

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
