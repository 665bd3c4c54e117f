/**
 * Gzip record batches through the local MSK event source's own kafkajs client (the
 * plugin's runMappings, without serverless), on the shared broker with topics of this
 * file's own. A real gzip batch is read and delivered. A batch that inflates past the
 * bound (src/gzip.ts; kafkajs alone inflates it whole, tulios/kafkajs#1795)
 * is not read: the log says why, the function gets nothing of it, and nothing is
 * committed past it.
 */
import { CompressionTypes } from 'kafkajs';
import type { Admin, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_GZIP_BATCH_BYTES } from '../../src/gzip';
import { readMappings, readPluginOptions } from '../../src/options';
import type { ServiceLike } from '../../src/options';
import type { KafkaEvent } from '../../src/event';
import { runMappings } from '../../src/sources';
import type { RunningMappings } from '../../src/sources';
import { brokers, createTopic, decodeKafkaEvent, testKafka, uniqueName, waitFor } from './support';

const fine = uniqueName('offline-msk-gzip');
const bomb = uniqueName('offline-msk-gzip-bomb');
const ARN = 'arn:aws:kafka:us-east-1:123456789012:cluster/local/11111111-2222-3333-4444-555555555555-1';

/** One msk event per function, on its own topic and group. */
function service(topics: Record<string, string>): ServiceLike {
  return {
    service: 'gzip-probe',
    provider: { region: 'us-east-1', stage: 'local' },
    custom: { offlineMsk: { brokers: brokers.join(',') } },
    getAllFunctions: () => Object.keys(topics),
    getFunction: (key) => ({
      events: [{ msk: { arn: ARN, topic: topics[key], consumerGroupId: `${topics[key]}-group`, maximumBatchingWindow: 0 } }],
    }),
  };
}

describe('gzip record batches through the local MSK event source', () => {
  let admin: Admin;
  let producer: Producer;
  let running: RunningMappings | undefined;
  const events = new Map<string, KafkaEvent[]>();
  const lines: string[] = [];
  const received = (fn: string) => (events.get(fn) ?? []).flatMap((e) => decodeKafkaEvent(e).records);
  const committed = async (topic: string) =>
    (await admin.fetchOffsets({ groupId: `${topic}-group`, topics: [topic] }))[0]?.partitions[0]?.offset;

  beforeAll(async () => {
    const kafka = testKafka('sts-offline-msk-gzip');
    admin = kafka.admin();
    await admin.connect();
    await createTopic(admin, fine, 1);
    await createTopic(admin, bomb, 1);
    producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
  }, 60_000);

  afterAll(async () => {
    await running?.stop();
    await producer?.disconnect();
    await admin?.disconnect();
  }, 60_000);

  it('delivers a gzip batch, and refuses, saying why, one that inflates past the bound', async () => {
    // Prepare: one gzip batch of 20 records; one of a single record of zeros 8 MiB past the bound (about 33 KB compressed)
    await producer.send({
      topic: fine,
      acks: -1,
      compression: CompressionTypes.GZIP,
      messages: Array.from({ length: 20 }, (_, i) => ({ value: JSON.stringify({ i }) })),
    });
    await producer.send({
      topic: bomb,
      acks: -1,
      compression: CompressionTypes.GZIP,
      messages: [{ value: Buffer.alloc(MAX_GZIP_BATCH_BYTES + 8 * 1024 * 1024) }],
    });
    const svc = service({ fine, bomb });
    const options = readPluginOptions(svc, {});
    const log = {
      debug: () => undefined,
      info: (m: string) => lines.push(m),
      notice: (m: string) => lines.push(m),
      warning: (m: string) => lines.push(m),
      error: (m: string) => lines.push(m),
    };

    // Act
    running = await runMappings({
      mappings: readMappings(svc, options),
      options,
      log,
      invoke: (functionKey, event) => {
        events.set(functionKey, [...(events.get(functionKey) ?? []), event as KafkaEvent]);
        return Promise.resolve({ ok: true, payload: null });
      },
    });
    await waitFor(async () => ((await committed(fine)) === '20' ? true : undefined), {
      timeoutMs: 30_000,
      what: 'the gzip batch to be delivered and committed',
    });
    const refused = await waitFor(() => lines.find((l) => l.includes('inflates to more than')), {
      timeoutMs: 30_000,
      what: 'the bound to be named in the log',
    });

    // Assess
    expect(received('fine').map((r) => JSON.parse(r.value!.toString()) as unknown)).toEqual(Array.from({ length: 20 }, (_, i) => ({ i })));
    expect(refused).toMatch(
      new RegExp(`a gzip record batch of \\d+ bytes inflates to more than ${MAX_GZIP_BATCH_BYTES} bytes, the local event source's bound`),
    );
    expect(received('bomb')).toEqual([]);
    expect(await committed(bomb)).toBe('-1');
  }, 90_000);
});
