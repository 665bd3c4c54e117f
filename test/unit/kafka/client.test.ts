import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config';
import { createKafka } from '../../../src/kafka';
import { explainConnectionFailure, saslOptions, tlsOptions } from '../../../src/kafka/client';
import { KafkaJSConnectionError, KafkaJSSASLAuthenticationError } from 'kafkajs';
import { KafkaUnavailableError } from '../../../src/kafka/errors';
import type { Logger } from '../../../src/logger';

/** kafkajs' own SASL error (its type declarations omit the constructor's message). */
const saslError = (message: string): Error => new (KafkaJSSASLAuthenticationError as unknown as new (m: string) => Error)(message);

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
    const at =
      (level: string) =>
      (message: string, extra: Record<string, unknown> = {}) =>
        lines.push({ level, message, extra });
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
    [
      'a consumer crash on a loading coordinator',
      "Crash: KafkaJSProtocolError: The coordinator is loading and hence can't process requests for this group",
      { groupId: 'g', stack },
    ],
    [
      'a group coordinator not available yet',
      'Response GroupCoordinator(key: 10, version: 2)',
      { error: 'The group coordinator is not available', correlationId: 1 },
    ],
    [
      'InitProducerId while the coordinator loads',
      'Response InitProducerId(key: 22, version: 1)',
      { error: "The coordinator is loading and hence can't process requests", correlationId: 2 },
    ],
    [
      'a leader not available yet',
      'Response Metadata(key: 3, version: 6)',
      { error: 'There is no leader for this topic-partition as we are in the middle of a leadership election' },
    ],
  ])('log %s once, at WARN, not as an ERROR storm', (_what, message, extra) => {
    const { lines, log } = captured();
    for (let i = 0; i < 5; i += 1) log.error(message, { ...extra, retryCount: i });
    expect(lines.filter((l) => l.level === 'error')).toEqual([]);
    expect(lines.filter((l) => l.level === 'warn')).toHaveLength(1);
  });

  it('keep errors a retry cannot fix at ERROR, without a stack', () => {
    const { lines, log } = captured();
    log.error('The group member needs to have a valid member id before actually entering a consumer group', { broker: 'b:9096', stack });
    expect(lines).toEqual([
      {
        level: 'error',
        message: 'The group member needs to have a valid member id before actually entering a consumer group',
        extra: expect.not.objectContaining({ stack }) as unknown,
      },
    ]);
  });

  it('leave refused credentials and certificates to the one clear error of the caller (explainConnectionFailure): debug, not three lines an attempt', () => {
    const { lines, log } = captured();
    log.error('SASL SCRAM SHA512 authentication failed: invalid credentials', { broker: 'b:9096', stack });
    log.error('Connection error: self-signed certificate in certificate chain', { broker: 'b:9096' });
    expect(lines.map((l) => l.level)).toEqual(['debug', 'debug']);
  });
});

describe('tlsOptions', () => {
  const files: Record<string, string> = {
    '/ca.pem': '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
    '/client.pem': '-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n',
    '/client.key': '-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----\n',
    '/notes.txt': 'not a certificate',
  };
  const read = (file: string): string => {
    const text = files[file];
    if (text === undefined) throw new Error(`ENOENT: no such file or directory, open '${file}'`);
    return text;
  };
  const tls = (auth: 'none' | 'tls' | 'scram' | 'iam', given: Partial<Record<'caFile' | 'certFile' | 'keyFile', string>> = {}) =>
    tlsOptions({ auth, tls: { caFile: given.caFile, certFile: given.certFile, keyFile: given.keyFile } }, read);

  it('is off for none, and the public roots (true) for tls, scram and iam without files', () => {
    expect(tls('none')).toBe(false);
    for (const auth of ['tls', 'scram', 'iam'] as const) expect(tls(auth)).toBe(true);
  });

  it('trusts the CA of KAFKA_SSL_CA_FILE instead, and presents the client certificate of KAFKA_SSL_CERT_FILE/KAFKA_SSL_KEY_FILE', () => {
    expect(tls('scram', { caFile: '/ca.pem' })).toEqual({ ca: files['/ca.pem'] });
    expect(tls('tls', { caFile: '/ca.pem', certFile: '/client.pem', keyFile: '/client.key' })).toEqual({
      ca: files['/ca.pem'],
      cert: files['/client.pem'],
      key: files['/client.key'],
    });
  });

  it('names the variable and the file when a file cannot be read or holds no PEM', () => {
    expect(() => tls('scram', { caFile: '/missing.pem' })).toThrow(
      "KAFKA_SSL_CA_FILE=/missing.pem: cannot be read (ENOENT: no such file or directory, open '/missing.pem')",
    );
    expect(() => tls('scram', { caFile: '/notes.txt' })).toThrow('KAFKA_SSL_CA_FILE=/notes.txt: holds no certificate in PEM form');
    expect(() => tls('tls', { certFile: '/client.pem', keyFile: '/ca.pem' })).toThrow(
      'KAFKA_SSL_KEY_FILE=/ca.pem: holds no private key in PEM form',
    );
  });

  it('goes into the kafkajs client', () => {
    // createKafka reads the files when the client is made
    expect(() =>
      createKafka({
        kafka: { ...testKafkaSettings, auth: 'scram', tls: { caFile: '/nowhere/ca.pem', certFile: undefined, keyFile: undefined } },
        brokers: ['b:9096'],
      }),
    ).toThrow(/KAFKA_SSL_CA_FILE=\/nowhere\/ca.pem: cannot be read/);
  });
});

describe('explainConnectionFailure', () => {
  const scram = { ...testKafkaSettings, auth: 'scram' as const, sasl: { username: 'svc', password: 'p' } };
  const tls = (caFile?: string, certFile?: string) => ({
    ...testKafkaSettings,
    auth: 'tls' as const,
    tls: { caFile, certFile, keyFile: certFile && `${certFile}.key` },
  });
  const connectionError = (message: string, code?: string) => new KafkaJSConnectionError(`Connection error: ${message}`, { code });

  it('names a refused SCRAM login, the user and the variables to check', () => {
    const error = saslError(
      'SASL SCRAM SHA512 authentication failed: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512',
    );
    expect(explainConnectionFailure(error, scram)).toBe(
      'Kafka refused the SCRAM-SHA-512 login of user "svc" (Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512): check KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD',
    );
  });

  it('names an untrusted broker certificate and what to set, found through the causes kafkajs wraps it in', () => {
    const error = new KafkaUnavailableError('Kafka could not be reached', {
      cause: connectionError('self-signed certificate in certificate chain', 'SELF_SIGNED_CERT_IN_CHAIN'),
    });
    expect(explainConnectionFailure(error, scram)).toBe(
      "the broker's TLS certificate is not trusted (self-signed certificate in certificate chain): set KAFKA_SSL_CA_FILE to the CA that signed it",
    );
    expect(
      explainConnectionFailure(
        connectionError('unable to verify the first certificate', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'),
        tls('/s/ca.pem'),
      ),
    ).toBe(
      "the broker's TLS certificate is not trusted (unable to verify the first certificate): it is not signed by the CA in KAFKA_SSL_CA_FILE=/s/ca.pem",
    );
  });

  it('names a certificate that names another host, or has expired', () => {
    expect(
      explainConnectionFailure(
        connectionError(
          "Hostname/IP does not match certificate's altnames: IP: 10.0.0.1 is not in the cert's list: 127.0.0.1",
          'ERR_TLS_CERT_ALTNAME_INVALID',
        ),
        scram,
      ),
    ).toMatch(/^the broker's TLS certificate does not name the address it was reached at \(Hostname\/IP does not match/);
    expect(explainConnectionFailure(connectionError('certificate has expired', 'CERT_HAS_EXPIRED'), scram)).toBe(
      "the broker's TLS certificate has expired or is not valid yet (certificate has expired)",
    );
  });

  it('names a client certificate the broker refused, or the one that is missing', () => {
    const alert = connectionError(
      '80FC:error:0A000412:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate:../rec_layer_s3.c:1601:SSL alert number 42\n',
    );
    expect(explainConnectionFailure(alert, tls('/s/ca.pem'))).toBe(
      'the broker refused the TLS handshake for want of a client certificate (sslv3 alert bad certificate): set KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE',
    );
    expect(explainConnectionFailure(alert, tls('/s/ca.pem', '/s/client.pem'))).toBe(
      'the broker refused the client certificate (sslv3 alert bad certificate): check KAFKA_SSL_CERT_FILE=/s/client.pem and KAFKA_SSL_KEY_FILE, and that the broker trusts its CA',
    );
  });

  it('leaves other failures (a broker down, a timeout) unexplained: they heal by themselves', () => {
    expect(explainConnectionFailure(connectionError('connect ECONNREFUSED 127.0.0.1:9094', 'ECONNREFUSED'), scram)).toBeUndefined();
    expect(explainConnectionFailure(new KafkaJSConnectionError('Connection timeout'), scram)).toBeUndefined();
    expect(explainConnectionFailure('not an error', scram)).toBeUndefined();
  });
});
