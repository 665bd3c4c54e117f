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

/** What serverless-offline's `Lambda` class offers (v14: serverless-offline/src/lambda/Lambda.js). */
interface OfflineLambda {
  create(lambdas: Array<{ functionKey: string; functionDefinition: unknown }>): void;
  get(functionKey: string): { setEvent(event: unknown): void; runHandler(): Promise<unknown>; cleanup(): Promise<unknown> };
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
  // serverless-offline enforces a function's timeout with a timer per invocation that
  // outlives it (a 30 s timeout at a thousand invocations a second keeps 30,000 of them
  // alive); this invoker enforces it instead, with a timer it clears, and ends a function
  // that runs over as serverless-offline would: its worker is terminated and made anew.
  const unbounded = options.noTimeout === true;
  const lambda = new imported.default(serverless, { localEnvironment: false, ...options, noTimeout: true });
  lambda.create(functions.map((f) => ({ functionKey: f.functionKey, functionDefinition: serverless.service.getFunction(f.functionKey) })));
  const timeouts = new Map(functions.map((f) => [f.functionKey, f.timeoutSeconds]));
  return {
    async invoke(functionKey, event) {
      const fn = lambda.get(functionKey);
      // serverless-offline picks an idle instance; setEvent and runHandler must follow in the same tick.
      fn.setEvent(event);
      const running = fn.runHandler();
      let timer: NodeJS.Timeout | undefined;
      const seconds = timeouts.get(functionKey) ?? 6;
      try {
        const payload = await (unbounded
          ? running
          : Promise.race([
              running,
              new Promise<never>((_, reject) => {
                timer = setTimeout(() => {
                  reject(new Error(`Task timed out after ${seconds.toFixed(2)} seconds`));
                  // Lambda ends the invocation: the instance's worker goes, the next invocation gets a new one.
                  running.catch(() => undefined);
                  void fn.cleanup().catch(() => undefined);
                }, seconds * 1000);
              }),
            ]));
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
