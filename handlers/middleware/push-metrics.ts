/**
 * Pushes the container's metrics to the Pushgateway at the end of every invocation that
 * is due (src/fleet-metrics/src/push.ts: at most once per METRICS_PUSH_INTERVAL_MS, bounded by
 * PUSHGATEWAY_TIMEOUT_MS, never throwing), in `after` and in `onError` alike, so a failed
 * invocation's counts are pushed too. With `recordHttp` it also records
 * http_requests_total and http_request_duration_seconds for API Gateway (HTTP API 2.0)
 * events, so it must be the first `.use()`: its `before` runs first and its `after` and
 * `onError` last, once http-error-handler and the like have set the final response.
 *
 * The push is awaited, not left in the background: Lambda freezes the container as soon
 * as the handler returns, and a push in flight would stall or be lost.
 */
import { performance } from 'node:perf_hooks';
import type middy from '@middy/core';
import type { Context } from 'aws-lambda';
import type { Logger } from '../../src/logger';
import type { MetricsPusher, ServiceMetrics } from '../../src/metrics';
import { errorMessage } from '../../src/errors';

type MiddlewareLogger = Pick<Logger, 'warn'>;

export interface PushMetricsOptions {
  metrics: Pick<ServiceMetrics, 'httpRequests' | 'httpRequestDuration'>;
  pusher: Pick<MetricsPusher, 'pushIfDue'>;
  /** Record HTTP metrics from API Gateway HTTP API (payload 2.0) events. */
  recordHttp?: boolean;
  logger?: MiddlewareLogger;
}

const defaults: Required<Pick<PushMetricsOptions, 'recordHttp'>> & { logger: MiddlewareLogger | undefined } = {
  recordHttp: false,
  logger: undefined,
};

interface HttpFacts {
  route: string;
  method: string;
}

/** Route template and method of an HTTP API event; undefined for any other event. */
function httpFacts(event: unknown): HttpFacts | undefined {
  if (typeof event !== 'object' || event === null) return undefined;
  const e = event as { routeKey?: unknown; requestContext?: { http?: { method?: unknown } } };
  const method = e.requestContext?.http?.method;
  if (typeof method !== 'string') return undefined;
  // routeKey is the matched template ("GET /kafka/status"), never the raw path, so the
  // route label stays a short fixed list; "$default" or a missing key means unmatched.
  const routeKey = typeof e.routeKey === 'string' ? e.routeKey : '$default';
  const space = routeKey.indexOf(' ');
  return { method: method.toUpperCase(), route: space >= 0 ? routeKey.slice(space + 1) : routeKey };
}

function statusOf(response: unknown): string {
  if (typeof response === 'object' && response !== null) {
    const status = (response as { statusCode?: unknown }).statusCode;
    if (typeof status === 'number') return String(status);
  }
  // A structured result without statusCode is answered 200 by API Gateway; no result at
  // all (an unhandled error) is answered 500.
  return response === undefined ? '500' : '200';
}

function validate(options: PushMetricsOptions): void {
  const problems: string[] = [];
  if (typeof options.pusher?.pushIfDue !== 'function') problems.push('pusher: a MetricsPusher (createMetricsPusher)');
  if (options.recordHttp !== undefined && typeof options.recordHttp !== 'boolean') problems.push('recordHttp: a boolean');
  if (options.recordHttp && (!options.metrics?.httpRequests || !options.metrics.httpRequestDuration)) {
    problems.push('metrics: the service metrics (createMetrics) when recordHttp is on');
  }
  if (problems.length > 0) throw new TypeError(`pushMetrics options: ${problems.join('; ')}`);
}

export function pushMetrics<TEvent = unknown, TResult = unknown>(
  opts: PushMetricsOptions,
): middy.MiddlewareObj<TEvent, TResult, Error, Context> {
  validate(opts);
  const options = { ...defaults, ...opts };
  const started = new WeakMap<object, number>();

  function recordHttpRequest(request: middy.Request<TEvent, TResult, Error, Context>): void {
    const facts = httpFacts(request.event);
    const start = started.get(request);
    if (!facts || start === undefined) return;
    try {
      const seconds = (performance.now() - start) / 1000;
      options.metrics.httpRequests.inc({ ...facts, status: statusOf(request.response) });
      options.metrics.httpRequestDuration.observe(facts, seconds);
    } catch (error) {
      // Recording must never change the answer.
      options.logger?.warn('could not record HTTP metrics', { error: errorMessage(error) });
    }
  }

  function pushMetricsBefore(request: middy.Request<TEvent, TResult, Error, Context>): void {
    if (options.recordHttp) started.set(request, performance.now());
  }

  async function pushMetricsAfter(request: middy.Request<TEvent, TResult, Error, Context>): Promise<void> {
    if (options.recordHttp) recordHttpRequest(request);
    // pushIfDue never throws: a failed or slow push is counted and logged by the pusher.
    await options.pusher.pushIfDue();
  }

  async function pushMetricsOnError(request: middy.Request<TEvent, TResult, Error, Context>): Promise<void> {
    if (options.recordHttp) recordHttpRequest(request);
    await options.pusher.pushIfDue();
  }

  return { before: pushMetricsBefore, after: pushMetricsAfter, onError: pushMetricsOnError };
}
