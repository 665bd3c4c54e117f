/**
 * Summing the fleet's groups into one set of series, as they stream in.
 *
 * - Counters and histograms are added up, gauges keep their largest value, across the
 *   groups; `dropLabels` (instance, segment, retired_through) are removed first, so what
 *   remains is one series per service, stage, function and metric labels.
 * - Memory is bounded by the output, never by the number of groups: each metric keeps at
 *   most `maxLabelValues` combinations of its outside-fed
 *   labels (the catalog's `bounded`: route and method, endpoint and status, caller…) for
 *   the whole fleet; the rest are added into "other" (every outside-fed label "other").
 *   The combinations kept are the smallest in sort order among all those seen, whatever
 *   order the groups come in: one pushed out by a smaller one has its series merged into
 *   "other" at once, and one turned away never had a series. So a read's answer depends on
 *   what the groups hold, not on the order the Pushgateway lists them, and a combination,
 *   once in "other", stays there: the smaller ones that pushed it out never leave (the fold
 *   keeps them in the retired totals, ./fleet.ts), so "other" never goes down.
 * - `admitFamily` counts a group's combinations toward the cap without adding its values:
 *   the fold caps the retired totals with the combinations of every group a read would sum.
 */
import type { FamilyOut, FamilyType, SeriesOut } from './exposition';
import type { GroupFamily, GroupSample } from './pushgateway';

/** The label value that stands for every combination past a cap (per container and per fleet). */
export const OVERFLOW_LABEL_VALUE = 'other';

/** What the pushers know of a metric: its help text, and its outside-fed labels (capped). */
export interface FamilyDescription {
  help: string;
  bounded?: readonly string[];
}

/** The metrics a fleet pushes: how to write them (`order`) and what each one is (`describe`). */
export interface FamilyCatalog {
  /** Family names in the order GET /metrics writes them; others follow by name. */
  order: readonly string[];
  describe(name: string): FamilyDescription | undefined;
}

/** A catalog that knows no metric: help as pushed, no cap, families by name. */
export const NO_CATALOG: FamilyCatalog = { order: [], describe: () => undefined };

interface Histogram {
  buckets: Map<number, number>;
  sum: number;
  count: number;
}

interface Series {
  labels: Array<[string, string]>;
  value: number;
  histogram: Histogram | undefined;
}

/** The combinations of a metric's outside-fed labels that keep series of their own: the smallest. */
class LabelCap {
  private readonly kept = new Set<string>();
  private largest: string | undefined;

  constructor(private readonly max: number) {}

  /** The value to record under, and the kept value this admission pushed out, if any. */
  admit(value: string): { as: string; evicted?: string } {
    if (value === OVERFLOW_LABEL_VALUE || this.kept.has(value)) return { as: value };
    if (this.kept.size < this.max) {
      this.kept.add(value);
      if (this.largest === undefined || value > this.largest) this.largest = value;
      return { as: value };
    }
    const evicted = this.largest;
    if (evicted === undefined || value > evicted) return { as: OVERFLOW_LABEL_VALUE };
    this.kept.delete(evicted);
    this.kept.add(value);
    this.largest = undefined;
    for (const v of this.kept) if (this.largest === undefined || v > this.largest) this.largest = v;
    return { as: value, evicted };
  }
}

function seriesKey(labels: ReadonlyArray<readonly [string, string]>): string {
  let key = '';
  for (const [name, value] of labels) key += `${name}\u0000${value}\u0001`;
  return key;
}

/** Cumulative count of `h` at upper bound `bound` (its largest own bound not above it). */
function cumulativeAt(h: Histogram, bound: number): number {
  const exact = h.buckets.get(bound);
  if (exact !== undefined) return exact;
  let best = 0;
  let bestBound = Number.NEGATIVE_INFINITY;
  for (const [b, c] of h.buckets) {
    if (b <= bound && b > bestBound) {
      bestBound = b;
      best = c;
    }
  }
  return bound === Number.POSITIVE_INFINITY ? h.count : best;
}

function addHistogram(into: Histogram, from: Histogram): void {
  let sameBounds = into.buckets.size === from.buckets.size;
  if (sameBounds) for (const b of from.buckets.keys()) if (!into.buckets.has(b)) sameBounds = false;
  if (sameBounds) {
    for (const [b, c] of from.buckets) into.buckets.set(b, (into.buckets.get(b) ?? 0) + c);
  } else {
    // Different layouts (two versions of a definition): add at the union of the bounds,
    // each side read at its own nearest lower bound, so the buckets stay cumulative.
    const bounds = new Set([...into.buckets.keys(), ...from.buckets.keys()]);
    const merged = new Map<number, number>();
    for (const b of bounds) merged.set(b, cumulativeAt(into, b) + cumulativeAt(from, b));
    into.buckets = merged;
  }
  into.sum += from.sum;
  into.count += from.count;
}

class FamilyAccumulator {
  readonly series = new Map<string, Series>();
  private readonly cap: LabelCap;

  constructor(
    readonly name: string,
    readonly type: FamilyType,
    public help: string,
    private readonly bounded: ReadonlySet<string>,
    maxLabelValues: number,
  ) {
    this.cap = new LabelCap(maxLabelValues);
  }

  /** Whether the metric has outside-fed labels (and so a cap). */
  get capped(): boolean {
    return this.bounded.size > 0;
  }

  /** Adds one sample; with `countValue` false, only its combination is counted toward the cap. */
  add(labels: Array<[string, string]>, value: number, histogram: Histogram | undefined, countValue: boolean): void {
    if (this.bounded.size > 0) {
      // One cap per metric over the combination of its outside-fed labels (route and method,
      // endpoint and status…), so the metric's series are bounded, not only each label.
      const tuple = labels.filter(([name]) => this.bounded.has(name)).map(([, v]) => v);
      if (tuple.length > 0 && !tuple.every((v) => v === OVERFLOW_LABEL_VALUE)) {
        const { as, evicted } = this.cap.admit(JSON.stringify(tuple));
        if (as === OVERFLOW_LABEL_VALUE) for (const pair of labels) if (this.bounded.has(pair[0])) pair[1] = OVERFLOW_LABEL_VALUE;
        if (evicted !== undefined) this.evict(evicted);
      }
    }
    if (countValue) this.merge(labels, value, histogram);
  }

  private merge(labels: Array<[string, string]>, value: number, histogram: Histogram | undefined): void {
    const key = seriesKey(labels);
    const existing = this.series.get(key);
    if (!existing) {
      // The caller hands over `labels` and `histogram`: they are its own fresh copies.
      this.series.set(key, { labels, value, histogram });
      return;
    }
    if (this.type === 'gauge') existing.value = Math.max(existing.value, value);
    else existing.value += value;
    if (histogram) {
      if (existing.histogram) addHistogram(existing.histogram, histogram);
      else existing.histogram = histogram;
    }
  }

  /** Moves every series whose outside-fed labels are `tuple` into "other". */
  private evict(tuple: string): void {
    const moved: Series[] = [];
    for (const [key, series] of this.series) {
      if (JSON.stringify(series.labels.filter(([name]) => this.bounded.has(name)).map(([, v]) => v)) === tuple) {
        this.series.delete(key);
        moved.push(series);
      }
    }
    for (const series of moved) {
      const labels = series.labels.map(([n, v]): [string, string] => [n, this.bounded.has(n) ? OVERFLOW_LABEL_VALUE : v]);
      this.merge(labels, series.value, series.histogram);
    }
  }

  out(): FamilyOut {
    const sorted = [...this.series.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const series: SeriesOut[] = sorted.map(([, s]) =>
      s.histogram ? { labels: s.labels, histogram: s.histogram } : { labels: s.labels, value: s.value },
    );
    return { name: this.name, help: this.help, type: this.type, series };
  }
}

export interface AggregateOptions {
  /** Distinct values per outside-fed label for the whole fleet. */
  maxLabelValues: number;
  /** Labels removed before summing (instance, segment, retired_through). */
  dropLabels: ReadonlySet<string>;
  /** The help text and capped labels of the metrics the pushers know. */
  catalog?: FamilyCatalog;
}

export class FleetAggregate {
  private readonly families = new Map<string, FamilyAccumulator>();
  /** Samples left out because their family's type disagreed with the first seen. */
  conflicts = 0;

  constructor(private readonly options: AggregateOptions) {}

  /** Adds one family of one group. */
  addFamily(family: GroupFamily): void {
    this.take(family, true);
  }

  /** Counts one family's combinations of outside-fed labels toward the cap, without its values. */
  admitFamily(family: GroupFamily): void {
    this.take(family, false);
  }

  private take(family: GroupFamily, countValues: boolean): void {
    let acc = this.families.get(family.name);
    if (!acc) {
      const definition = (this.options.catalog ?? NO_CATALOG).describe(family.name);
      // The catalog's help text when it knows the metric, so every version agrees.
      acc = new FamilyAccumulator(
        family.name,
        family.type,
        definition?.help ?? family.help,
        new Set(definition?.bounded ?? []),
        this.options.maxLabelValues,
      );
      this.families.set(family.name, acc);
    }
    if (acc.type !== family.type) {
      this.conflicts += family.samples.length;
      return;
    }
    // Without outside-fed labels there is no cap to count toward.
    if (!countValues && !acc.capped) return;
    for (const sample of family.samples) this.addSample(acc, sample, countValues);
  }

  private addSample(acc: FamilyAccumulator, sample: GroupSample, countValue: boolean): void {
    const labels: Array<[string, string]> = [];
    // The JSON API lists label names sorted already (Go sorts map keys); sort only if not.
    let sorted = true;
    let previous = '';
    for (const name in sample.labels) {
      if (name < previous) sorted = false;
      previous = name;
      if (!this.options.dropLabels.has(name)) labels.push([name, sample.labels[name] ?? '']);
    }
    if (!sorted) labels.sort(([a], [b]) => (a < b ? -1 : 1));
    const h = countValue ? sample.histogram : undefined;
    const histogram = h ? { buckets: new Map(h.buckets), sum: h.sum, count: h.count } : undefined;
    acc.add(labels, sample.value ?? 0, histogram, countValue);
  }

  /** The summed families: the catalog's in its order, then any other by name. */
  out(order: readonly string[] = (this.options.catalog ?? NO_CATALOG).order): FamilyOut[] {
    const rank = new Map(order.map((name, i) => [name, i]));
    return [...this.families.values()]
      .sort((a, b) => (rank.get(a.name) ?? order.length) - (rank.get(b.name) ?? order.length) || (a.name < b.name ? -1 : 1))
      .map((f) => f.out());
  }

  get seriesCount(): number {
    let n = 0;
    for (const f of this.families.values()) n += f.series.size;
    return n;
  }
}
