'use strict';
/**
 * Runs one Lambda function from its unpacked zip as the nodejs22.x runtime does, under the
 * Node.js that runs this file (test/integration/node22-zips.test.ts starts it with Node 22):
 * the handler `_HANDLER` (`<module>.<export>`) is loaded from `LAMBDA_TASK_ROOT` once (the
 * init phase), then invoked once per `invoke` message, with a Lambda context.
 *
 * Also, at init, what the bundle loads later with `import()` / `require()` of a package
 * (an external: kept out of the bundle, shipped in the zip's node_modules or provided by
 * the runtime) is loaded now, with the runtime's module path (NODE_PATH, which the Lambda
 * runtime also searches for ES modules), so a missing or broken external fails here and not
 * on the first invocation that needs it in production.
 *
 * With AWS_LAMBDA_RUNTIME_API set (a Runtime API of the test's own), it also asks that API for
 * its first event once the handler is loaded, from a setImmediate callback, as the nodejs22.x
 * runtime does (aws-lambda-nodejs-runtime-interface-client: `await UserFunction.load()`, then
 * `scheduleIteration()`): that request ends the init phase, after which Lambda refuses to
 * register an extension. The invocations still come over IPC.
 *
 * Messages over the IPC channel (JSON):
 *   sent once:  { type: 'init', ok, error?, readOnly, node, externals, pid }
 *   received:   { type: 'invoke', id, event, timeoutMs }
 *   answered:   { type: 'result', id, ok: true, result } | { type: 'result', id, ok: false, error: { errorType, errorMessage } }
 *
 * Plain CommonJS, not TypeScript: the Node.js under test runs it as it is.
 */
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { randomUUID } = require('node:crypto');
const { createRequire, isBuiltin } = require('node:module');
const { pathToFileURL } = require('node:url');

const root = process.env.LAMBDA_TASK_ROOT || process.cwd();
const handlerSpec = process.env._HANDLER || '';

function send(message) {
  return new Promise((resolve) => process.send(message, () => resolve()));
}

function describe(error) {
  if (error instanceof Error) return { errorType: error.name || 'Error', errorMessage: error.message };
  return { errorType: 'Error', errorMessage: String(error) };
}

/** Lambda's own check: the task root is read-only for the function. */
function taskRootIsReadOnly() {
  const probe = path.join(root, `.write-probe-${process.pid}`);
  try {
    fs.writeFileSync(probe, '');
  } catch {
    return true;
  }
  fs.rmSync(probe, { force: true });
  return false;
}

/** The module file of `handlers/http` as the runtime looks for it: .js, then .mjs, then .cjs. */
function moduleFile(modulePath) {
  for (const extension of ['.js', '.mjs', '.cjs']) {
    const file = path.resolve(root, modulePath + extension);
    if (fs.existsSync(file)) return file;
  }
  const error = new Error(`Cannot find module '${modulePath}' in ${root}`);
  error.name = 'Runtime.ImportModuleError';
  throw error;
}

/** The packages a bundle loads by name (`require("x")`, `import("x")`), builtins left out. */
function packagesLoadedBy(file) {
  const text = fs.readFileSync(file, 'utf8');
  const names = new Set();
  for (const match of text.matchAll(/\b(?:require|import)\(\s*["']([^"'.][^"']*)["']\s*\)/g)) {
    if (!isBuiltin(match[1])) names.add(match[1]);
  }
  return [...names].sort();
}

async function load() {
  const dot = handlerSpec.lastIndexOf('.');
  if (dot <= 0) throw Object.assign(new Error(`bad handler '${handlerSpec}'`), { name: 'Runtime.MalformedHandlerName' });
  const file = moduleFile(handlerSpec.slice(0, dot));
  const exportName = handlerSpec.slice(dot + 1);
  let loaded;
  try {
    loaded = file.endsWith('.mjs') ? await import(pathToFileURL(file).href) : require(file);
  } catch (error) {
    const failure = describe(error);
    throw Object.assign(new Error(`${failure.errorType}: ${failure.errorMessage}`), { name: 'Runtime.ImportModuleError' });
  }
  const handler = loaded[exportName];
  if (typeof handler !== 'function') {
    throw Object.assign(new Error(`${handlerSpec} is undefined or not exported`), { name: 'Runtime.HandlerNotFound' });
  }
  // What the bundle loads later: load it now, resolved from the bundle's folder and NODE_PATH.
  const requireFromBundle = createRequire(file);
  const externals = [];
  for (const name of packagesLoadedBy(file)) {
    try {
      requireFromBundle(name);
      externals.push(name);
    } catch (error) {
      const failure = describe(error);
      throw Object.assign(new Error(`the bundle loads '${name}', which fails: ${failure.errorMessage}`), {
        name: 'Runtime.ImportModuleError',
      });
    }
  }
  return { handler, externals };
}

function contextFor(awsRequestId, deadline) {
  const functionName = process.env.AWS_LAMBDA_FUNCTION_NAME || 'function';
  const region = process.env.AWS_REGION || 'us-east-1';
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION || '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${region}:123456789012:function:${functionName}`,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE || '128',
    awsRequestId,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME || `/aws/lambda/${functionName}`,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME || 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** The runtime's first `GET /2018-06-01/runtime/invocation/next`, left open without keeping the process alive. */
function askForFirstEvent() {
  const api = process.env.AWS_LAMBDA_RUNTIME_API;
  if (!api) return;
  setImmediate(() => {
    const request = http.get(`http://${api}/2018-06-01/runtime/invocation/next`, { agent: false });
    request.on('socket', (socket) => socket.unref());
    request.on('error', () => undefined);
  });
}

async function main() {
  const readOnly = taskRootIsReadOnly();
  let loaded;
  try {
    loaded = await load();
  } catch (error) {
    await send({ type: 'init', ok: false, error: describe(error), readOnly, node: process.version, externals: [], pid: process.pid });
    process.exit(1);
  }
  askForFirstEvent();
  const { handler, externals } = loaded;
  process.on('message', async (message) => {
    if (!message || message.type !== 'invoke') return;
    const deadline = Date.now() + message.timeoutMs;
    let timer;
    const timedOut = new Promise((_, reject) => {
      timer = setTimeout(
        () => reject(Object.assign(new Error(`Task timed out after ${message.timeoutMs / 1000} seconds`), { name: 'Sandbox.Timedout' })),
        message.timeoutMs,
      );
    });
    try {
      const result = await Promise.race([handler(message.event, contextFor(randomUUID(), deadline)), timedOut]);
      // As Lambda answers: the result serialised as JSON (undefined is null).
      await send({ type: 'result', id: message.id, ok: true, result: result === undefined ? null : JSON.parse(JSON.stringify(result)) });
    } catch (error) {
      await send({ type: 'result', id: message.id, ok: false, error: describe(error) });
    } finally {
      clearTimeout(timer);
    }
  });
  process.on('disconnect', () => process.exit(0));
  await send({ type: 'init', ok: true, readOnly, node: process.version, externals, pid: process.pid });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
