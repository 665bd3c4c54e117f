/**
 * The Kafka SASL password kept out of the configuration: KAFKA_SASL_PASSWORD_SECRET_ARN
 * names the secret (MSK's SCRAM secret, `{"username", "password"}`, or a plain string),
 * read before a client is made (src/kafka/client.ts: withSaslPassword, resolveKafka); a
 * client is never made with a secret unread.
 */
import { describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../../src/config';
import { KafkaJSSASLAuthenticationError } from 'kafkajs';
import { createKafka, explainConnectionFailure, resolveKafka, scramPasswordSecret, withSaslPassword } from '../../../src/kafka/client';
import type { ReadSecret } from '../../../src/secrets';
import { SecretUnavailableError } from '../../../src/secrets';

const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:AmazonMSK_simple-time-service-AbCdEf';
const scram = (env: Record<string, string> = {}) =>
  loadConfig({ KAFKA_AUTH: 'scram', KAFKA_SASL_USERNAME: 'svc', KAFKA_SASL_PASSWORD_SECRET_ARN: ARN, AWS_REGION: 'eu-west-1', ...env })
    .kafka;

describe('KAFKA_SASL_PASSWORD_SECRET_ARN', () => {
  it('is accepted with KAFKA_AUTH=scram in place of KAFKA_SASL_PASSWORD, and wins over it', () => {
    expect(scram().saslSecret).toEqual({ username: 'svc', passwordSecretArn: ARN });
    expect(scram().sasl).toBeUndefined();
    expect(scram({ KAFKA_SASL_PASSWORD: 'plain' }).sasl).toBeUndefined();
  });

  it('refuses what is not a Secrets Manager ARN', () => {
    expect(() => scram({ KAFKA_SASL_PASSWORD_SECRET_ARN: 'AmazonMSK_x' })).toThrow(
      /KAFKA_SASL_PASSWORD_SECRET_ARN: a Secrets Manager secret ARN/,
    );
  });
});

describe('the SASL password from its secret', () => {
  it("reads MSK's SCRAM secret, or a plain string, with the secret's ARN and region", async () => {
    const readSecret = vi
      .fn<ReadSecret>()
      .mockResolvedValueOnce(JSON.stringify({ username: 'svc', password: 'from-msk' }))
      .mockResolvedValueOnce('plain-password');
    await expect(withSaslPassword(scram(), readSecret)).resolves.toMatchObject({ sasl: { username: 'svc', password: 'from-msk' } });
    await expect(withSaslPassword(scram(), readSecret)).resolves.toMatchObject({ sasl: { username: 'svc', password: 'plain-password' } });
    expect(readSecret.mock.calls.map(([args]) => [args.secretArn, args.region])).toEqual([
      [ARN, 'eu-west-1'],
      [ARN, 'eu-west-1'],
    ]);
  });

  it('refuses a secret for another user, or without a password, quoting nothing of it', async () => {
    const decode = scramPasswordSecret('svc');
    expect(() => decode(JSON.stringify({ username: 'other', password: 'p' }))).toThrow('is for another user than KAFKA_SASL_USERNAME=svc');
    expect(() => decode(JSON.stringify({ username: 'svc' }))).toThrow('holds a JSON object without a "password" string');
    expect(() => decode('')).toThrow('is empty');
    const error = await withSaslPassword(scram(), () =>
      Promise.resolve(JSON.stringify({ username: 'other', password: 'secret-value' })),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SecretUnavailableError);
    expect((error as Error).message).not.toContain('secret-value');
  });

  it('fails retriably when Secrets Manager cannot be reached, so the next invocation reads it again', async () => {
    const error = await withSaslPassword(scram(), () => Promise.reject(new Error('AccessDeniedException'))).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SecretUnavailableError);
    expect(error).toMatchObject({ retriable: true, message: 'the Kafka SASL password could not be read from Secrets Manager' });
  });

  it('leaves settings without a secret as they are, and never reads', async () => {
    const readSecret = vi.fn<ReadSecret>();
    const plain = loadConfig({ KAFKA_AUTH: 'scram', KAFKA_SASL_USERNAME: 'svc', KAFKA_SASL_PASSWORD: 'plain' }).kafka;
    await expect(withSaslPassword(plain, readSecret)).resolves.toBe(plain);
    expect(readSecret).not.toHaveBeenCalled();
  });

  it('makes the client with the password read first, and never one with the secret unread', async () => {
    const kafka = await resolveKafka({ kafka: scram({ KAFKA_BROKERS: '127.0.0.1:1' }), readSecret: () => Promise.resolve('from-secret') });
    expect(typeof kafka.admin).toBe('function');
    expect(() => createKafka({ kafka: scram(), brokers: ['127.0.0.1:1'] })).toThrow(/read from its secret before a client is made/);
  });

  it('names the secret, not KAFKA_SASL_PASSWORD, when the broker refuses the login', () => {
    // kafkajs' own SASL error (its type declarations omit the constructor's message).
    const refused = new (KafkaJSSASLAuthenticationError as unknown as new (m: string) => Error)(
      'SASL SCRAM SHA512 authentication failed: Authentication failed',
    );
    expect(explainConnectionFailure(refused, scram())).toBe(
      `Kafka refused the SCRAM-SHA-512 login of user "svc" (Authentication failed): check KAFKA_SASL_USERNAME and the password in the secret of KAFKA_SASL_PASSWORD_SECRET_ARN=${ARN}`,
    );
  });
});
