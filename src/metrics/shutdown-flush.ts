/**
 * On Lambda, the container's last push when its execution environment shuts down, so what it
 * counted after its last push is not lost when Lambda reaps it.
 *
 * Lambda sends the runtime SIGTERM before it reaps an environment only when an extension is
 * registered (docs.aws.amazon.com/lambda/latest/dg/runtimes-extensions-api.html, shutdown
 * phase; aws-samples/graceful-shutdown-with-aws-lambda). So the function registers an
 * internal extension from its own process, with no layer:
 * - `POST /2020-01-01/extension/register` on the Runtime API with `Lambda-Extension-Name`
 *   and `{"events": []}` (an internal extension may not subscribe to SHUTDOWN, and one that
 *   subscribes to INVOKE would have to answer every invocation). It must reach Lambda during
 *   the init phase, before the runtime asks for its first event: the request is sent while the
 *   handler module loads (its connection is made before the event loop's first turn, the
 *   runtime asks from a later phase of that turn). Refused or late, it is logged and the
 *   container keeps the bound it had: its counts wait for its next invocation.
 * - then `GET /2020-01-01/extension/event/next` with the identifier: the init phase ends only
 *   once every registered extension has asked for its next event. With no events subscribed
 *   the request is never answered; its socket is unref'd.
 * - on SIGTERM: push, waited for at most SHUTDOWN_FLUSH_MS (Lambda allows 500 ms to a runtime
 *   with an internal extension, then SIGKILLs it), then exit.
 */
import http from 'node:http';
import type { Logger } from '../logger';
import { errorMessage, TimeoutError } from '../errors';
import { withTimeout } from '../timeout';

export const EXTENSION_NAME = 'simple-time-service-metrics-flush';
/** Within the 500 ms Lambda gives the runtime after SIGTERM. */
export const SHUTDOWN_FLUSH_MS = 450;
const REGISTER_TIMEOUT_MS = 2_000;

export interface ShutdownFlushParams {
  /** AWS_LAMBDA_RUNTIME_API: host:port. */
  runtimeApi: string;
  /** The last push; bounded here by SHUTDOWN_FLUSH_MS. */
  flush: () => Promise<unknown>;
  logger?: Pick<Logger, 'warn' | 'info'>;
  /** Ends the process once flushed (process.exit); injectable for tests. */
  exit?: (code: number) => void;
}

interface RuntimeApiResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
}

/** One request to the Runtime API; `hold` leaves a long poll open without keeping the process alive. */
function runtimeApiRequest(url: string, options: http.RequestOptions & { body?: string; hold?: boolean }): Promise<RuntimeApiResponse> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { ...options, agent: false }, (response) => {
      response.resume();
      resolve({ status: response.statusCode ?? 0, headers: response.headers });
    });
    request.on('error', reject);
    if (options.hold) request.on('socket', (socket) => socket.unref());
    else
      request.setTimeout(REGISTER_TIMEOUT_MS, () =>
        request.destroy(new TimeoutError(`no answer from the Runtime API in ${REGISTER_TIMEOUT_MS} ms`)),
      );
    request.end(options.body);
  });
}

let registered = false;

/** Registers the extension and the SIGTERM flush, once per process; never throws. */
export function flushOnShutdown(params: ShutdownFlushParams): void {
  if (registered) return;
  registered = true;
  const { runtimeApi, flush, logger } = params;
  const exit = params.exit ?? ((code: number) => process.exit(code));
  const base = `http://${runtimeApi}/2020-01-01/extension`;

  async function onSigterm(): Promise<void> {
    try {
      await withTimeout(flush(), SHUTDOWN_FLUSH_MS, () => new TimeoutError(`the last push took over ${SHUTDOWN_FLUSH_MS} ms`));
      logger?.info('execution environment shutting down: metrics pushed');
    } catch (error) {
      logger?.warn('execution environment shutting down: metrics not pushed', { error: errorMessage(error) });
    }
    exit(0);
  }

  runtimeApiRequest(`${base}/register`, {
    method: 'POST',
    headers: { 'Lambda-Extension-Name': EXTENSION_NAME, 'content-type': 'application/json' },
    body: JSON.stringify({ events: [] }),
  })
    .then(({ status, headers }) => {
      const id = headers['lambda-extension-identifier'];
      if (status !== 200 || typeof id !== 'string') throw new Error(`the Runtime API answered ${status} to the registration`);
      process.once('SIGTERM', () => void onSigterm());
      return runtimeApiRequest(`${base}/event/next`, { method: 'GET', headers: { 'Lambda-Extension-Identifier': id }, hold: true });
    })
    .catch((error: unknown) => {
      logger?.warn('metrics are not pushed at shutdown: the shutdown extension could not register', { error: errorMessage(error) });
    });
}
