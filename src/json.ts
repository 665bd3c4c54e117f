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

/** A JSON object: not an array, not null. */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Bytes as UTF-8 text; throws on bytes that are not UTF-8 instead of replacing them. */
export function decodeUtf8(bytes: Uint8Array): string {
  return utf8.decode(bytes);
}

export type DecodedJson =
  { ok: true; json: unknown } | { ok: false; reason: 'not_utf8' | 'too_deep' } | { ok: false; reason: 'not_json'; error: string };

/**
 * Bytes to a JSON value, refusing what is not UTF-8 (decoding loosely would replace the
 * bad bytes with U+FFFD and pass on altered data), not JSON, or nested past MAX_JSON_DEPTH.
 */
export function decodeJson(bytes: Uint8Array): DecodedJson {
  let text: string;
  try {
    text = decodeUtf8(bytes);
  } catch {
    return { ok: false, reason: 'not_utf8' };
  }
  let json: unknown;
  try {
    json = JSON.parse(text) as unknown;
  } catch (error) {
    return { ok: false, reason: 'not_json', error: (error as Error).message };
  }
  return jsonDepthExceeds(json) ? { ok: false, reason: 'too_deep' } : { ok: true, json };
}
