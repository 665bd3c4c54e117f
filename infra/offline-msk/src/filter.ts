/**
 * Lambda event filtering for Kafka event source mappings (MSK and self-managed): an
 * event's `filterPatterns` in serverless.yml, `FilterCriteria` in the deployed mapping.
 *
 * AWS's rules, as documented (docs.aws.amazon.com/lambda/latest/dg/kafka-filtering.html and
 * invocation-eventfiltering.html):
 * - Kafka mappings only support filtering on the `value` key. A pattern naming anything
 *   else is refused with an error, so a pattern that would not work on AWS fails locally.
 * - A record is sent to the function when it matches ANY pattern (at most 5 by default);
 *   with no patterns every record is sent. Within a pattern every field must match (AND);
 *   the list of matchers of one field is an OR.
 * - Lambda decodes the value's bytes as UTF-8 before filtering, then reads them as JSON
 *   when they are valid JSON. A JSON object is matched by an object pattern
 *   (`{ "value": { "event_type": [...] } }`); any other JSON value (a number, a string in
 *   quotes, true, false, null, an array) and a value that is not JSON (a plain string) are
 *   matched by a list of matchers (`{ "value": [ { "numeric": [">", 100] } ] }`), so `150`
 *   is the number 150 and `"150"` the string "150".
 * - When the value's format does not match the pattern's format (a JSON object against a
 *   list of matchers, a scalar against an object pattern), when the value is not UTF-8,
 *   or when there is no value (a tombstone), AWS "processes metadata filters only". Kafka
 *   mappings have no metadata filters, so the `value` condition cannot hold and the
 *   record matches no pattern, `{ "exists": false }` included: it is filtered out.
 * - Records that are filtered out are never sent to the function; their offsets are
 *   committed ("For Kafka, Lambda commits offsets for matched and unmatched messages
 *   after successfully invoking the function").
 *
 * Matchers supported (Lambda's filter rule syntax): literal strings, numbers, booleans and
 * null (equals; `""` is the empty string), `prefix`, `suffix`, `equals-ignore-case`,
 * `numeric` (`=`, `<`, `<=`, `>`, `>=`, one or two comparisons), `exists` (true/false,
 * leaf values only), and `anything-but` (a literal, a list of literals, or a `prefix`,
 * `suffix` or `equals-ignore-case` matcher; the field must exist). When the event field is
 * an array, the field matches when any element does.
 */

/** A filter pattern AWS would refuse, with where in the pattern. */
export class FilterPatternError extends Error {
  override readonly name = 'FilterPatternError';
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Literal = null | boolean | number | string;

type Matcher =
  | { kind: 'equals'; value: Literal }
  | { kind: 'prefix'; value: string; ignoreCase: boolean }
  | { kind: 'suffix'; value: string; ignoreCase: boolean }
  | { kind: 'equals-ignore-case'; value: string }
  | { kind: 'numeric'; checks: Array<{ op: NumericOp; value: number }> }
  | { kind: 'exists'; value: boolean }
  | { kind: 'anything-but'; values: Literal[] }
  | { kind: 'anything-but-string'; test: Exclude<Matcher, { kind: 'anything-but' | 'anything-but-string' }> };

type NumericOp = '=' | '<' | '<=' | '>' | '>=';
const NUMERIC_OPS = new Set<string>(['=', '<', '<=', '>', '>=']);

/** A compiled pattern node: an object of fields, or a list of matchers (a leaf). */
type Node = { kind: 'fields'; fields: Map<string, Node> } | { kind: 'leaf'; matchers: Matcher[] };

export interface CompiledFilter {
  /** The patterns as written, for logs. */
  readonly patterns: readonly unknown[];
  matches(value: Buffer | null): boolean;
}

export const MAX_FILTER_PATTERNS = 5;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isLiteral(v: unknown): v is Literal {
  return v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

function compileStringMatcher(
  key: string,
  arg: unknown,
  where: string,
): Exclude<Matcher, { kind: 'anything-but' | 'anything-but-string' }> {
  if (key === 'prefix' || key === 'suffix') {
    if (typeof arg === 'string') return { kind: key, value: arg, ignoreCase: false };
    if (isPlainObject(arg) && typeof arg['equals-ignore-case'] === 'string' && Object.keys(arg).length === 1) {
      return { kind: key, value: arg['equals-ignore-case'], ignoreCase: true };
    }
    throw new FilterPatternError(`${where}: "${key}" takes a string`);
  }
  if (key === 'equals-ignore-case') {
    if (typeof arg === 'string') return { kind: key, value: arg };
    throw new FilterPatternError(`${where}: "equals-ignore-case" takes a string`);
  }
  throw new FilterPatternError(`${where}: unsupported matcher "${key}"`);
}

function compileMatcher(raw: unknown, where: string): Matcher {
  if (isLiteral(raw)) return { kind: 'equals', value: raw };
  if (!isPlainObject(raw) || Object.keys(raw).length !== 1) {
    throw new FilterPatternError(`${where}: a matcher is a literal or an object with one operator, got ${JSON.stringify(raw)}`);
  }
  const [key, arg] = Object.entries(raw)[0]!;
  switch (key) {
    case 'exists':
      if (typeof arg !== 'boolean') throw new FilterPatternError(`${where}: "exists" takes true or false`);
      return { kind: 'exists', value: arg };
    case 'numeric': {
      if (!Array.isArray(arg) || (arg.length !== 2 && arg.length !== 4)) {
        throw new FilterPatternError(`${where}: "numeric" takes [op, n] or [op, n, op, n]`);
      }
      const checks: Array<{ op: NumericOp; value: number }> = [];
      for (let i = 0; i < arg.length; i += 2) {
        const op: unknown = arg[i];
        const value: unknown = arg[i + 1];
        if (typeof op !== 'string' || !NUMERIC_OPS.has(op) || typeof value !== 'number') {
          throw new FilterPatternError(`${where}: "numeric" takes operators = < <= > >= each followed by a number`);
        }
        checks.push({ op: op as NumericOp, value });
      }
      return { kind: 'numeric', checks };
    }
    case 'anything-but': {
      if (isLiteral(arg)) return { kind: 'anything-but', values: [arg] };
      if (Array.isArray(arg) && arg.length > 0 && arg.every(isLiteral)) return { kind: 'anything-but', values: arg };
      if (isPlainObject(arg) && Object.keys(arg).length === 1) {
        const [inner, innerArg] = Object.entries(arg)[0]!;
        return { kind: 'anything-but-string', test: compileStringMatcher(inner, innerArg, `${where}.anything-but`) };
      }
      throw new FilterPatternError(
        `${where}: "anything-but" takes a literal, a list of literals, or a prefix/suffix/equals-ignore-case matcher`,
      );
    }
    default:
      return compileStringMatcher(key, arg, where);
  }
}

function compileNode(raw: unknown, where: string): Node {
  if (Array.isArray(raw)) {
    if (raw.length === 0) throw new FilterPatternError(`${where}: an empty list of matchers never matches`);
    return { kind: 'leaf', matchers: raw.map((m, i) => compileMatcher(m, `${where}[${i}]`)) };
  }
  if (isPlainObject(raw)) {
    const fields = new Map<string, Node>();
    for (const [key, child] of Object.entries(raw)) fields.set(key, compileNode(child, `${where}.${key}`));
    if (fields.size === 0) throw new FilterPatternError(`${where}: an empty object is not a pattern`);
    return { kind: 'fields', fields };
  }
  throw new FilterPatternError(`${where}: expected an object of fields or a list of matchers, got ${JSON.stringify(raw)}`);
}

function numericHolds(op: NumericOp, actual: number, expected: number): boolean {
  switch (op) {
    case '=':
      return actual === expected;
    case '<':
      return actual < expected;
    case '<=':
      return actual <= expected;
    case '>':
      return actual > expected;
    case '>=':
      return actual >= expected;
  }
}

function stringTest(m: Exclude<Matcher, { kind: 'anything-but' | 'anything-but-string' }>, v: string): boolean {
  switch (m.kind) {
    case 'prefix':
      return m.ignoreCase ? v.toLowerCase().startsWith(m.value.toLowerCase()) : v.startsWith(m.value);
    case 'suffix':
      return m.ignoreCase ? v.toLowerCase().endsWith(m.value.toLowerCase()) : v.endsWith(m.value);
    case 'equals-ignore-case':
      return v.toLowerCase() === m.value.toLowerCase();
    default:
      return false;
  }
}

/** One matcher against one present, non-array leaf value. */
function matchValue(m: Matcher, v: Json): boolean {
  switch (m.kind) {
    case 'equals':
      return v === m.value;
    case 'prefix':
    case 'suffix':
    case 'equals-ignore-case':
      return typeof v === 'string' && stringTest(m, v);
    case 'numeric':
      return typeof v === 'number' && m.checks.every((c) => numericHolds(c.op, v, c.value));
    case 'exists':
      // A present leaf (objects are not leaves).
      return m.value === (typeof v !== 'object' || v === null);
    case 'anything-but':
      return !m.values.some((x) => x === v);
    case 'anything-but-string':
      return typeof v === 'string' && !stringTest(m.test, v);
  }
}

const ABSENT = Symbol('absent');

function matchLeaf(matchers: Matcher[], value: Json | typeof ABSENT): boolean {
  return matchers.some((m) => {
    if (value === ABSENT) return m.kind === 'exists' && !m.value;
    if (Array.isArray(value)) {
      if (m.kind === 'exists') return m.value;
      if (m.kind === 'anything-but' || m.kind === 'anything-but-string') {
        return value.length > 0 && value.every((el) => matchValue(m, el));
      }
      return value.some((el) => matchValue(m, el));
    }
    return matchValue(m, value);
  });
}

function matchNode(node: Node, value: Json | typeof ABSENT): boolean {
  if (node.kind === 'leaf') return matchLeaf(node.matchers, value);
  const candidates: Json[] =
    value === ABSENT ? [] : Array.isArray(value) ? value.filter((v) => isPlainObject(v)) : isPlainObject(value) ? [value] : [];
  const check = (obj: Record<string, Json> | undefined): boolean =>
    [...node.fields].every(([key, child]) => {
      const present = obj !== undefined && Object.prototype.hasOwnProperty.call(obj, key);
      return matchNode(child, present ? obj[key]! : ABSENT);
    });
  if (candidates.length === 0) return check(undefined);
  return candidates.some((c) => check(c as Record<string, Json>));
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * How Lambda sees a Kafka value when filtering: a JSON object (object patterns), a scalar
 * (lists of matchers: any other JSON value, or a plain string), or nothing a pattern can
 * match (no value, or bytes that are not UTF-8).
 */
export type FilterView =
  { kind: 'object'; value: Json } | { kind: 'scalar'; value: Json } | { kind: 'none'; why: 'tombstone' | 'not-utf8' };

export function filterViewOf(value: Buffer | null): FilterView {
  if (value === null) return { kind: 'none', why: 'tombstone' };
  let text: string;
  try {
    text = utf8.decode(value);
  } catch {
    return { kind: 'none', why: 'not-utf8' };
  }
  let parsed: Json;
  try {
    parsed = JSON.parse(text) as Json;
  } catch {
    return { kind: 'scalar', value: text };
  }
  return isPlainObject(parsed) ? { kind: 'object', value: parsed } : { kind: 'scalar', value: parsed };
}

/**
 * Compiles serverless.yml `filterPatterns` (each an object such as
 * `{ value: { event_type: ['http_request'] } }`) or FilterCriteria `Pattern` strings.
 * Throws a FilterPatternError naming the first problem.
 */
export function compileFilterPatterns(patterns: readonly unknown[] | undefined): CompiledFilter {
  const list = patterns ?? [];
  if (list.length > MAX_FILTER_PATTERNS) {
    throw new FilterPatternError(`at most ${MAX_FILTER_PATTERNS} filter patterns per event source mapping, got ${list.length}`);
  }
  const compiled = list.map((raw, i) => {
    const where = `filterPatterns[${i}]`;
    let pattern: unknown = raw;
    if (typeof raw === 'string') {
      try {
        pattern = JSON.parse(raw);
      } catch {
        throw new FilterPatternError(`${where}: not JSON: ${raw}`);
      }
    }
    if (!isPlainObject(pattern)) throw new FilterPatternError(`${where}: a pattern is an object`);
    const keys = Object.keys(pattern);
    const other = keys.filter((k) => k !== 'value');
    if (other.length > 0 || keys.length === 0) {
      throw new FilterPatternError(
        `${where}: Kafka event source mappings only support filtering on the "value" key (found ${keys.join(', ') || 'nothing'})`,
      );
    }
    const node = compileNode(pattern.value, `${where}.value`);
    return node;
  });
  return {
    patterns: list,
    matches(value: Buffer | null): boolean {
      if (compiled.length === 0) return true;
      const view = filterViewOf(value);
      // The value's format must be the pattern's (object pattern for a JSON object, list
      // of matchers for anything else); otherwise only metadata filters apply, and Kafka
      // mappings have none.
      if (view.kind === 'none') return false;
      return compiled.some(
        (node) => (view.kind === 'object' ? node.kind === 'fields' : node.kind === 'leaf') && matchNode(node, view.value),
      );
    },
  };
}
