import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config';
import { ConfigError } from '../../src/errors';

describe('loadConfig', () => {
  it("uses the original service's defaults when nothing is set", () => {
    const config = loadConfig({});
    expect(config.kafka.brokers).toEqual(['localhost:9092']);
    expect(config.kafka.topics).toEqual({
      events: 'simple-time-service-events',
      requests: 'simple-time-service-requests',
      commands: 'simple-time-service-commands',
      dlq: 'simple-time-service-dlq',
    });
    expect(config.kafka.consumerGroup).toBe('simple-time-service-group');
    expect(config.kafka.autoOffsetReset).toBe('earliest');
    expect(config.kafka.topicPartitions).toBe(3);
    expect(config.pushgateway.url).toBe('http://localhost:9091');
    expect(config.admin.token).toBeUndefined();
  });

  it('splits and trims a broker list', () => {
    const config = loadConfig({ KAFKA_BROKERS: ' b1:9092, b2:9094 ,' });
    expect(config.kafka.brokers).toEqual(['b1:9092', 'b2:9094']);
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ KAFKA_BROKERS: '' }).kafka.brokers).toEqual(['localhost:9092']);
  });

  it('names every bad variable in one error', () => {
    // Prepare
    const env = {
      KAFKA_BROKERS: 'no-port',
      KAFKA_AUTO_OFFSET_RESET: 'sometimes',
      KAFKA_TOPIC_PARTITIONS: '-1',
      PUSHGATEWAY_TIMEOUT_MS: '5000',
    };

    // Act
    let error: unknown;
    try {
      loadConfig(env);
    } catch (e) {
      error = e;
    }

    // Assess
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    for (const name of Object.keys(env)) expect(message).toContain(name);
  });

  it('requires SCRAM credentials with KAFKA_AUTH=scram and a long enough admin token', () => {
    expect(() => loadConfig({ KAFKA_AUTH: 'scram', ADMIN_TOKEN: 'short' })).toThrow(/KAFKA_SASL_USERNAME.*ADMIN_TOKEN/);
  });

  it('takes the TLS files as paths, a client certificate only with its key and only for mutual TLS, a CA only with TLS', () => {
    expect(
      loadConfig({ KAFKA_AUTH: 'tls', KAFKA_SSL_CA_FILE: '/s/ca.pem', KAFKA_SSL_CERT_FILE: '/s/c.pem', KAFKA_SSL_KEY_FILE: '/s/c.key' })
        .kafka.tls,
    ).toEqual({
      caFile: '/s/ca.pem',
      certFile: '/s/c.pem',
      keyFile: '/s/c.key',
    });
    expect(loadConfig({}).kafka.tls).toEqual({ caFile: undefined, certFile: undefined, keyFile: undefined });
    expect(() => loadConfig({ KAFKA_AUTH: 'tls', KAFKA_SSL_CERT_FILE: '/s/c.pem' })).toThrow(
      /KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE: both or neither/,
    );
    expect(() =>
      loadConfig({
        KAFKA_AUTH: 'scram',
        KAFKA_SASL_USERNAME: 'u',
        KAFKA_SASL_PASSWORD: 'p',
        KAFKA_SSL_CERT_FILE: '/c',
        KAFKA_SSL_KEY_FILE: '/k',
      }),
    ).toThrow(/only with KAFKA_AUTH=tls/);
    expect(() => loadConfig({ KAFKA_SSL_CA_FILE: '/s/ca.pem' })).toThrow(/KAFKA_SSL_CA_FILE: only with KAFKA_AUTH=tls, scram or iam/);
  });

  it('rejects a topic name Kafka would refuse', () => {
    expect(() => loadConfig({ KAFKA_TOPIC_EVENTS: 'bad topic' })).toThrow(/KAFKA_TOPIC_EVENTS/);
  });

  describe('refuses at start what would break the service, naming the variable', () => {
    const refused = (env: Record<string, string>): string => {
      try {
        loadConfig(env);
      } catch (error) {
        if (error instanceof ConfigError) return error.message;
        throw error;
      }
      return 'accepted';
    };

    it.each([
      // Node's timers overflow past 2^31-1 ms and fire at once: every send would fail
      ['KAFKA_SEND_TIMEOUT_MS', '3000000000'],
      ['KAFKA_SEND_TIMEOUT_MS', '2147483647'],
      ['KAFKA_CONNECT_TIMEOUT_MS', '3000000000'],
      ['KAFKA_CONNECT_TIMEOUT_MS', '2147483647'],
      // Longer than any function may run
      ['KAFKA_SEND_TIMEOUT_MS', '30001'],
      ['KAFKA_CONNECT_TIMEOUT_MS', '30001'],
    ])('%s=%s', (name, value) => {
      expect(refused({ [name]: value })).toMatch(new RegExp(`${name}: .*30000`));
    });

    it.each([
      // A poison record would be dead-lettered into its own source forever
      [{ KAFKA_TOPIC_DLQ: 'simple-time-service-events' }, ['KAFKA_TOPIC_EVENTS', 'KAFKA_TOPIC_DLQ']],
      // onCommand would answer its own answers forever
      [{ KAFKA_TOPIC_COMMANDS: 'simple-time-service-events' }, ['KAFKA_TOPIC_EVENTS', 'KAFKA_TOPIC_COMMANDS']],
      [{ KAFKA_TOPIC_REQUESTS: 'x', KAFKA_TOPIC_DLQ: 'x' }, ['KAFKA_TOPIC_REQUESTS', 'KAFKA_TOPIC_DLQ']],
    ])('two topics with one name: %j', (env, names) => {
      const message = refused(env);
      for (const name of names) expect(message).toContain(name);
      expect(message).toMatch(/distinct/);
    });

    it.each(['an admin token with a space', 'admin-token-with-a-tab\there', 'admin-token-ending-in-a-newline\n'])(
      'ADMIN_TOKEN %j, which could never match a bearer token',
      (token) => {
        expect(refused({ ADMIN_TOKEN: token })).toMatch(/ADMIN_TOKEN: .*spaces/);
      },
    );

    it('accepts the largest allowed timeouts and four distinct topics', () => {
      const config = loadConfig({
        KAFKA_SEND_TIMEOUT_MS: '30000',
        KAFKA_CONNECT_TIMEOUT_MS: '30000',
        ADMIN_TOKEN: 'a-Valid_token.0123456789~!',
      });
      expect(config.kafka.sendTimeoutMs).toBe(30_000);
    });
  });
});
