/**
 * Reading the Pushgateway as a whole (the metrics function's work): its groups, their
 * last push, pruning stale ones, and the service's metrics summed across instances.
 *
 * The groups come from the Pushgateway's JSON API (GET /api/v1/metrics, present since
 * 1.0; Debian ships 1.5.1), which lists each group with its grouping labels, its
 * push_time_seconds and every metric family already parsed (histograms as bucket maps),
 * so no text-format parser is needed; the answer is validated with zod. Summing across
 * instances and writing the text format are prom-client's own (AggregatorRegistry.aggregate,
 * the function behind its cluster mode), so this file only reshapes.
 */
import http from 'node:http';
import https from 'node:https';
import { AggregatorRegistry, Pushgateway } from './prom-client';
import type { Aggregator, Registry } from './prom-client';
import * as z from 'zod/mini';
import '../validation';
import { ServiceError } from '../errors';
import { definitionByName } from './definitions';

const labelsSchema = z.record(z.string(), z.string());

const sampleSchema = z.object({
  labels: z._default(labelsSchema, {}),
  value: z.optional(z.string()),
  buckets: z.optional(labelsSchema),
  count: z.optional(z.string()),
  sum: z.optional(z.string()),
});

const familySchema = z.object({
  type: z.string(),
  help: z._default(z.string(), ''),
  metrics: z._default(z.nullable(z.array(sampleSchema)), []),
});

// A group is its labels plus one key per metric family, hence the loose object.
const groupSchema = z.looseObject({ labels: labelsSchema, last_push_successful: z.optional(z.boolean()) });

const answerSchema = z.object({ status: z.literal('success'), data: z.nullable(z.array(groupSchema)) });

export type MetricFamily = z.infer<typeof familySchema> & { name: string };

export interface PushgatewayGroup {
  labels: Record<string, string>;
  /** Unix seconds of the last successful push into this group (0 if none). */
  lastPushSeconds: number;
  families: MetricFamily[];
}

/** The Pushgateway's own bookkeeping series, present in every group. */
const BOOKKEEPING = new Set(['push_time_seconds', 'push_failure_time_seconds']);

export class PushgatewayError extends ServiceError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { ...options, retriable: true });
  }
}

function toNumber(value: string | undefined): number {
  if (value === undefined) return 0;
  const n = Number(value);
  return Number.isNaN(n) ? 0 : n;
}

/** Every group in the Pushgateway, parsed; `job` keeps only that job's groups. */
export async function fetchGroups(params: { url: string; timeoutMs: number; job?: string }): Promise<PushgatewayGroup[]> {
  const { url, timeoutMs, job } = params;
  let body: unknown;
  try {
    const response = await fetch(`${url}/api/v1/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    body = await response.json();
  } catch (cause) {
    throw new PushgatewayError(`could not read the Pushgateway's groups at ${url}`, { cause });
  }
  return parseGroups(body, job, url);
}

/** The JSON API's answer as groups; `job` keeps only that job's groups. */
export function parseGroups(body: unknown, job?: string, from = 'the Pushgateway'): PushgatewayGroup[] {
  const parsed = z.safeParse(answerSchema, body);
  if (!parsed.success) {
    throw new PushgatewayError(`unexpected answer from ${from}/api/v1/metrics: ${z.prettifyError(parsed.error)}`);
  }
  const groups: PushgatewayGroup[] = [];
  for (const raw of parsed.data.data ?? []) {
    if (job !== undefined && raw.labels.job !== job) continue;
    const families: MetricFamily[] = [];
    let lastPushSeconds = 0;
    for (const [name, value] of Object.entries(raw)) {
      if (name === 'labels' || name === 'last_push_successful') continue;
      const family = z.safeParse(familySchema, value);
      if (!family.success) continue;
      if (name === 'push_time_seconds') lastPushSeconds = toNumber(family.data.metrics?.[0]?.value);
      if (BOOKKEEPING.has(name)) continue;
      families.push({ name, ...family.data });
    }
    groups.push({ labels: raw.labels, lastPushSeconds, families });
  }
  return groups;
}

const deleteAgents = { http: new http.Agent({ keepAlive: false }), https: new https.Agent({ keepAlive: false }) };

/** Deletes one group, named by all of its grouping labels. */
export async function deleteGroup(params: {
  url: string;
  timeoutMs: number;
  labels: Record<string, string>;
}): Promise<void> {
  const { url, timeoutMs, labels } = params;
  const { job, ...groupings } = labels;
  if (!job) throw new PushgatewayError('a Pushgateway group always has a job label');
  const agent = url.startsWith('https:') ? deleteAgents.https : deleteAgents.http;
  const gateway = new Pushgateway(url, { timeout: timeoutMs, signal: AbortSignal.timeout(timeoutMs), agent });
  try {
    await gateway.delete({ jobName: job, groupings });
  } catch (cause) {
    throw new PushgatewayError(`could not delete Pushgateway group ${JSON.stringify(labels)}`, { cause });
  }
}

export interface PruneResult {
  kept: number;
  deleted: Array<Record<string, string>>;
  failed: Array<{ labels: Record<string, string>; error: string }>;
}

/**
 * Deletes `job`'s groups whose last push is older than `maxAgeSeconds`: containers Lambda
 * has reaped never delete their own group, and the Pushgateway never expires one.
 */
export async function pruneStaleGroups(params: {
  url: string;
  timeoutMs: number;
  job: string;
  maxAgeSeconds: number;
  nowSeconds?: number;
  /** The groups to judge (read from the Pushgateway when not given). */
  groups?: PushgatewayGroup[];
  /** Deletes one group; deleteGroup by default, injectable for tests. */
  remove?: (labels: Record<string, string>) => Promise<void>;
}): Promise<PruneResult> {
  const { url, timeoutMs, job, maxAgeSeconds } = params;
  const nowSeconds = params.nowSeconds ?? Date.now() / 1000;
  const remove = params.remove ?? ((labels: Record<string, string>) => deleteGroup({ url, timeoutMs, labels }));
  const groups = params.groups ?? (await fetchGroups({ url, timeoutMs, job }));
  const stale = groups.filter((g) => g.labels.job === job && nowSeconds - g.lastPushSeconds > maxAgeSeconds);
  const result: PruneResult = { kept: groups.length - stale.length, deleted: [], failed: [] };
  const outcomes = await Promise.allSettled(stale.map((g) => remove(g.labels)));
  outcomes.forEach((outcome, index) => {
    const labels = stale[index]?.labels ?? {};
    if (outcome.status === 'fulfilled') result.deleted.push(labels);
    else result.failed.push({ labels, error: outcome.reason instanceof Error ? outcome.reason.message : String(outcome.reason) });
  });
  return result;
}

interface JsonValue {
  value: number;
  labels: Record<string, string>;
  metricName?: string;
}

interface JsonMetric {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  aggregator: Aggregator;
  values: JsonValue[];
}

function bucketOrder(le: string): number {
  return le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le);
}

/** One Pushgateway family as prom-client's JSON form, without the dropped labels. */
function toJsonMetric(family: MetricFamily, dropLabels: ReadonlySet<string>): JsonMetric | undefined {
  const type = family.type.toLowerCase();
  if (type !== 'counter' && type !== 'gauge' && type !== 'histogram') return undefined;
  const definition = definitionByName(family.name);
  const values: JsonValue[] = [];
  for (const sample of family.metrics ?? []) {
    const labels = Object.fromEntries(Object.entries(sample.labels).filter(([name]) => !dropLabels.has(name)));
    if (type !== 'histogram') {
      values.push({ value: toNumber(sample.value), labels });
      continue;
    }
    const buckets = Object.entries(sample.buckets ?? {}).sort(([a], [b]) => bucketOrder(a) - bucketOrder(b));
    if (!buckets.some(([le]) => le === '+Inf')) buckets.push(['+Inf', sample.count ?? '0']);
    for (const [le, count] of buckets) {
      values.push({ metricName: `${family.name}_bucket`, labels: { ...labels, le }, value: toNumber(count) });
    }
    values.push({ metricName: `${family.name}_sum`, labels, value: toNumber(sample.sum) });
    values.push({ metricName: `${family.name}_count`, labels, value: toNumber(sample.count) });
  }
  return {
    name: family.name,
    // The service's own help text when it knows the metric, so every version agrees.
    help: definition?.help ?? family.help,
    type,
    // Counts and histograms add up across containers; a gauge is a level, and the one
    // the service pushes (consumer-group lag) comes from a single group anyway.
    aggregator: type === 'gauge' ? 'max' : 'sum',
    values,
  };
}

/**
 * The groups' metrics summed across instances: the `instance` label is dropped and
 * samples with equal remaining labels (job, function, metric labels) are added up.
 */
export function aggregateGroups(params: { groups: PushgatewayGroup[]; dropLabels?: readonly string[] }): Registry {
  const drop = new Set(params.dropLabels ?? ['instance']);
  const perGroup = params.groups.map((group) =>
    group.families.map((family) => toJsonMetric(family, drop)).filter((m): m is JsonMetric => m !== undefined),
  );
  return AggregatorRegistry.aggregate(perGroup);
}
