/**
 * Which function of a topic handles a record: each record is handled or dead-lettered by
 * exactly one (docs/consumers.md).
 *
 * The topic's catch-all receives every record (no filter); a sibling receives what its
 * filter on `value.event_type` matches, as Lambda reads the value. AWS documents that
 * Kafka filtering reads `value` as JSON when it is valid JSON (docs.aws.amazon.com/lambda/
 * latest/dg/kafka-filtering.html, invocation-eventfiltering.html) and says nothing about a
 * byte order mark, a key written twice, escapes, or how deep its parser goes. Readers differ
 * there: `JSON.parse` (and the local event source, infra/offline-msk/src/filter.ts) strips
 * nothing but lets the last of two keys win, a streaming matcher sees every value of a
 * repeated key, a parser reading text may keep a byte order mark and see no JSON at all.
 *
 * So a sibling takes a record only when every such reading agrees on its event type: the
 * value is UTF-8 JSON without a byte order mark, nested at most MAX_JSON_DEPTH levels, an
 * object with exactly one top-level `event_type`, key and string written without escapes.
 * Whatever a sibling takes, every filter delivers to it. Every other record is the
 * catch-all's: it never depends on a filter. When some reading of such a record would
 * have given it to a sibling, the catch-all dead-letters it as `ambiguous_event_type`
 * (the sibling, if its filter delivered it anyway, skips it) rather than guess.
 */
import { decodeJson, decodeUtf8, isJsonObject } from '../json';
import type { ConsumedRecord } from '../kafka';
import { CONSUMER_FUNCTIONS } from './functions';
import type { ConsumerFunction } from './functions';
import { handlesType } from './table-rules';

/** How a record's value names its event type. */
export interface EventTypeReading {
  /** The type every reading agrees on, if they do. */
  agreed: string | undefined;
  /** Every string a top-level `event_type` holds (escapes decoded, byte order mark stripped). */
  possible: string[];
}

const BOM = [0xef, 0xbb, 0xbf];

function startsWithBom(value: Buffer): boolean {
  return BOM.every((byte, i) => value[i] === byte);
}

/** The end of the JSON string starting at `i` (a quote), just past its closing quote. */
function stringEnd(text: string, i: number): number {
  let j = i + 1;
  while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
  return j + 1;
}

/** The end of the JSON value starting at `i` (text already known to be valid JSON). */
function valueEnd(text: string, i: number): number {
  if (text[i] === '"') return stringEnd(text, i);
  let depth = 0;
  let j = i;
  for (; j < text.length; j += 1) {
    const c = text[j];
    if (c === '"') {
      j = stringEnd(text, j) - 1;
    } else if (c === '{' || c === '[') {
      depth += 1;
    } else if (c === '}' || c === ']') {
      if (depth === 0) break;
      depth -= 1;
      if (depth === 0) return j + 1;
    } else if (c === ',' && depth === 0) {
      break;
    }
  }
  return j;
}

const WHITESPACE = new Set([' ', '\t', '\n', '\r']);

function skipSpace(text: string, i: number): number {
  let j = i;
  while (WHITESPACE.has(text[j] ?? '')) j += 1;
  return j;
}

/** The top-level members of a JSON object's text, key and value as written. */
function topLevelMembers(text: string): Array<{ key: string; value: string }> {
  const members: Array<{ key: string; value: string }> = [];
  let i = skipSpace(text, skipSpace(text, 0) + 1); // past "{"
  while (text[i] === '"') {
    const keyEnd = stringEnd(text, i);
    const valueStart = skipSpace(text, skipSpace(text, keyEnd) + 1); // past ":"
    const end = valueEnd(text, valueStart);
    members.push({ key: text.slice(i, keyEnd), value: text.slice(valueStart, end).trimEnd() });
    i = skipSpace(text, skipSpace(text, end) + 1); // past "," (or "}": the loop ends)
  }
  return members;
}

/** How the record's value names its event type, under every reading a filter could make. */
export function readEventType(value: Buffer | null): EventTypeReading {
  const none: EventTypeReading = { agreed: undefined, possible: [] };
  if (value === null) return none;
  const decoded = decodeJson(value);
  if (!decoded.ok || !isJsonObject(decoded.json)) return none;
  const members = topLevelMembers(decodeUtf8(value)).filter((m) => JSON.parse(m.key) === 'event_type');
  const possible = members.map((m) => JSON.parse(m.value) as unknown).filter((v): v is string => typeof v === 'string');
  const [only] = members;
  const plain =
    members.length === 1 &&
    only?.key === '"event_type"' &&
    only.value.startsWith('"') &&
    !only.value.includes('\\') &&
    !startsWithBom(value);
  return { agreed: plain ? possible[0] : undefined, possible };
}

/**
 * `mine`: the function handles (or dead-letters) the record; `another`: a sibling does, or
 * the catch-all; `contested`: the catch-all's, because readings differ on whether a
 * sibling's filter delivers it (dead-lettered as `ambiguous_event_type`).
 */
export type Ownership = 'mine' | 'another' | 'contested';

/**
 * Who owns each record of `fn`'s topic, from the table the filters are made from. A
 * filtered function or an observer owns what its filter delivers when every reading agrees;
 * the catch-all owns the rest but what a filtered sibling takes (observers take nothing away).
 */
export function recordOwnership(
  fn: ConsumerFunction,
  functions: readonly ConsumerFunction[] = CONSUMER_FUNCTIONS,
): (record: Pick<ConsumedRecord, 'value'>) => Ownership {
  if (fn.role !== 'catch-all') {
    return (record) => {
      const { agreed } = readEventType(record.value);
      return agreed !== undefined && handlesType(fn, agreed) ? 'mine' : 'another';
    };
  }
  const siblings = functions.filter((f) => f.name !== fn.name && f.topic === fn.topic && f.role === 'filtered');
  if (siblings.length === 0) return () => 'mine'; // alone on its topic: no filter to disagree with
  const siblingType = (type: string) => siblings.some((f) => handlesType(f, type));
  return (record) => {
    const { agreed, possible } = readEventType(record.value);
    if (agreed !== undefined) return siblingType(agreed) ? 'another' : 'mine';
    return possible.some(siblingType) ? 'contested' : 'mine';
  };
}
