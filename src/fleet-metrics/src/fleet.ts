/**
 * The fleet's metrics as the metrics function sees them: one stage of one service, summed
 * over its containers, never going down.
 *
 * Groups in the Pushgateway, all keyed by {job: SERVICE_NAME, stage, function, …}:
 * - a container's: `instance` = its execution environment id, `segment` = an id of the
 *   process's current run of pushes (./push.ts). A runtime restarted in the
 *   same environment, or a container idle long enough that its group may have been
 *   pruned, pushes into a new segment, so no group is ever overwritten with smaller counts.
 * - the retired totals: `instance="retired"`, `retired_through=<T>`: the sum of every
 *   container group of the function whose last push was at or before T (the Pushgateway's
 *   push time, Unix seconds). A fold writes a new one: the latest one plus the groups not
 *   pushed for METRICS_GROUP_MAX_AGE_SECONDS since its T, with T the last push time among
 *   them; then it deletes those groups and the older retired groups.
 * - consumer-group lag: `instance="consumergroup-lag"`, one group per consumer group
 *   (`group`; gauges, pushed by the service's lag task). A lag group without `group` (the one group
 *   for all consumer groups pushed before) is deleted by the next fold.
 *
 * Why a fold can never undo another: the Pushgateway has no conditional write, so two
 * folds at once (a run retried past its timeout beside the next one, a schedule delivered
 * twice) must never write one group with different contents. What a retired group holds
 * is fixed by its T: no group can be pushed at or before T any more (T is a push time past
 * the maximum age, and a container never pushes into a group that old), and a group is deleted only
 * after a retired group at or past its push time was written, which is itself deleted only
 * once a later one exists. So every write of `retired_through=T`, whenever it lands, holds
 * the same sums; a late write of an older T is simply superseded.
 *
 * GET /metrics = per function, the retired group with the latest T, plus every container
 * group pushed after that T. Older retired groups, and container groups at or before T not
 * deleted yet, are left out. A read is one snapshot of the Pushgateway, but it lists groups
 * in no set order: when a group was added before the retired group that holds it turned up,
 * the read is done again knowing that retired group (at most three times).
 */
import { createHash } from 'node:crypto';
import { FleetAggregate } from './aggregate';
import type { FamilyCatalog } from './aggregate';
import { expositionText } from './exposition';
import type { FamilyOut } from './exposition';
import { errorMessage, PushgatewayError } from './errors';
import { httpPushgateway } from './pushgateway';
import type { GroupFamily, PushgatewayApi, PushgatewayGroup, StreamStats } from './pushgateway';

export const RETIRED_INSTANCE = 'retired';
/** The grouping label of a retired group: the push time through which it holds every container group. */
export const RETIRED_THROUGH = 'retired_through';
export const LAG_GROUP_INSTANCE = 'consumergroup-lag';
/** Labels that tell containers and retired groups apart; removed when summing. */
export const CONTAINER_LABELS: ReadonlySet<string> = new Set(['instance', 'segment', RETIRED_THROUGH]);
/**
 * The marker family of a retired group written before `retired_through` existed: one series
 * per container group it already held that was not deleted yet. Read, never written.
 */
export const FOLDED_MARKER = 'metrics_retired_group_push_time_seconds';
const MAX_READS = 3;

/**
 * The stage label: STAGE, except that the local stage is told apart per checkout
 * (`local-` and 8 hex digits of the working directory's hash), so two checkouts sharing
 * the local Pushgateway never read or prune each other's groups.
 */
export function stageLabel(stage: string, cwd: string = process.cwd()): string {
  if (stage !== 'local') return stage;
  return `local-${createHash('sha256').update(cwd).digest('hex').slice(0, 8)}`;
}

/** One stage of one service in one Pushgateway. */
export interface StageScope {
  url: string;
  timeoutMs: number;
  job: string;
  /** The stage label (`stageLabel`). */
  stage: string;
  /** The Pushgateway at `url` over HTTP unless given (a model test gives its own). */
  api?: PushgatewayApi;
}

export interface FleetScope extends StageScope {
  /** Distinct values per outside-fed label for the whole fleet. */
  maxLabelValues: number;
  /** The metrics the containers push: help, capped labels, order of GET /metrics. */
  catalog?: FamilyCatalog;
}

function fleetAggregate(scope: FleetScope): FleetAggregate {
  return new FleetAggregate({
    maxLabelValues: scope.maxLabelValues,
    dropLabels: CONTAINER_LABELS,
    ...(scope.catalog ? { catalog: scope.catalog } : {}),
  });
}

function apiOf(scope: StageScope): PushgatewayApi {
  return scope.api ?? httpPushgateway(scope.url);
}

type GroupKind = 'container' | 'retired' | 'lag';

function kindOf(labels: Record<string, string>): GroupKind {
  if (labels.instance === RETIRED_INSTANCE) return 'retired';
  if (labels.instance === LAG_GROUP_INSTANCE) return 'lag';
  return 'container';
}

/** A container group's identity, as the older retired groups' markers name it. */
function groupId(labels: Record<string, string>): string {
  return JSON.stringify([labels.function ?? '', labels.instance ?? '', labels.segment ?? '']);
}

function inScope(scope: Pick<FleetScope, 'job' | 'stage'>) {
  return (labels: Record<string, string>): boolean => labels.job === scope.job && labels.stage === scope.stage;
}

interface Retired {
  /** Every container group of the function pushed at or before this is in it. */
  through: number;
  /** An older retired group's markers: container groups it holds whatever their push time. */
  markers: ReadonlySet<string>;
  group: PushgatewayGroup;
}

function retiredOf(group: PushgatewayGroup): Retired | undefined {
  const raw = group.labels[RETIRED_THROUGH];
  if (raw === undefined) {
    const markers = new Set<string>();
    const family = group.families.find((f) => f.name === FOLDED_MARKER);
    for (const s of family?.samples ?? [])
      markers.add(JSON.stringify([group.labels.function ?? '', s.labels.retired_instance ?? '', s.labels.retired_segment ?? '']));
    return { through: Number.NEGATIVE_INFINITY, markers, group };
  }
  const through = raw.trim() === '' ? Number.NaN : Number(raw);
  return Number.isFinite(through) ? { through, markers: new Set(), group } : undefined;
}

/** Per function, the retired group that counts (the latest T) and the ones it supersedes. */
class Coverage {
  readonly latest = new Map<string, Retired>();
  readonly superseded: Array<Record<string, string>> = [];
  /** Retired groups whose retired_through is not a number: left alone. */
  unreadable = 0;

  offer(group: PushgatewayGroup): void {
    const retired = retiredOf(group);
    if (!retired) {
      this.unreadable += 1;
      return;
    }
    const fn = group.labels.function ?? '';
    const current = this.latest.get(fn);
    if (current && current.through >= retired.through) {
      this.superseded.push(group.labels);
      return;
    }
    if (current) this.superseded.push(current.group.labels);
    this.latest.set(fn, retired);
  }

  /** Whether the function's latest retired group holds this container group already. */
  covers(labels: Record<string, string>, lastPushSeconds: number): boolean {
    const retired = this.latest.get(labels.function ?? '');
    return retired !== undefined && (lastPushSeconds <= retired.through || retired.markers.has(groupId(labels)));
  }
}

/** Container groups added to a read, to check against the retired groups seen after them. */
type Added = Array<{ labels: Record<string, string>; lastPushSeconds: number }>;

function addedLate(added: Added, coverage: Coverage): boolean {
  return added.some((a) => coverage.covers(a.labels, a.lastPushSeconds));
}

function addCounts(aggregate: FleetAggregate, families: GroupFamily[], withGauges: boolean): void {
  for (const family of families) {
    if (family.name !== FOLDED_MARKER && (withGauges || family.type !== 'gauge')) aggregate.addFamily(family);
  }
}

export interface FleetRead {
  families: FamilyOut[];
  groups: number;
  series: number;
  reads: number;
  bytes: number;
  skipped: number;
}

async function readOnce(scope: FleetScope, known: Coverage) {
  const aggregate = fleetAggregate(scope);
  const coverage = new Coverage();
  const added: Added = [];
  const stats = await apiOf(scope).streamGroups({
    timeoutMs: scope.timeoutMs,
    keep: inScope(scope),
    onGroup: (group) => {
      const kind = kindOf(group.labels);
      if (kind === 'retired') return coverage.offer(group);
      if (kind === 'container') {
        if (known.covers(group.labels, group.lastPushSeconds)) return;
        added.push({ labels: group.labels, lastPushSeconds: group.lastPushSeconds });
      }
      addCounts(aggregate, group.families, true);
    },
  });
  for (const retired of coverage.latest.values()) addCounts(aggregate, retired.group.families, true);
  return { aggregate, stats, coverage, late: addedLate(added, coverage) };
}

/** The stage's metrics summed over the fleet (GET /metrics). */
export async function readFleet(scope: FleetScope): Promise<FleetRead> {
  let known = new Coverage();
  let bytes = 0;
  for (let reads = 1; ; reads++) {
    const { aggregate, stats, coverage, late } = await readOnce(scope, known);
    bytes += stats.bytes;
    if (!late) {
      const skipped = stats.skipped + coverage.unreadable;
      return { families: aggregate.out(), groups: stats.groups, series: aggregate.seriesCount, reads, bytes, skipped };
    }
    if (reads >= MAX_READS) {
      throw new PushgatewayError(`groups kept being folded while they were read (${reads} reads); try again`);
    }
    known = coverage;
  }
}

export function fleetText(read: FleetRead): string {
  return expositionText(read.families);
}

export interface FoldResult {
  /** Container groups still younger than the maximum age. */
  kept: number;
  /** Groups deleted (folded now, folded earlier but still there, superseded retired groups, stale lag groups). */
  deleted: Array<Record<string, string>>;
  /** Groups added into the retired totals by this run. */
  folded: number;
  failed: Array<{ labels: Record<string, string>; error: string }>;
}

export interface FoldParams extends FleetScope {
  maxAgeSeconds: number;
  nowSeconds: number;
  deleteTimeoutMs?: number;
}

/** What one read of the stage says a fold should write and delete. */
interface FoldPlan {
  aggregate: FleetAggregate;
  coverage: Coverage;
  /** Container groups pushed after their function's latest retired group, older than the maximum age. */
  folding: Map<string, Added>;
  /** Container groups the latest retired groups hold already. */
  covered: Added;
  /** Lag groups past the maximum age, and the one lag group of all consumer groups pushed before. */
  staleLag: Array<Record<string, string>>;
  kept: number;
  late: boolean;
}

async function planOnce(params: FoldParams, known: Coverage): Promise<FoldPlan> {
  const plan: FoldPlan = {
    aggregate: fleetAggregate(params),
    coverage: new Coverage(),
    folding: new Map(),
    covered: [],
    staleLag: [],
    kept: 0,
    late: false,
  };
  await apiOf(params).streamGroups({
    timeoutMs: params.timeoutMs,
    keep: inScope(params),
    onGroup: (group) => {
      const kind = kindOf(group.labels);
      const stale = params.nowSeconds - group.lastPushSeconds > params.maxAgeSeconds;
      if (kind === 'lag') {
        if (stale || group.labels.group === undefined) plan.staleLag.push(group.labels);
      } else if (kind === 'retired') {
        plan.coverage.offer(group);
      } else if (known.covers(group.labels, group.lastPushSeconds)) {
        plan.covered.push({ labels: group.labels, lastPushSeconds: group.lastPushSeconds });
      } else if (stale) {
        const fn = group.labels.function ?? '';
        let folding = plan.folding.get(fn);
        if (!folding) plan.folding.set(fn, (folding = []));
        folding.push({ labels: group.labels, lastPushSeconds: group.lastPushSeconds });
        addCounts(plan.aggregate, group.families, false);
      } else {
        // Not folded, but a read sums it: its label values count toward the fleet's cap.
        plan.kept += 1;
        for (const family of group.families) if (family.type !== 'gauge') plan.aggregate.admitFamily(family);
      }
    },
  });
  for (const retired of plan.coverage.latest.values()) addCounts(plan.aggregate, retired.group.families, false);
  plan.late = [...plan.folding.values()].some((added) => addedLate(added, plan.coverage));
  return plan;
}

async function planFold(params: FoldParams): Promise<FoldPlan> {
  let known = new Coverage();
  for (let reads = 1; ; reads++) {
    const plan = await planOnce(params, known);
    if (!plan.late) return plan;
    if (reads >= MAX_READS) throw new PushgatewayError(`groups kept changing while they were folded (${reads} reads); next run`);
    known = plan.coverage;
  }
}

/** One function's new retired group: its summed series without the grouping labels. */
function retiredBody(families: FamilyOut[], fn: string): FamilyOut[] {
  const grouping = new Set(['job', 'stage', 'function', ...CONTAINER_LABELS]);
  const out: FamilyOut[] = [];
  for (const family of families) {
    const series = [...family.series]
      .filter((s) => s.labels.some(([name, value]) => name === 'function' && value === fn))
      .map((s) => ({ ...s, labels: s.labels.filter(([name]) => !grouping.has(name)) }));
    if (series.length > 0) out.push({ ...family, series });
  }
  return out;
}

/**
 * Folds this stage's container groups older than `maxAgeSeconds` into their function's
 * retired totals, then deletes them; deletes superseded retired groups and stale lag
 * groups. Touches nothing of another service or stage. Safe to run twice at once.
 */
export async function foldStaleGroups(params: FoldParams): Promise<FoldResult> {
  const plan = await planFold(params);
  const api = apiOf(params);
  const result: FoldResult = { kept: plan.kept, deleted: [], folded: 0, failed: [] };
  const deleteTimeoutMs = params.deleteTimeoutMs ?? params.timeoutMs;
  const remove = async (labels: Record<string, string>): Promise<void> => {
    try {
      await api.delete({ labels, timeoutMs: deleteTimeoutMs });
      result.deleted.push(labels);
    } catch (error) {
      result.failed.push({ labels, error: errorMessage(error) });
    }
  };
  const families = plan.aggregate.out();
  // Deletes that the retired groups already in the Pushgateway make safe.
  const safe = [...plan.covered.map((group) => group.labels), ...plan.coverage.superseded, ...plan.staleLag];
  await Promise.all([
    ...safe.map((labels) => remove(labels)),
    ...[...plan.folding].map(async ([fn, folding]) => {
      // Past every group it holds, also those the previous retired group held by marker, so
      // none of them is counted beside it once the previous one is deleted.
      const held = [...folding, ...plan.covered.filter((group) => group.labels.function === fn)];
      const through = held.reduce((latest, group) => Math.max(latest, group.lastPushSeconds), Number.NEGATIVE_INFINITY);
      const labels = { job: params.job, stage: params.stage, function: fn, instance: RETIRED_INSTANCE, [RETIRED_THROUGH]: String(through) };
      const body = retiredBody(families, fn);
      // Nothing to sum (the groups hold gauges only): the groups go, the latest retired group stays.
      const previous = body.length > 0 ? plan.coverage.latest.get(fn)?.group.labels : undefined;
      try {
        if (body.length > 0) await api.put({ labels, families: body, timeoutMs: params.timeoutMs });
      } catch (error) {
        // Nothing is deleted unless its counts are safely in a retired group.
        for (const group of folding) result.failed.push({ labels: group.labels, error: errorMessage(error) });
        return;
      }
      result.folded += folding.length;
      await Promise.all([...folding.map((group) => group.labels), ...(previous ? [previous] : [])].map((l) => remove(l)));
    }),
  ]);
  return result;
}

export type { StreamStats };
