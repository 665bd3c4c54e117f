/**
 * The container's producer (src/kafka/container.ts) starts its connection when it is made,
 * which the handlers do at module load, during Lambda's init phase: the first invocation
 * of a new container finds it connected, or connecting, instead of starting a connection
 * within its own send budget.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../../src/config';
import { FakeCluster } from '../../helpers/fake-cluster';

const cluster = new FakeCluster({ ackLatencyMs: 5, connectLatencyMs: 300 });

vi.mock('../../../src/kafka/client', async (importOriginal) => ({
  ...(await importOriginal<object>()),
  createKafka: () => cluster.kafka(),
  resolveKafka: () => Promise.resolve(cluster.kafka()),
}));

afterEach(() => {
  vi.useRealTimers();
});

describe('containerProducer', () => {
  it('starts connecting when the container makes it, before any send', async () => {
    // Prepare
    vi.useFakeTimers();
    const { containerProducer } = await import('../../../src/kafka/container.js');

    // Act: the handler module is loaded (init); no invocation yet
    const producer = containerProducer({ config: loadConfig({}) });
    await vi.advanceTimersByTimeAsync(400);

    // Assess
    expect(cluster.instances).toHaveLength(1);
    expect(producer.state()).toMatchObject({ status: 'connected', connects: 1, sent: 0 });
  });
});
