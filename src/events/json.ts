/**
 * How deep a JSON document may nest. JSON.parse takes any depth, but JSON.stringify (and
 * every logger, schema or serialiser after it) recurses and overflows the stack somewhere
 * past a few thousand levels: a 9 KB body can hold 4,500. So a request body or a record
 * value nested deeper than MAX_JSON_DEPTH is refused before anything else touches it (HTTP
 * 400, or the dead-letter topic with reason `too_deep`).
 */
export const MAX_JSON_DEPTH = 64;

/**
 * Whether a parsed JSON value nests deeper than `limit` (a scalar is depth 0, `{}` and
 * `[]` are 1, `{"a":[1]}` is 2). Iterative, so it cannot overflow itself, and it stops at
 * the first branch past the limit.
 */
export function jsonDepthExceeds(value: unknown, limit = MAX_JSON_DEPTH): boolean {
  const stack: Array<{ value: unknown; depth: number }> = [{ value, depth: 0 }];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const v = item.value;
    if (typeof v !== 'object' || v === null) continue;
    const depth = item.depth + 1;
    if (depth > limit) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (typeof child === 'object' && child !== null) stack.push({ value: child, depth });
    }
  }
  return false;
}
