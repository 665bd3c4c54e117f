import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config';
import { CONSUMER_FUNCTIONS } from '../../../src/consumers/functions';
import { consumerGroupLag, partitionLag } from '../../../src/consumers/lag';
import type { OffsetReader } from '../../../src/kafka/offsets';

describe('partitionLag', () => {
  it('is the end offset minus the committed offset', () => {
    // Prepare / Act / Assess
    expect(partitionLag({ low: 0n, high: 10n, committed: 4n, autoOffsetReset: 'earliest' })).toBe(6);
    expect(partitionLag({ low: 0n, high: 10n, committed: 10n, autoOffsetReset: 'earliest' })).toBe(0);
  });

  it('counts a group that committed nothing from where the event source will start', () => {
    // Prepare / Act / Assess
    expect(partitionLag({ low: 3n, high: 10n, committed: undefined, autoOffsetReset: 'earliest' })).toBe(7);
    expect(partitionLag({ low: 3n, high: 10n, committed: undefined, autoOffsetReset: 'latest' })).toBe(0);
  });

  it('counts from the log start when retention has overtaken the committed offset', () => {
    // Prepare / Act / Assess
    expect(partitionLag({ low: 8n, high: 10n, committed: 2n, autoOffsetReset: 'earliest' })).toBe(2);
  });
});

describe('consumerGroupLag', () => {
  const config = loadConfig({
    KAFKA_CONSUMER_GROUP: 'g',
    KAFKA_TOPIC_REQUESTS: 'req',
    KAFKA_TOPIC_EVENTS: 'ev',
    KAFKA_TOPIC_COMMANDS: 'cmd',
  });

  it("reports every consumer function's group per partition, reading each topic's end offsets once", async () => {
    // Prepare
    const topicReads: string[] = [];
    const reader: OffsetReader = {
      topicOffsets: (topic) => {
        topicReads.push(topic);
        return Promise.resolve([
          { partition: 0, low: 0n, high: 5n },
          { partition: 1, low: 0n, high: 2n },
        ]);
      },
      committedOffsets: (group) =>
        Promise.resolve(
          new Map(
            group === 'g-http-request'
              ? [
                  [0, 5n],
                  [1, undefined],
                ]
              : [
                  [0, 1n],
                  [1, 1n],
                ],
          ),
        ),
    };
    // Act
    const report = await consumerGroupLag({ reader, kafka: config.kafka });
    // Assess
    expect(report.failures).toEqual([]);
    expect(report.lags.filter((l) => l.group === 'g-http-request')).toEqual([
      { group: 'g-http-request', topic: 'req', partition: 0, lag: 0 },
      { group: 'g-http-request', topic: 'req', partition: 1, lag: 2 },
    ]);
    expect(new Set(report.lags.map((l) => l.group))).toEqual(new Set(CONSUMER_FUNCTIONS.map((fn) => `g-${fn.groupSuffix}`)));
    expect(topicReads.sort()).toEqual(['cmd', 'ev', 'req']);
  });

  it('reports a group whose offsets cannot be read and still reports the others', async () => {
    // Prepare
    const reader: OffsetReader = {
      topicOffsets: (topic) =>
        topic === 'cmd'
          ? Promise.reject(new Error('This server does not host this topic-partition'))
          : Promise.resolve([{ partition: 0, low: 0n, high: 1n }]),
      committedOffsets: () => Promise.resolve(new Map()),
    };
    // Act
    const report = await consumerGroupLag({ reader, kafka: config.kafka });
    // Assess
    expect(report.failures).toEqual([{ group: 'g-commands', topic: 'cmd', error: 'This server does not host this topic-partition' }]);
    // One partition for each group of the other topics.
    expect(report.lags).toHaveLength(CONSUMER_FUNCTIONS.filter((fn) => fn.topic !== 'commands').length);
  });
});
