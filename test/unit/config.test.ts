import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config';
import { ConfigError } from '../../src/errors';

describe('loadConfig', () => {
  it('uses the seeds defaults when nothing is set', () => {
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
    expect(() => loadConfig({ KAFKA_AUTH: 'scram', ADMIN_TOKEN: 'short' })).toThrow(
      /KAFKA_SASL_USERNAME.*ADMIN_TOKEN/,
    );
  });

  it('rejects a topic name Kafka would refuse', () => {
    expect(() => loadConfig({ KAFKA_TOPIC_EVENTS: 'bad topic' })).toThrow(/KAFKA_TOPIC_EVENTS/);
  });
});
