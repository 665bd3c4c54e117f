/**
 * One log line per HTTP request (API Gateway HTTP API 2.0 events): `GET /kafka/status 200
 * in 12 ms`, with method, path, status and duration as fields in the JSON format. A
 * successful answer to a scrape of GET /metrics or a probe of GET /healthz is logged at
 * debug: Prometheus scrapes every few seconds, and an idle service should say nothing.
 *
 * Use it after injectLambdaContext (the line carries the request's keys) and before
 * http-error-handler: its `after` and `onError` then run once the final response is set.
 */
import { performance } from 'node:perf_hooks';
import type middy from '@middy/core';
import type { Context } from 'aws-lambda';

/** Routes whose successful answers are routine (scrapes, probes): logged at debug. */
const QUIET_ROUTES = new Set(['GET /metrics', 'GET /healthz']);
const MAX_PATH_LENGTH = 200;

/** The two levels it writes at (a Logger has both). */
interface AccessLogger {
  info(message: string, fields: Record<string, unknown>): void;
  debug(message: string, fields: Record<string, unknown>): void;
}

interface Request {
  method: string;
  path: string;
}

function requestOf(event: unknown): Request | undefined {
  const e = event as { rawPath?: unknown; requestContext?: { http?: { method?: unknown; path?: unknown } } } | null;
  const method = e?.requestContext?.http?.method;
  if (typeof method !== 'string') return undefined;
  const path =
    typeof e?.rawPath === 'string' ? e.rawPath : typeof e?.requestContext?.http?.path === 'string' ? e.requestContext.http.path : '/';
  return { method: method.toUpperCase(), path: path.length > MAX_PATH_LENGTH ? `${path.slice(0, MAX_PATH_LENGTH)}…` : path };
}

/** API Gateway's status for a result: its statusCode, 200 for a result without one, 500 for none. */
function statusOf(response: unknown): number {
  const status = (response as { statusCode?: unknown } | null | undefined)?.statusCode;
  if (typeof status === 'number') return status;
  return response === undefined || response === null ? 500 : 200;
}

export function accessLog<TEvent = unknown, TResult = unknown>(options: {
  logger: AccessLogger;
  /** The readable format (LOG_FORMAT=pretty): everything is in the message, no fields. */
  readable: boolean;
}): middy.MiddlewareObj<TEvent, TResult, Error, Context> {
  const started = new WeakMap<object, number>();

  function log(request: middy.Request<TEvent, TResult, Error, Context>): void {
    const http = requestOf(request.event);
    const start = started.get(request);
    if (!http || start === undefined) return;
    const status = statusOf(request.response);
    const durationMs = Math.round(performance.now() - start);
    const message = `${http.method} ${http.path} ${status} in ${durationMs} ms`;
    const routine = status < 400 && QUIET_ROUTES.has(`${http.method} ${http.path}`);
    const fields = options.readable ? {} : { method: http.method, path: http.path, status, duration_ms: durationMs };
    if (routine) options.logger.debug(message, fields);
    else options.logger.info(message, fields);
  }

  return {
    before: (request) => {
      started.set(request, performance.now());
    },
    after: (request) => log(request),
    onError: (request) => log(request),
  };
}
