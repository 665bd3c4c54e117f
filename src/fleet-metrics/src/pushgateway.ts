/**
 * The Pushgateway's HTTP API as the fleet protocol uses it: PUT and DELETE of one group, and a
 * read of every group as a stream.
 *
 * - Reads use the JSON API (GET /api/v1/metrics, present since 1.0; Debian ships 1.5.1):
 *   each group with its grouping labels, its push_time_seconds and every family already
 *   parsed (histograms as bucket maps). The answer is one JSON document holding every
 *   group of every job; with a thousand containers it is tens of megabytes. It is never
 *   held whole: `streamGroups` cuts the `data` array into its elements as the bytes
 *   arrive and hands each group, parsed on its own, to a callback that keeps only what
 *   it needs, so memory is one group plus what the caller aggregates.
 * - Grouping values go into the URL base64url-encoded (`name@base64/…`, Pushgateway
 *   0.9+), so any value (an execution environment id with `/`, an empty string) is safe.
 */
import http from 'node:http';
import https from 'node:https';
import { isJsonObject, PushgatewayError } from './errors';
import { expositionText, parseNumber } from './exposition';
import type { FamilyOut, FamilyType } from './exposition';

export interface GroupSample {
  labels: Record<string, string>;
  value?: number;
  histogram?: { buckets: Array<[number, number]>; sum: number; count: number };
}

export interface GroupFamily {
  name: string;
  type: FamilyType;
  help: string;
  samples: GroupSample[];
}

export interface PushgatewayGroup {
  /** The grouping labels (job and the rest of the group's key). */
  labels: Record<string, string>;
  /** Unix seconds of the last successful push into this group (0 if none). */
  lastPushSeconds: number;
  families: GroupFamily[];
}

/** The Pushgateway's own bookkeeping series, present in every group. */
const BOOKKEEPING = new Set(['push_time_seconds', 'push_failure_time_seconds']);

function stringRecord(value: unknown): Record<string, string> | undefined {
  if (!isJsonObject(value)) return undefined;
  for (const v of Object.values(value)) if (typeof v !== 'string') return undefined;
  return value as Record<string, string>;
}

function familyType(type: unknown): FamilyType | undefined {
  const t = typeof type === 'string' ? type.toLowerCase() : '';
  return t === 'counter' || t === 'gauge' || t === 'histogram' ? t : undefined;
}

function sampleOf(raw: unknown, type: FamilyType): GroupSample | undefined {
  if (!isJsonObject(raw)) return undefined;
  const labels = raw.labels === undefined ? {} : stringRecord(raw.labels);
  if (!labels) return undefined;
  if (type !== 'histogram') {
    return typeof raw.value === 'string' ? { labels, value: parseNumber(raw.value) } : undefined;
  }
  const buckets = stringRecord(raw.buckets ?? {});
  if (!buckets || typeof raw.count !== 'string' || typeof raw.sum !== 'string') return undefined;
  return {
    labels,
    histogram: {
      buckets: Object.entries(buckets).map(([le, count]) => [parseNumber(le), parseNumber(count)]),
      sum: parseNumber(raw.sum),
      count: parseNumber(raw.count),
    },
  };
}

/**
 * One element of the JSON API's `data` array as a group. Families of a type the protocol
 * never pushes (summary, untyped) and malformed samples are left out and counted.
 */
export function parseGroup(raw: unknown): { group: PushgatewayGroup; skipped: number } {
  const labels = isJsonObject(raw) ? stringRecord(raw.labels) : undefined;
  if (!isJsonObject(raw) || !labels || typeof labels.job !== 'string') {
    throw new PushgatewayError('unexpected group in the Pushgateway answer: no grouping labels with a job');
  }
  let lastPushSeconds = 0;
  let skipped = 0;
  const families: GroupFamily[] = [];
  for (const [name, value] of Object.entries(raw)) {
    if (name === 'labels' || name === 'last_push_successful' || !isJsonObject(value)) continue;
    if (name === 'push_time_seconds') {
      const first = Array.isArray(value.metrics) ? (value.metrics[0] as unknown) : undefined;
      if (isJsonObject(first) && typeof first.value === 'string') lastPushSeconds = parseNumber(first.value);
    }
    if (BOOKKEEPING.has(name)) continue;
    const type = familyType(value.type);
    if (!type) {
      skipped += 1;
      continue;
    }
    const samples: GroupSample[] = [];
    for (const rawSample of Array.isArray(value.metrics) ? (value.metrics as unknown[]) : []) {
      const sample = sampleOf(rawSample, type);
      if (sample) samples.push(sample);
      else skipped += 1;
    }
    families.push({ name, type, help: typeof value.help === 'string' ? value.help : '', samples });
  }
  return { group: { labels, lastPushSeconds: Number.isFinite(lastPushSeconds) ? lastPushSeconds : 0, families }, skipped };
}

/**
 * Cuts a JSON document `{"status": …, "data": [ {…}, {…} ]}` into the text of each
 * element of `data` as the chunks arrive. Strings (and the escapes in them) are tracked
 * so braces inside label values do not count.
 */
export class DataArraySplitter {
  private depth = 0;
  private inString = false;
  private escaped = false;
  private key = '';
  private keyStart = -1;
  private collectingKey = false;
  private inData = false;
  private element: string[] = [];
  private elementStart = -1;
  private statusValue: string | undefined;
  private expectStatusValue = false;

  constructor(private readonly onElement: (text: string) => void) {}

  /** The top-level "status" value, once seen. */
  get status(): string | undefined {
    return this.statusValue;
  }

  push(chunk: string): void {
    this.elementStart = this.depth >= 3 && this.inData ? 0 : -1;
    if (this.collectingKey) this.keyStart = 0;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === 0x5c) this.escaped = true;
        else if (c === 0x22) {
          this.inString = false;
          if (this.collectingKey) {
            this.key += chunk.slice(this.keyStart, i);
            this.collectingKey = false;
            if (this.expectStatusValue) {
              this.statusValue = this.key;
              this.expectStatusValue = false;
            }
          }
        }
        continue;
      }
      switch (c) {
        case 0x22: // "
          this.inString = true;
          if (this.depth === 1) {
            this.collectingKey = true;
            this.key = '';
            this.keyStart = i + 1;
          }
          break;
        case 0x3a: // :
          if (this.depth === 1 && this.key === 'status') this.expectStatusValue = true;
          break;
        case 0x7b: // {
        case 0x5b: // [
          if (this.depth === 1 && c === 0x5b && this.key === 'data') this.inData = true;
          this.depth += 1;
          if (this.inData && this.depth === 3) this.elementStart = i;
          break;
        case 0x7d: // }
        case 0x5d: // ]
          this.depth -= 1;
          if (this.inData && this.depth === 2 && this.elementStart >= 0) {
            this.element.push(chunk.slice(this.elementStart, i + 1));
            const text = this.element.join('');
            this.element = [];
            this.elementStart = -1;
            this.onElement(text);
          } else if (this.inData && this.depth === 1) {
            this.inData = false;
          }
          break;
        case 0x6e: // n: a null data array or a null status is fine
          break;
        default:
          break;
      }
    }
    if (this.inData && this.depth >= 3 && this.elementStart >= 0) this.element.push(chunk.slice(this.elementStart));
    if (this.collectingKey && this.keyStart >= 0) this.key += chunk.slice(this.keyStart);
  }

  /** Throws unless the document ended where it should. */
  end(from: string): void {
    if (this.depth !== 0 || this.inString) throw new PushgatewayError(`the answer from ${from} ended in the middle of the document`);
    if (this.statusValue !== 'success') {
      throw new PushgatewayError(`unexpected answer from ${from}: status ${JSON.stringify(this.statusValue ?? null)}`);
    }
  }
}

/**
 * A group's grouping labels without parsing its families: Go writes the object's keys
 * sorted, so the group's own `"labels":{…}` is the one right before
 * `"last_push_successful"` (the sequence `"labels":{` cannot occur inside a JSON string).
 * Undefined when not found; the caller then parses the whole group.
 */
function groupingLabels(text: string): Record<string, string> | undefined {
  const end = text.indexOf(',"last_push_successful":');
  const start = end > 0 ? text.lastIndexOf('"labels":{', end) : -1;
  if (start < 0) return undefined;
  try {
    return stringRecord(JSON.parse(text.slice(start + '"labels":'.length, end)));
  } catch {
    return undefined;
  }
}

/**
 * A URL's credentials (user info, `http://user:password@host:port` for a Pushgateway that
 * requires basic auth, as the local stack's does) as an Authorization header, and the URL
 * without them: fetch() refuses a URL that holds credentials, and no message may show them.
 */
export function withoutCredentials(url: string): { url: string; headers: Record<string, string> } {
  const parsed = new URL(url);
  if (parsed.username === '' && parsed.password === '') return { url, headers: {} };
  const credentials = `${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`;
  parsed.username = '';
  parsed.password = '';
  const bare = parsed.toString();
  // URL adds a "/" to a bare origin; keep the URL as it was given.
  const trimmed = !url.endsWith('/') && bare.endsWith('/') ? bare.slice(0, -1) : bare;
  return { url: trimmed, headers: { authorization: `Basic ${Buffer.from(credentials).toString('base64')}` } };
}

export interface StreamStats {
  bytes: number;
  groups: number;
  skipped: number;
}

/**
 * Reads every group of the Pushgateway as a stream, handing each one to `onGroup` as soon
 * as it is complete; `keep` (from the grouping labels alone) avoids parsing the families
 * of groups the caller does not want. Bounded by `timeoutMs` as a whole.
 */
export async function streamGroups(params: {
  url: string;
  timeoutMs: number;
  keep?: (labels: Record<string, string>) => boolean;
  onGroup: (group: PushgatewayGroup) => void;
}): Promise<StreamStats> {
  const { timeoutMs, keep, onGroup } = params;
  const { url, headers } = withoutCredentials(params.url);
  const from = `${url}/api/v1/metrics`;
  const stats: StreamStats = { bytes: 0, groups: 0, skipped: 0 };
  const splitter = new DataArraySplitter((text) => {
    if (keep) {
      const labels = groupingLabels(text);
      if (labels && !keep(labels)) return;
    }
    const raw: unknown = JSON.parse(text);
    const labels = isJsonObject(raw) ? stringRecord(raw.labels) : undefined;
    if (keep && labels && !keep(labels)) return;
    const { group, skipped } = parseGroup(raw);
    stats.groups += 1;
    stats.skipped += skipped;
    onGroup(group);
  });
  try {
    const response = await fetch(from, { headers, signal: AbortSignal.timeout(timeoutMs) });
    if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
    const decoder = new TextDecoder();
    // Node's fetch streams Uint8Array chunks; its types leave the element type open.
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      stats.bytes += value.byteLength;
      splitter.push(decoder.decode(value, { stream: true }));
    }
    splitter.push(decoder.decode());
  } catch (cause) {
    if (cause instanceof PushgatewayError) throw cause;
    throw new PushgatewayError(`could not read the Pushgateway's groups at ${url}`, { cause });
  }
  splitter.end(from);
  return stats;
}

/** Every group whose grouping labels include `match` (tests, benchmarks, tools). */
export async function fetchGroups(params: {
  url: string;
  timeoutMs: number;
  job?: string;
  match?: Record<string, string>;
}): Promise<PushgatewayGroup[]> {
  const match = { ...params.match, ...(params.job === undefined ? {} : { job: params.job }) };
  const groups: PushgatewayGroup[] = [];
  await streamGroups({
    url: params.url,
    timeoutMs: params.timeoutMs,
    keep: (labels) => Object.entries(match).every(([k, v]) => labels[k] === v),
    onGroup: (group) => groups.push(group),
  });
  return groups;
}

const agents = { http: new http.Agent({ keepAlive: false }), https: new https.Agent({ keepAlive: false }) };

/** /metrics/job@base64/…/name@base64/… for a group's labels (job first). */
export function groupPath(labels: Record<string, string>): string {
  const { job, ...rest } = labels;
  if (!job) throw new PushgatewayError('a Pushgateway group always has a job label');
  const encode = (value: string): string => (value === '' ? '=' : Buffer.from(value, 'utf8').toString('base64url'));
  const parts = [`job@base64/${encode(job)}`];
  for (const [name, value] of Object.entries(rest)) parts.push(`${name}@base64/${encode(value)}`);
  return `/metrics/${parts.join('/')}`;
}

/**
 * One request to a group: PUT (replace the group with `body`) or DELETE. No keep-alive:
 * a socket kept across a Lambda freeze is often dead on thaw. Aborted by `signal` or
 * after `timeoutMs`.
 */
export function groupRequest(params: {
  url: string;
  method: 'PUT' | 'DELETE';
  labels: Record<string, string>;
  body?: string;
  timeoutMs: number;
  signal?: AbortSignal;
}): Promise<void> {
  const { method, labels, body, timeoutMs } = params;
  const { url, headers } = withoutCredentials(params.url);
  const target = new URL(`${url}${groupPath(labels)}`);
  const client = target.protocol === 'https:' ? https : http;
  const signal = params.signal ? AbortSignal.any([params.signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs);
  return new Promise<void>((resolve, reject) => {
    const request = client.request(
      target,
      {
        method,
        agent: target.protocol === 'https:' ? agents.https : agents.http,
        signal,
        timeout: timeoutMs,
        headers:
          body === undefined
            ? headers
            : { ...headers, 'content-type': 'text/plain; version=0.0.4', 'content-length': Buffer.byteLength(body) },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const status = response.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve();
          else
            reject(
              new Error(`${method} ${target.pathname}: HTTP ${status} ${Buffer.concat(chunks).toString('utf8').slice(0, 300).trim()}`),
            );
        });
        response.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new Error(`${method} timed out after ${timeoutMs} ms`)));
    request.on('error', reject);
    request.end(body);
  });
}

/**
 * What the metrics function does with the Pushgateway: read every group (one consistent
 * snapshot: the Pushgateway copies its groups under a lock for each read), replace a group
 * (PUT) and delete one. Writes are applied in the order they arrive (one queue), and with
 * --push.disable-consistency-check a write is answered once queued, not once applied.
 * Injectable, so a model test can run the fold against a Pushgateway of its own.
 */
export interface PushgatewayApi {
  streamGroups(params: {
    timeoutMs: number;
    keep?: (labels: Record<string, string>) => boolean;
    onGroup: (group: PushgatewayGroup) => void;
  }): Promise<StreamStats>;
  put(params: { labels: Record<string, string>; families: FamilyOut[]; timeoutMs: number }): Promise<void>;
  delete(params: { labels: Record<string, string>; timeoutMs: number }): Promise<void>;
}

/** The Pushgateway at `url`, over HTTP. */
export function httpPushgateway(url: string): PushgatewayApi {
  return {
    streamGroups: (params) => streamGroups({ ...params, url }),
    put: ({ labels, families, timeoutMs }) => groupRequest({ url, method: 'PUT', labels, body: expositionText(families), timeoutMs }),
    delete: ({ labels, timeoutMs }) => groupRequest({ url, method: 'DELETE', labels, timeoutMs }),
  };
}

/** Deletes one group, named by all of its grouping labels. */
export async function deleteGroup(params: { url: string; timeoutMs: number; labels: Record<string, string> }): Promise<void> {
  try {
    await groupRequest({ ...params, method: 'DELETE' });
  } catch (cause) {
    throw new PushgatewayError(`could not delete Pushgateway group ${JSON.stringify(params.labels)}`, { cause });
  }
}
