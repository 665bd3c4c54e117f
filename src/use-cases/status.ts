/**
 * GET /kafka/status: the original service's fields first (docs/compatibility.md) (`kafka_producer`, `kafka_consumer`,
 * `consumer_topics`, `consumer_handlers`), then this service's detail. Broker hosts and
 * error messages (which name hosts) only for admin callers; the route itself stays public,
 * so the cluster is read at most every STATUS_CACHE_MS per container.
 */
import type { Config } from '../config';
import { CONSUMER_FUNCTIONS, consumerGroupId, consumerGroupLag, consumerTopic, defaultEventHandlers, lagByGroup } from '../consumers';
import type { LagReport } from '../consumers';
import { createClusterStatusReader, serviceTopics } from '../kafka';
import type { ContainerProducer, StatusSnapshot, containerKafka } from '../kafka';
import type { Logger } from '../logger';
import type { AdminAccess } from './admin-access';
import { jsonResponse } from './response';
import type { JsonResponse } from './response';

const STATUS_TIMEOUT_MS = 1500;
/** A public route must not let callers churn broker connections: the cluster is read at most this often. */
const STATUS_CACHE_MS = 5000;

/** Lag per consumer group and topic (summed over partitions); why it could not be read only for admins. */
function lagView(lag: StatusSnapshot<LagReport>['lag'], admin: boolean): Record<string, unknown> {
  if ('error' in lag) return admin ? { error: lag.error } : { error: 'not readable' };
  const failures = admin ? lag.failures : lag.failures.map(({ group, topic }) => ({ group, topic }));
  return { groups: lagByGroup(lag.lags), failures };
}

export function createStatusUseCase(deps: {
  config: Config;
  producer: () => ContainerProducer;
  kafka: () => ReturnType<typeof containerKafka>;
  admin: AdminAccess;
  now: () => number;
  logger?: Pick<Logger, 'warn'>;
}) {
  const { config, admin } = deps;
  /** A read is logged once, when it is made, not for every caller it is cached for. */
  let lastLogged: number | undefined;
  const logPartialRead = (snapshot: StatusSnapshot<LagReport>): void => {
    if (snapshot.readAt === lastLogged) return;
    lastLogged = snapshot.readAt;
    const lag = snapshot.lag;
    const failures = 'error' in lag ? [{ error: lag.error }] : lag.failures;
    if (snapshot.cluster.error !== undefined || failures.length > 0) {
      deps.logger?.warn('kafka status read in part', { cluster_error: snapshot.cluster.error, lag_failures: failures });
    }
  };
  const clusterStatus = createClusterStatusReader({
    kafka: deps.kafka,
    topics: serviceTopics(config.kafka.topics),
    lag: (reader) => consumerGroupLag({ reader, kafka: config.kafka }),
    timeoutMs: STATUS_TIMEOUT_MS,
    cacheMs: STATUS_CACHE_MS,
    now: deps.now,
  });
  const consumerTopics = [...new Set(CONSUMER_FUNCTIONS.map((fn) => consumerTopic(config.kafka, fn)))];
  const consumerHandlers = defaultEventHandlers().types();
  const consumerFunctions = CONSUMER_FUNCTIONS.map((fn) => ({
    function: fn.name,
    topic: consumerTopic(config.kafka, fn),
    consumer_group: consumerGroupId(config.kafka, fn),
    event_types: fn.eventTypes,
  }));

  return async function getStatus(request: { authorization: string | undefined }): Promise<JsonResponse> {
    const producer = deps.producer();
    const isAdmin = await admin.isAdmin(request.authorization);
    // A fresh container connects its producer here, so the answer says what a send would find.
    const [connected, snapshot] = await Promise.all([producer.connect({ timeoutMs: STATUS_TIMEOUT_MS }), clusterStatus.read()]);
    const { cluster } = snapshot;
    logPartialRead(snapshot);
    return jsonResponse(200, {
      kafka_producer: connected ? 'connected' : 'disconnected',
      // The consumers are event source mappings: they run while the brokers answer.
      kafka_consumer: cluster.reachable ? 'running' : 'unavailable',
      consumer_topics: consumerTopics,
      consumer_handlers: consumerHandlers,
      ...(isAdmin ? { producer: producer.state() } : {}),
      cluster: isAdmin ? cluster : { reachable: cluster.reachable, topics: cluster.topics },
      checked_at: new Date(snapshot.readAt).toISOString(),
      consumer_functions: consumerFunctions,
      consumer_lag: lagView(snapshot.lag, isAdmin),
    });
  };
}
