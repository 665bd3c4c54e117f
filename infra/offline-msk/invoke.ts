/**
 * Invokes a function the way the Lambda service does for an event source mapping: a
 * synchronous (RequestResponse) Invoke, here through serverless-offline's Lambda API
 * (POST /2015-03-31/functions/<name>/invocations on its lambdaPort).
 *
 * serverless-offline v14 (src/lambda/routes/invocations) answers 200 with the handler's
 * result as the body, or, when the handler threw or timed out, 200 with the header
 * `X-Amz-Function-Error: Unhandled` and `{ errorMessage, errorType, trace }`; an unknown
 * function is a 404 with `x-amzn-ErrorType: ResourceNotFoundException`. Every case but a
 * plain 200/204 is a failed invocation, which the mapping retries.
 */
import type { InvokeResult } from '../../src/kafka/event-source';
import type { KafkaEvent } from '../../src/kafka/msk-event';

export function createOfflineInvoker(params: { host: string; lambdaPort: number; functionName: string; timeoutMs: number }) {
  const url = `http://${params.host}:${params.lambdaPort}/2015-03-31/functions/${encodeURIComponent(params.functionName)}/invocations`;
  return async function invoke(event: KafkaEvent): Promise<InvokeResult> {
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-amz-invocation-type': 'RequestResponse' },
        body: JSON.stringify(event),
        signal: AbortSignal.timeout(params.timeoutMs),
      });
    } catch (error) {
      return { ok: false, error: `invoke ${params.functionName}: ${error instanceof Error ? error.message : String(error)}` };
    }
    const text = await response.text();
    const functionError = response.headers.get('x-amz-function-error');
    if (functionError || (response.status !== 200 && response.status !== 204)) {
      let message = text;
      try {
        const body = JSON.parse(text) as { errorMessage?: unknown; Message?: unknown };
        const described = body.errorMessage ?? body.Message;
        if (typeof described === 'string') message = described;
      } catch {
        // not JSON: keep the text
      }
      const kind = functionError ?? response.headers.get('x-amzn-errortype') ?? `HTTP ${response.status}`;
      return { ok: false, error: `${params.functionName} failed (${kind}): ${message}` };
    }
    if (text.length === 0) return { ok: true, payload: undefined };
    try {
      return { ok: true, payload: JSON.parse(text) as unknown };
    } catch {
      return { ok: true, payload: text };
    }
  };
}
