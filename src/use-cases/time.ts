/**
 * GET /: the time payload, and its http_request and http_response events published before
 * the answer (Lambda freezes the container once it answers, so a send left in flight could
 * be lost; the producer bounds the wait). A failed publish still answers the time.
 */
import { performance } from 'node:perf_hooks';
import type { Config } from '../config';
import { errorMessage } from '../errors';
import { buildTimePayload, timeRequestRecords } from '../http';
import type { RecordPublisher } from '../kafka';
import type { Logger } from '../logger';
import { hostInfo } from '../runtime';
import { answer } from './answer';
import type { JsonAnswer } from './answer';

export interface TimeRequest {
  sourceIp: string;
  forwardedFor: string | undefined;
  requestId: string;
  method: string;
  path: string;
  correlationId: string;
}

export function createTimeUseCase(deps: { config: Config; logger: Logger; producer: () => RecordPublisher; source: string }) {
  const { config, logger, source } = deps;
  const host = hostInfo(config.runtime);
  return async function getTime(request: TimeRequest): Promise<JsonAnswer> {
    const started = performance.now();
    const { correlationId } = request;
    const payload = buildTimePayload({ sourceIp: request.sourceIp, forwardedFor: request.forwardedFor, requestId: request.requestId, host });
    const records = timeRequestRecords({
      payload,
      method: request.method,
      endpoint: request.path,
      statusCode: 200,
      responseTimeMs: performance.now() - started,
      topics: config.kafka.topics,
      source,
      correlationId,
    });
    try {
      await deps.producer().send(records);
    } catch (error) {
      // The time is still the answer; the lost events are counted by the producer and logged.
      logger.warn('time request events not published', { error: errorMessage(error), correlation_id: correlationId });
    }
    return answer(200, payload, { 'x-correlation-id': correlationId });
  };
}
