/** kafkajs' lines in serverless' log: a quiet start, no stack traces, no repeats. */
import { Kafka, logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { kafkaLogCreator } from '../src/log';
import type { PluginLog } from '../src/log';

function capture(): { log: PluginLog; lines: Array<[string, string]> } {
  const lines: Array<[string, string]> = [];
  const at = (level: string) => (message: string) => lines.push([level, message]);
  return { lines, log: { debug: at('debug'), info: at('info'), notice: at('notice'), warning: at('warning'), error: at('error') } };
}

describe('kafkaLogCreator', () => {
  it('logs the normal retries of a start once, as a warning without a stack, never as an error', () => {
    // Prepare: what kafkajs logs while the broker's group coordinator loads its offsets topic
    let now = 0;
    const { log, lines } = capture();
    const kafka = new Kafka({ brokers: ['127.0.0.1:1'], logLevel: logLevel.WARN, logCreator: kafkaLogCreator(log, () => now) });
    const logger = kafka.logger();

    // Act
    for (let i = 0; i < 3; i++) {
      logger.error("Crash: KafkaJSProtocolError: The coordinator is loading and hence can't process requests", {
        groupId: 'g',
        retryCount: i,
        stack: 'KafkaJSProtocolError: …\n    at …',
      });
      logger.error('Response GroupCoordinator(key: 10, version: 2)', {
        broker: 'b:9092',
        clientId: 'c',
        error: 'The group coordinator is not available',
        correlationId: i,
        size: 55,
      });
      now += 1_000;
    }

    // Assess
    const visible = lines.filter(([level]) => level !== 'debug');
    expect(visible.map(([level]) => level)).toEqual(['warning', 'warning']);
    expect(visible[0]![1]).toMatch(/^offline-msk: kafka.*Crash: KafkaJSProtocolError: The coordinator is loading.* \(kafkajs retries\)$/);
    expect(visible[1]![1]).toMatch(/The group coordinator is not available \(kafkajs retries\)$/);
    expect(visible.every(([, message]) => !message.includes('stack') && !message.includes('    at '))).toBe(true);
  });

  it('keeps other errors at error level, without a stack, at most once a minute each', () => {
    let now = 0;
    const { log, lines } = capture();
    const logger = new Kafka({ brokers: ['127.0.0.1:1'], logLevel: logLevel.WARN, logCreator: kafkaLogCreator(log, () => now) }).logger();

    logger.error('Connection error: connect ECONNREFUSED 127.0.0.1:1', { broker: '127.0.0.1:1', stack: 'Error: …' });
    logger.error('Connection error: connect ECONNREFUSED 127.0.0.1:1', { broker: '127.0.0.1:1', stack: 'Error: …' });
    now += 61_000;
    logger.error('Connection error: connect ECONNREFUSED 127.0.0.1:1', { broker: '127.0.0.1:1', stack: 'Error: …' });

    const errors = lines.filter(([level]) => level === 'error');
    expect(errors).toHaveLength(2);
    expect(errors[0]![1]).toBe('offline-msk: kafka: Connection error: connect ECONNREFUSED 127.0.0.1:1 {"broker":"127.0.0.1:1"}');
  });
});
