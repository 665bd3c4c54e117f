/**
 * The fleet's metrics as the metrics function sees them: one stage of one service, summed
 * over its containers, never going down.
 *
 * Groups in the Pushgateway, all keyed by {job: SERVICE_NAME, stage, function, …}:
 * - a container's: `instance` = its execution environment id, `segment` = an id of the
 *   process's current run of pushes (src/metrics/push.ts). A runtime restarted in the
 *   same environment, or a container idle long enough that its group may have been
 *   pruned, pushes into a new segment, so no group is ever overwritten with smaller counts.
 * - the retired totals: `instance="retired"`, one per function. Before a container group
 *   older than METRICS_GROUP_MAX_AGE_SECONDS is deleted, its counters and histograms are
 *   added into it (`foldStaleGroups`), with a marker naming the group and its push time.
 * - consumer-group lag: `instance="consumergroup-lag"` (gauges, replaced every minute).
 *
 * GET /metrics = retired totals + every container group not yet folded. A group whose
 * marker is already in the retired totals (the prune wrote them and has not deleted it
 * yet, or the delete failed) is left out. The read is one stream; when a marker turns up
 * after its group was already added (the JSON API lists groups in no set order), the
 * read is done again with that group left out from the start (at most three times).
 */
import { createHash } from 'node:crypto';
import { FleetAggregate } from './aggregate';
import { METRIC_DEFINITIONS } from './definitions';
import { expositionText } from './exposition';
import type { FamilyOut } from './exposition';
import { PushgatewayError } from './errors';
import { httpPushgateway } from './pushgateway';
import type { GroupFamily, PushgatewayApi, PushgatewayGroup, StreamStats } from './pushgateway';
import { errorMessage } from '../errors';

export const RETIRED_INSTANCE = 'retired';
export const LAG_GROUP_INSTANCE = 'consumergroup-lag';
/** Labels that tell containers apart; removed when summing. */
export const CONTAINER_LABELS: ReadonlySet<string> = new Set(['instance', 'segment']);
/** The marker family in a retired group: one series per folded group not yet deleted. */
export const FOLDED_MARKER = 'metrics_retired_group_push_time_seconds';
const MARKER_HELP = 'Push time of a container group already added into these retired totals, until the group is deleted.';
const MAX_READS = 3;

const DEFINITION_ORDER = Object.values(METRIC_DEFINITIONS).map((d) => d.name);

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

function apiOf(scope: StageScope): PushgatewayApi {
  return scope.api ?? httpPushgateway(scope.url);
}

export interface FleetScope extends StageScope {
  /** Distinct values per outside-fed label for the whole fleet. */
  maxLabelValues: number;
}

type GroupKind = 'container' | 'retired' | 'lag';

function kindOf(labels: Record<string, string>): GroupKind {
  if (labels.instance === RETIRED_INSTANCE) return 'retired';
  if (labels.instance === LAG_GROUP_INSTANCE) return 'lag';
  return 'container';
}

/** A container group's identity, as markers name it. */
function groupId(labels: Record<string, string>): string {
  return JSON.stringify([labels.function ?? '', labels.instance ?? '', labels.segment ?? '']);
}

function markersOf(group: PushgatewayGroup): Map<string, number> {
  const markers = new Map<string, number>();
  const family = group.families.find((f) => f.name === FOLDED_MARKER);
  for (const sample of family?.samples ?? []) {
    const id = JSON.stringify([group.labels.function ?? '', sample.labels.retired_instance ?? '', sample.labels.retired_segment ?? '']);
    markers.set(id, sample.value ?? 0);
  }
  return markers;
}

function inScope(scope: Pick<FleetScope, 'job' | 'stage'>) {
  return (labels: Record<string, string>): boolean => labels.job === scope.job && labels.stage === scope.stage;
}

export interface FleetRead {
  families: FamilyOut[];
  groups: number;
  series: number;
  reads: number;
  bytes: number;
  skipped: number;
}

async function readOnce(scope: FleetScope, leaveOut: ReadonlySet<string>) {
  const aggregate = new FleetAggregate({ maxLabelValues: scope.maxLabelValues, dropLabels: CONTAINER_LABELS });
  const added = new Set<string>();
  const markers = new Set<string>();
  const stats = await apiOf(scope).streamGroups({
    timeoutMs: scope.timeoutMs,
    keep: inScope(scope),
    onGroup: (group) => {
      const kind = kindOf(group.labels);
      if (kind === 'retired') for (const id of markersOf(group).keys()) markers.add(id);
      if (kind === 'container') {
        const id = groupId(group.labels);
        if (leaveOut.has(id)) return;
        added.add(id);
      }
      for (const family of group.families) {
        if (family.name !== FOLDED_MARKER) aggregate.addFamily(family, kind === 'retired');
      }
    },
  });
  const late = [...markers].filter((id) => added.has(id));
  return { aggregate, stats, markers, late };
}

/** The stage's metrics summed over the fleet (GET /metrics). */
export async function readFleet(scope: FleetScope): Promise<FleetRead> {
  let leaveOut = new Set<string>();
  let bytes = 0;
  for (let reads = 1; ; reads++) {
    const { aggregate, stats, markers, late } = await readOnce(scope, leaveOut);
    bytes += stats.bytes;
    if (late.length === 0) {
      return { families: aggregate.out(DEFINITION_ORDER), groups: stats.groups, series: aggregate.seriesCount, reads, bytes, skipped: stats.skipped };
    }
    if (reads >= MAX_READS) {
      throw new PushgatewayError(`groups kept being folded while they were read (${reads} reads); try again`);
    }
    leaveOut = new Set([...leaveOut, ...markers]);
  }
}

export function fleetText(read: FleetRead): string {
  return expositionText(read.families);
}

export interface FoldResult {
  /** Container groups still younger than the maximum age. */
  kept: number;
  /** Groups deleted (folded now, folded earlier but still there, stale lag groups). */
  deleted: Array<Record<string, string>>;
  /** Groups added into the retired totals by this run. */
  folded: number;
  failed: Array<{ labels: Record<string, string>; error: string }>;
}

interface FunctionFold {
  aggregate: FleetAggregate;
  retired: PushgatewayGroup | undefined;
  previousMarkers: Map<string, number>;
  stale: PushgatewayGroup[];
  foldedIds: Set<string>;
  present: Map<string, Record<string, string>>;
}

/** The retired group's body: the summed families without the grouping labels, and the markers. */
function retiredBody(fold: FunctionFold, markers: Map<string, number>): FamilyOut[] {
  const grouping = new Set(['job', 'stage', 'function', ...CONTAINER_LABELS]);
  const families = fold.aggregate.out(DEFINITION_ORDER).map((f) => ({
    ...f,
    series: [...f.series].map((s) => ({ ...s, labels: s.labels.filter(([name]) => !grouping.has(name)) })),
  }));
  if (markers.size > 0) {
    families.push({
      name: FOLDED_MARKER,
      help: MARKER_HELP,
      type: 'gauge',
      series: [...markers].map(([id, pushTime]) => {
        const [, instance = '', segment = ''] = JSON.parse(id) as string[];
        return { labels: [['retired_instance', instance], ['retired_segment', segment]] as Array<[string, string]>, value: pushTime };
      }),
    });
  }
  return families;
}

/**
 * Folds this stage's container groups older than `maxAgeSeconds` into their function's
 * retired totals, then deletes them; deletes stale lag groups. Touches nothing of another
 * service or stage. Idempotent: a group already marked as folded is only deleted.
 */
export async function foldStaleGroups(params: FleetScope & { maxAgeSeconds: number; nowSeconds: number; deleteTimeoutMs?: number }): Promise<FoldResult> {
  const { maxAgeSeconds, nowSeconds } = params;
  const result: FoldResult = { kept: 0, deleted: [], folded: 0, failed: [] };
  const api = apiOf(params);
  let leaveOut = new Set<string>();
  let folds = new Map<string, FunctionFold>();
  let staleLag: PushgatewayGroup[] = [];
  for (let reads = 1; ; reads++) {
    folds = new Map();
    staleLag = [];
    result.kept = 0;
    const foldFor = (fn: string): FunctionFold => {
      let fold = folds.get(fn);
      if (!fold) {
        fold = {
          aggregate: new FleetAggregate({ maxLabelValues: params.maxLabelValues, dropLabels: CONTAINER_LABELS }),
          retired: undefined,
          previousMarkers: new Map(),
          stale: [],
          foldedIds: new Set(),
          present: new Map(),
        };
        folds.set(fn, fold);
      }
      return fold;
    };
    const addFamilies = (fold: FunctionFold, families: GroupFamily[], pinned: boolean): void => {
      for (const family of families) if (family.type !== 'gauge') fold.aggregate.addFamily(family, pinned);
    };
    await api.streamGroups({
      timeoutMs: params.timeoutMs,
      keep: inScope(params),
      onGroup: (group) => {
        const kind = kindOf(group.labels);
        const stale = nowSeconds - group.lastPushSeconds > maxAgeSeconds;
        if (kind === 'lag') {
          if (stale) staleLag.push(group);
          return;
        }
        const fold = foldFor(group.labels.function ?? '');
        if (kind === 'retired') {
          fold.retired = group;
          fold.previousMarkers = markersOf(group);
          addFamilies(fold, group.families, true);
          return;
        }
        const id = groupId(group.labels);
        fold.present.set(id, group.labels);
        if (!stale) {
          result.kept += 1;
          return;
        }
        fold.stale.push({ ...group, families: [] });
        if (leaveOut.has(id)) return;
        fold.foldedIds.add(id);
        addFamilies(fold, group.families, false);
      },
    });
    // A group added here whose marker turned up later in the stream is folded already.
    const late = [...folds.values()].flatMap((f) => [...f.foldedIds].filter((id) => f.previousMarkers.has(id)));
    if (late.length === 0) break;
    if (reads >= MAX_READS) throw new PushgatewayError(`groups kept changing while they were folded (${reads} reads); next run`);
    leaveOut = new Set([...leaveOut, ...late]);
  }

  const deleteTimeoutMs = params.deleteTimeoutMs ?? params.timeoutMs;
  const remove = async (labels: Record<string, string>): Promise<void> => {
    try {
      await api.delete({ labels, timeoutMs: deleteTimeoutMs });
      result.deleted.push(labels);
    } catch (error) {
      result.failed.push({ labels, error: errorMessage(error) });
    }
  };

  await Promise.all(
    [...folds.entries()].map(async ([fn, fold]) => {
      // Markers: every group folded now, and every earlier one not deleted yet.
      const markers = new Map<string, number>();
      for (const [id, pushTime] of fold.previousMarkers) if (fold.present.has(id)) markers.set(id, pushTime);
      for (const group of fold.stale) {
        const id = groupId(group.labels);
        if (fold.foldedIds.has(id)) markers.set(id, group.lastPushSeconds);
      }
      const staleMarkersGone = fold.previousMarkers.size !== [...fold.previousMarkers.keys()].filter((id) => fold.present.has(id)).length;
      if (fold.foldedIds.size === 0 && !staleMarkersGone && markers.size === 0) return;
      if (fold.foldedIds.size > 0 || staleMarkersGone) {
        const labels = { job: params.job, stage: params.stage, function: fn, instance: RETIRED_INSTANCE };
        try {
          await api.put({ labels, families: retiredBody(fold, markers), timeoutMs: params.timeoutMs });
        } catch (error) {
          // Nothing is deleted unless its counts are safely in the retired totals.
          for (const group of fold.stale) result.failed.push({ labels: group.labels, error: errorMessage(error) });
          return;
        }
        result.folded += fold.foldedIds.size;
      }
      await Promise.all([...markers.keys()].map((id) => fold.present.get(id)).filter((l) => l !== undefined).map((labels) => remove(labels)));
    }),
  );
  await Promise.all(staleLag.map((group) => remove(group.labels)));
  return result;
}

export type { StreamStats };
