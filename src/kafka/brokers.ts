/**
 * Where the brokers are: KAFKA_BROKERS as given, or, when MSK_CLUSTER_ARN is set,
 * the bootstrap string MSK returns for the configured authentication. The AWS SDK is
 * imported lazily so the local (plain brokers) path never loads it.
 */
import type { Config, KafkaAuth } from '../config';
import { BrokerAuthMismatchError, BrokerDiscoveryError } from './errors';

/** The part of @aws-sdk/client-kafka's GetBootstrapBrokers answer that is used. */
export interface BootstrapBrokers {
  BootstrapBrokerString?: string | undefined;
  BootstrapBrokerStringTls?: string | undefined;
  BootstrapBrokerStringSaslScram?: string | undefined;
  BootstrapBrokerStringSaslIam?: string | undefined;
}

export type GetBootstrapBrokers = (clusterArn: string, region: string) => Promise<BootstrapBrokers>;

const FIELD_BY_AUTH: Record<KafkaAuth, keyof BootstrapBrokers> = {
  none: 'BootstrapBrokerString',
  tls: 'BootstrapBrokerStringTls',
  scram: 'BootstrapBrokerStringSaslScram',
  iam: 'BootstrapBrokerStringSaslIam',
};

const MSK_API_TIMEOUT_MS = 3000;

/** GetBootstrapBrokers through the AWS SDK, loaded on first use. */
export const getBootstrapBrokersFromAws: GetBootstrapBrokers = async (clusterArn, region) => {
  const { KafkaClient, GetBootstrapBrokersCommand } = await import('@aws-sdk/client-kafka');
  const client = new KafkaClient({ region, maxAttempts: 2 });
  try {
    return await client.send(new GetBootstrapBrokersCommand({ ClusterArn: clusterArn }), {
      abortSignal: AbortSignal.timeout(MSK_API_TIMEOUT_MS),
    });
  } finally {
    client.destroy();
  }
};

export async function resolveBrokers(
  kafka: Pick<Config['kafka'], 'brokers' | 'mskClusterArn' | 'auth' | 'region'>,
  getBootstrapBrokers: GetBootstrapBrokers = getBootstrapBrokersFromAws,
): Promise<string[]> {
  if (kafka.mskClusterArn === undefined) return kafka.brokers;
  let answer: BootstrapBrokers;
  try {
    answer = await getBootstrapBrokers(kafka.mskClusterArn, kafka.region);
  } catch (cause) {
    throw new BrokerDiscoveryError(`GetBootstrapBrokers failed for ${kafka.mskClusterArn}`, { cause });
  }
  const field = FIELD_BY_AUTH[kafka.auth];
  const value = answer[field];
  if (!value) {
    throw new BrokerAuthMismatchError(
      `MSK cluster ${kafka.mskClusterArn} has no ${field}: is KAFKA_AUTH=${kafka.auth} enabled on the cluster?`,
    );
  }
  return value.split(',').map((b) => b.trim());
}
