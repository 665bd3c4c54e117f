/**
 * Turns an unhandled failure into an `error` event (best effort, bounded, never hiding
 * the original error) and logs it once. For HTTP functions it answers 500 with the
 * request id and no stack trace; for other functions the error is rethrown so Lambda
 * (and the event source) sees the failure.
 */
import type middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { errorEvent, eventHeaders } from '../../src/events';
import type { RecordPublisher } from '../../src/kafka';
import type { Logger } from '../../src/logger';
import { TimeoutError, errorMessage } from '../../src/errors';
import { withTimeout } from '../../src/timeout';

export interface ErrorEventsOptions {
  publisher: () => RecordPublisher;
  topic: string;
  service: string;
  source: string;
  logger: Logger;
  /** HTTP functions answer 500; others rethrow. */
  http: boolean;
  /** How long the error event may take (and never past the function's remaining time); it must not delay the answer much. */
  publishTimeoutMs?: number;
}

const defaults = { publishTimeoutMs: 300 };

/** The invocation's remaining time (unbounded for a context that cannot tell). */
function remainingMs(context: Partial<Pick<Context, 'getRemainingTimeInMillis'>>): number {
  return context.getRemainingTimeInMillis ? context.getRemainingTimeInMillis() : Number.POSITIVE_INFINITY;
}

function isClientHttpError(error: unknown): boolean {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' && status < 500;
}

export function errorEvents<TEvent, TResult>(opts: ErrorEventsOptions): middy.MiddlewareObj<TEvent, TResult, Error, Context> {
  const options = { ...defaults, ...opts };

  const errorEventsOnError: middy.MiddlewareFn<TEvent, TResult, Error, Context> = async (request) => {
    const error = request.error;
    if (!error || request.response !== undefined || isClientHttpError(error)) return;
    const requestId = request.context.awsRequestId;
    // Name and message only: stack traces stay out of logs as well as responses.
    options.logger.error('unhandled failure', { error_type: error.name, error_message: error.message });
    try {
      const event = errorEvent(
        {
          error_message: error.message.slice(0, 1000),
          error_type: error.name,
          service: options.service,
          request_id: requestId,
        },
        { source: options.source, correlationId: requestId },
      );
      // The producer's own deadline starts once it has a connection (a new container's may
      // take KAFKA_CONNECT_TIMEOUT_MS): this wait is bounded as a whole.
      const waitMs = Math.min(options.publishTimeoutMs, remainingMs(request.context));
      await withTimeout(
        options
          .publisher()
          .send([{ topic: options.topic, key: options.service, value: JSON.stringify(event), headers: eventHeaders(event) }], {
            timeoutMs: waitMs,
          }),
        waitMs,
        () => new TimeoutError(`the error event was not acknowledged within ${waitMs} ms`),
      );
    } catch (publishError) {
      options.logger.warn('could not publish the error event', {
        error: errorMessage(publishError),
      });
    }
    if (options.http) {
      request.response = {
        statusCode: 500,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ error: 'internal error', request_id: requestId }),
      } as TResult;
    }
  };

  return { onError: errorEventsOnError };
}
