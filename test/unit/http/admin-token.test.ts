/**
 * src/http/admin-token.ts with a fake Secrets Manager: ADMIN_TOKEN locally, the secret
 * on AWS, read once per TTL, shared by concurrent requests, a rotation picked up after
 * the TTL, a stale value only within its bound, clear errors otherwise.
 */
import { describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../../src/config';
import { createAdminTokenSource } from '../../../src/http/admin-token';
import { AdminTokenUnavailableError } from '../../../src/http/errors';
import type { ReadSecret } from '../../../src/http/admin-token';

const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:simple-time-service/dev/admin-token-AbCdEf';
const TOKEN_A = 'a'.repeat(32);
const TOKEN_B = 'b'.repeat(32);

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('createAdminTokenSource', () => {
  it('uses ADMIN_TOKEN as it is when no secret ARN is set, and never calls AWS', async () => {
    const readSecret = vi.fn<ReadSecret>();
    const source = createAdminTokenSource({ token: TOKEN_A, secretArn: undefined, region: 'eu-west-1', readSecret });
    await expect(source.get()).resolves.toBe(TOKEN_A);
    expect(readSecret).not.toHaveBeenCalled();
  });

  it('leaves the admin routes off when neither is set', async () => {
    const source = createAdminTokenSource({ token: undefined, secretArn: undefined, region: 'eu-west-1' });
    await expect(source.get()).resolves.toBeUndefined();
  });

  it('reads the secret (not ADMIN_TOKEN) once within the TTL, with its ARN, region and a bounded signal', async () => {
    const readSecret = vi.fn<ReadSecret>().mockResolvedValue(`${TOKEN_A}\n`);
    const c = clock();
    const source = createAdminTokenSource({ token: TOKEN_B, secretArn: ARN, region: 'eu-west-1', readSecret, now: c.now, ttlMs: 60_000 });
    await expect(source.get()).resolves.toBe(TOKEN_A);
    c.advance(59_999);
    await expect(source.get()).resolves.toBe(TOKEN_A);
    expect(readSecret).toHaveBeenCalledTimes(1);
    const [args] = readSecret.mock.calls[0]!;
    expect(args.secretArn).toBe(ARN);
    expect(args.region).toBe('eu-west-1');
    expect(args.signal).toBeInstanceOf(AbortSignal);
  });

  it('picks up a rotated secret once the TTL has passed, without a new container', async () => {
    const readSecret = vi.fn<ReadSecret>().mockResolvedValueOnce(TOKEN_A).mockResolvedValueOnce(TOKEN_B);
    const c = clock();
    const source = createAdminTokenSource({ token: undefined, secretArn: ARN, region: 'eu-west-1', readSecret, now: c.now, ttlMs: 60_000 });
    await expect(source.get()).resolves.toBe(TOKEN_A);
    c.advance(60_000);
    await expect(source.get()).resolves.toBe(TOKEN_B);
    expect(readSecret).toHaveBeenCalledTimes(2);
  });

  it('shares one read between concurrent requests', async () => {
    let release!: (value: string) => void;
    const readSecret = vi.fn<ReadSecret>().mockReturnValue(new Promise((resolve) => (release = resolve)));
    const source = createAdminTokenSource({ token: undefined, secretArn: ARN, region: 'eu-west-1', readSecret });
    const pending = Promise.all([source.get(), source.get(), source.get()]);
    release(TOKEN_A);
    await expect(pending).resolves.toEqual([TOKEN_A, TOKEN_A, TOKEN_A]);
    expect(readSecret).toHaveBeenCalledTimes(1);
  });

  it('serves the last value while Secrets Manager fails, up to maxStaleMs, then fails retriably', async () => {
    const readSecret = vi.fn<ReadSecret>().mockResolvedValueOnce(TOKEN_A).mockRejectedValue(new Error('ThrottlingException'));
    const c = clock();
    const source = createAdminTokenSource({
      token: undefined,
      secretArn: ARN,
      region: 'eu-west-1',
      readSecret,
      now: c.now,
      ttlMs: 60_000,
      maxStaleMs: 600_000,
    });
    await source.get();
    c.advance(120_000);
    await expect(source.get()).resolves.toBe(TOKEN_A);
    c.advance(480_000);
    const error = await source.get().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AdminTokenUnavailableError);
    expect(error).toMatchObject({ retriable: true, message: 'the admin token could not be read from Secrets Manager' });
    // Nothing of the secret or the AWS error text in the message a response may carry.
    expect((error as Error).message).not.toContain(TOKEN_A);
  });

  it('refuses a secret that holds no token of 16 characters, and reads it again next time', async () => {
    const readSecret = vi.fn<ReadSecret>().mockResolvedValueOnce('short').mockResolvedValueOnce(undefined).mockResolvedValueOnce(TOKEN_A);
    const source = createAdminTokenSource({ token: undefined, secretArn: ARN, region: 'eu-west-1', readSecret });
    await expect(source.get()).rejects.toThrow(/at least 16 characters/);
    await expect(source.get()).rejects.toBeInstanceOf(AdminTokenUnavailableError);
    await expect(source.get()).resolves.toBe(TOKEN_A);
  });

  it('bounds the read with the timeout', async () => {
    const readSecret: ReadSecret = ({ signal }) =>
      new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error)));
    const source = createAdminTokenSource({ token: undefined, secretArn: ARN, region: 'eu-west-1', readSecret, timeoutMs: 20 });
    await expect(source.get()).rejects.toBeInstanceOf(AdminTokenUnavailableError);
  });
});

describe('ADMIN_TOKEN_SECRET_ARN in the configuration', () => {
  it('is read as the secret ARN', () => {
    expect(loadConfig({ ADMIN_TOKEN_SECRET_ARN: ARN }).admin).toEqual({ token: undefined, tokenSecretArn: ARN });
  });

  it('refuses what is not a Secrets Manager ARN', () => {
    expect(() => loadConfig({ ADMIN_TOKEN_SECRET_ARN: 'simple-time-service/dev/admin-token' })).toThrow(
      /ADMIN_TOKEN_SECRET_ARN: a Secrets Manager secret ARN/,
    );
  });
});
