/**
 * GET /: the time payload, and its http_request and http_response events published before
 * the answer (Lambda freezes the container once it answers, so a send left in flight could
 * be lost; the producer bounds the wait). A failed publish still answers the time.
 *
 * The http_response event reports `response_time_ms` as the original service did: the time
 * to produce the answer, the Kafka send of the http_request event included (it cannot
 * include its own send). So the two events go one after the other, and GET / waits for two
 * acknowledgements instead of one (BENCHMARKS.md, "HTTP function: GET / in-process").
 */
import { performance } from 'node:perf_hooks';
import type { Config } from '../config';
import { errorMessage } from '../errors';
import { buildTimePayload, timeRequestRecord, timeResponseRecord } from '../http';
import type { RecordPublisher } from '../kafka';
import type { Logger } from '../logger';
import { hostInfo } from '../runtime';
import { jsonResponse } from './response';
import type { JsonResponse } from './response';

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
  return async function getTime(request: TimeRequest): Promise<JsonResponse> {
    const started = performance.now();
    const { correlationId } = request;
    const payload = buildTimePayload({
      sourceIp: request.sourceIp,
      forwardedFor: request.forwardedFor,
      requestId: request.requestId,
      host,
    });
    const common = { payload, endpoint: request.path, topics: config.kafka.topics, source, correlationId };
    try {
      await deps.producer().send([timeRequestRecord({ ...common, method: request.method })]);
      const responseTimeMs = performance.now() - started;
      await deps.producer().send([timeResponseRecord({ ...common, statusCode: 200, responseTimeMs })]);
    } catch (error) {
      // The time is still the answer; the lost events are counted by the producer and logged.
      // After a failed http_request send the http_response one is not tried: it would wait
      // out a second deadline on the same broker.
      logger.warn('time request events not published', { error: errorMessage(error), correlation_id: correlationId });
    }
    return jsonResponse(200, payload, { 'x-correlation-id': correlationId });
  };
}
