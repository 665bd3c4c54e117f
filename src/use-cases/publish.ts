/**
 * POST /kafka/publish and POST /kafka/flush, behind the admin token. A publish answers 200
 * once every in-sync replica has the event (acks=all), as the original service answers (docs/compatibility.md); a
 * 503 says whether the event may have been written and that a retry with the same id is
 * safe (the consumers drop a second copy of an id).
 */
import type { Config } from '../config';
import { ValidationError } from '../errors';
import { buildPublishRequest, readJsonBody } from '../http';
import { KafkaUnavailableError } from '../kafka';
import type { ContainerProducer } from '../kafka';
import type { Logger } from '../logger';
import type { AdminAccess } from './admin-access';
import { jsonResponse } from './response';
import type { JsonResponse } from './response';

export interface PublishRequest {
  authorization: string | undefined;
  /** serverless-offline passes null for an empty body, API Gateway omits it. */
  body: string | null | undefined;
  isBase64Encoded: boolean;
}

export function createPublishUseCases(deps: {
  config: Config;
  logger: Logger;
  producer: () => ContainerProducer;
  admin: AdminAccess;
  source: string;
}) {
  const { config, logger, admin, source } = deps;

  async function publish(request: PublishRequest): Promise<JsonResponse> {
    const refusal = await admin.refusal(request.authorization);
    if (refusal) return refusal;
    let publishing;
    try {
      const body = readJsonBody({ body: request.body, isBase64Encoded: request.isBase64Encoded, maxBytes: config.http.maxBodyBytes });
      publishing = buildPublishRequest({ body, topics: config.kafka.topics, source });
    } catch (error) {
      if (error instanceof ValidationError) return jsonResponse(400, { error: error.message, details: error.details });
      throw error;
    }
    const { event, record } = publishing;
    try {
      const [ack] = await deps.producer().send([record]);
      logger.info('event published', { event_id: event.id, event_type: event.event_type, ...ack });
      return jsonResponse(200, {
        status: 'success',
        message: `Event '${event.event_type}' published to Kafka`,
        event,
        id: event.id,
        topic: ack?.topic,
        partition: ack?.partition,
        offset: ack?.offset,
      });
    } catch (error) {
      if (!(error instanceof KafkaUnavailableError)) throw error;
      const written = error.outcome === 'not_sent' ? 'it was not written' : 'it may have been written';
      return jsonResponse(
        503,
        {
          error: `Kafka did not acknowledge the event in time; ${written}`,
          outcome: error.outcome,
          id: event.id,
          retry: 'retry with the same id: the consumers drop a second copy of an id, so a retry never runs twice',
        },
        { 'retry-after': '1' },
      );
    }
  }

  async function flush(request: { authorization: string | undefined }): Promise<JsonResponse> {
    const refusal = await admin.refusal(request.authorization);
    if (refusal) return refusal;
    try {
      const { settled } = await deps.producer().flush();
      return jsonResponse(200, { status: 'success', message: 'Kafka producer flushed', settled });
    } catch (error) {
      if (error instanceof KafkaUnavailableError) return jsonResponse(503, { error: error.message });
      throw error;
    }
  }

  return { publish, flush };
}
