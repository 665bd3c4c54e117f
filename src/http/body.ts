/**
 * Reads a JSON request body with a byte limit checked before parsing and a nesting limit
 * (MAX_JSON_DEPTH) checked after.
 * (middy's http-json-body-parser answers 415 for malformed JSON and has no size limit;
 * this service answers 400 for both, so this small reader replaces it.)
 */
import { ValidationError } from '../errors';
import { MAX_JSON_DEPTH, decodeJson } from '../json';

export function readJsonBody(params: {
  /** serverless-offline passes null for an empty body, API Gateway omits it. */
  body: string | null | undefined;
  isBase64Encoded: boolean;
  maxBytes: number;
}): unknown {
  const { body, isBase64Encoded, maxBytes } = params;
  if (body === undefined || body === null || body === '') throw new ValidationError('a JSON body is required');
  const raw = isBase64Encoded ? Buffer.from(body, 'base64') : Buffer.from(body, 'utf8');
  if (raw.length > maxBytes) {
    throw new ValidationError(`the body is ${raw.length} bytes, over the ${maxBytes}-byte limit`);
  }
  const decoded = decodeJson(raw);
  if (decoded.ok) return decoded.json;
  if (decoded.reason === 'not_utf8') throw new ValidationError('the body is not UTF-8 text');
  if (decoded.reason === 'not_json') throw new ValidationError('the body is not valid JSON');
  throw new ValidationError(`the body is nested deeper than ${MAX_JSON_DEPTH} levels`);
}
