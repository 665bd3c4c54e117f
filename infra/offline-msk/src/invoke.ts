/**
 * Invokes a function the way the Lambda service does for an event source mapping (a
 * synchronous invocation), in the serverless process: through serverless-offline's own
 * `Lambda` class (its documented export `serverless-offline/lambda`, the one its Invoke
 * API and HTTP events use), without an HTTP round trip and without serialising the event
 * to JSON and parsing it back. The function runs exactly as serverless-offline runs it
 * (its worker thread, environment, timeout, handler reloading); the event reaches it as a
 * structured clone.
 *
 * These functions get their own instances (Lambda's containers), created when first
 * invoked and cleaned up when offline stops.
 */

/** What serverless-offline's `Lambda` class offers (v14: src/lambda/Lambda.js). */
interface OfflineLambda {
  create(lambdas: Array<{ functionKey: string; functionDefinition: unknown }>): void;
  get(functionKey: string): { setEvent(event: unknown): void; runHandler(): Promise<unknown> };
  cleanup(): Promise<unknown>;
}

type OfflineLambdaClass = new (serverless: unknown, options: Record<string, unknown>) => OfflineLambda;

export interface Invoker {
  invoke(functionKey: string, event: unknown): Promise<{ ok: true; payload: unknown } | { ok: false; error: string }>;
  cleanup(): Promise<void>;
}

/**
 * @param serverless the framework's instance
 * @param options serverless-offline's options (custom['serverless-offline'] and the command line)
 * @param functions the functions to invoke, with their timeouts (seconds)
 */
export async function createInvoker(
  serverless: { service: { getFunction(key: string): unknown } },
  options: Record<string, unknown>,
  functions: ReadonlyArray<{ functionKey: string; timeoutSeconds: number }>,
): Promise<Invoker> {
  // ES module only: a dynamic import, also from CommonJS.
  const imported = (await import('serverless-offline/lambda')) as { default: OfflineLambdaClass };
  const lambda = new imported.default(serverless, { noTimeout: false, localEnvironment: false, ...options });
  lambda.create(functions.map((f) => ({ functionKey: f.functionKey, functionDefinition: serverless.service.getFunction(f.functionKey) })));
  const timeouts = new Map(functions.map((f) => [f.functionKey, f.timeoutSeconds]));
  return {
    async invoke(functionKey, event) {
      const fn = lambda.get(functionKey);
      // serverless-offline picks an idle instance; setEvent and runHandler must follow in the same tick.
      fn.setEvent(event);
      let timer: NodeJS.Timeout | undefined;
      // serverless-offline enforces the function's timeout (unless noTimeout); this bounds the wait in any case.
      const bound = ((timeouts.get(functionKey) ?? 6) + 5) * 1000;
      try {
        const payload = await Promise.race([
          fn.runHandler(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no answer within ${bound / 1000} s`)), bound);
          }),
        ]);
        return { ok: true, payload };
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        return { ok: false, error: `${functionKey} failed: ${message}` };
      } finally {
        clearTimeout(timer);
      }
    },
    async cleanup() {
      await lambda.cleanup();
    },
  };
}
