import type { Context, MSKEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { RESPONSE_MARGIN_MS, createConsumerHandler } from '../../../../handlers/factories/consumer';
import type { ProcessOptions } from '../../../../src/consumers';
import { loadConfig } from '../../../../src/config';
import { createLogger } from '../../../../src/logger';
import { createMetrics } from '../../../../src/metrics/container-metrics';
import { FakePublisher } from '../../../helpers/fakes';

describe('the consumer function factory', () => {
  it("gives the batch the function's remaining time less what the answer needs", async () => {
    // Prepare: a consumer that reads the time it is given
    let given: ProcessOptions | undefined;
    const config = loadConfig({ LOG_LEVEL: 'SILENT' });
    const deps = {
      config,
      logger: createLogger(config),
      metrics: createMetrics(),
      pusher: { pushIfDue: () => Promise.resolve('skipped' as const) },
      producer: () => new FakePublisher(),
    };
    const handler = createConsumerHandler('onCustomEvent', deps, {
      build: () => ({
        name: 'onCustomEvent',
        processRecords: (_records, options) => {
          given = options;
          return Promise.resolve({ outcomes: [], failed: [] });
        },
      }),
    });
    const event: MSKEvent = {
      eventSource: 'aws:kafka',
      eventSourceArn: 'arn:aws:kafka:us-east-1:123456789012:cluster/c/1',
      bootstrapServers: 'b:9092',
      records: {},
    };
    const context = { awsRequestId: 'r', functionName: 'f', getRemainingTimeInMillis: () => 2000 } as unknown as Context;

    // Act
    await handler(event, context);

    // Assess
    expect(given?.remainingTimeMs?.()).toBe(2000 - RESPONSE_MARGIN_MS);
  });
});
