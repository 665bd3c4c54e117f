import { describe, expect, it, vi } from 'vitest';
import { resolveBrokers } from '../../../src/kafka';
import type { GetBootstrapBrokers } from '../../../src/kafka/brokers';

const arn = 'arn:aws:kafka:eu-west-1:123456789012:cluster/demo/abc-1';

describe('resolveBrokers', () => {
  it('returns KAFKA_BROKERS without calling AWS when no cluster ARN is set', async () => {
    const aws = vi.fn<GetBootstrapBrokers>();
    const brokers = await resolveBrokers({ brokers: ['b:9092'], mskClusterArn: undefined, auth: 'none', region: 'eu-west-1' }, aws);
    expect(brokers).toEqual(['b:9092']);
    expect(aws).not.toHaveBeenCalled();
  });

  it('picks the bootstrap string for the configured auth', async () => {
    const aws = vi.fn<GetBootstrapBrokers>().mockResolvedValue({
      BootstrapBrokerString: 'p1:9092',
      BootstrapBrokerStringTls: 't1:9094,t2:9094',
      BootstrapBrokerStringSaslIam: 'i1:9098,i2:9098',
    });
    const brokers = await resolveBrokers({ brokers: [], mskClusterArn: arn, auth: 'iam', region: 'eu-west-1' }, aws);
    expect(brokers).toEqual(['i1:9098', 'i2:9098']);
    expect(aws).toHaveBeenCalledWith(arn, 'eu-west-1');
  });

  it('says which auth the cluster lacks', async () => {
    const aws = vi.fn<GetBootstrapBrokers>().mockResolvedValue({ BootstrapBrokerString: 'p1:9092' });
    await expect(resolveBrokers({ brokers: [], mskClusterArn: arn, auth: 'scram', region: 'eu-west-1' }, aws)).rejects.toThrow(
      /BootstrapBrokerStringSaslScram.*KAFKA_AUTH=scram/,
    );
  });

  it('marks an AWS failure retriable', async () => {
    const aws = vi.fn<GetBootstrapBrokers>().mockRejectedValue(new Error('throttled'));
    await expect(resolveBrokers({ brokers: [], mskClusterArn: arn, auth: 'tls', region: 'eu-west-1' }, aws)).rejects.toMatchObject({
      retriable: true,
    });
  });
});
