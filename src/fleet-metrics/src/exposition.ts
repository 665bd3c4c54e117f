/**
 * Writing the Prometheus text format (version 0.0.4) from plain samples: the body of
 * every push and of GET /metrics.
 *
 * Numbers are written the way the containers' prom-client registries write them and
 * Go's ParseFloat reads them: integers in plain digits (`le="1048576"`, never the
 * `1.048576e+06` the Pushgateway's JSON API spells), other values in their shortest
 * round-trip form (`0.0005`, `1e+21`), and `NaN`, `+Inf`, `-Inf` spelled as the format
 * defines them (prom-client writes `Nan`). Label values escape backslash, double quote
 * and newline; help text escapes backslash and newline.
 */

export type FamilyType = 'counter' | 'gauge' | 'histogram';

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Labels as [name, value] pairs, in the order they are written. */
export type LabelPairs = ReadonlyArray<readonly [string, string]>;

export function formatNumber(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  // String() gives the shortest form that reads back to the same double; -0 becomes "0".
  return String(value);
}

/** A number from the Pushgateway's JSON API or a label (`"1.048576e+06"`, `"+Inf"`, `"NaN"`). */
export function parseNumber(text: string): number {
  switch (text) {
    case '+Inf':
    case 'Inf':
      return Number.POSITIVE_INFINITY;
    case '-Inf':
      return Number.NEGATIVE_INFINITY;
    case 'NaN':
      return Number.NaN;
    default:
      return Number(text);
  }
}

export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

export function escapeHelp(help: string): string {
  return help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

export function formatLabels(labels: LabelPairs, extra?: readonly [string, string]): string {
  const parts = labels.map(([name, value]) => `${name}="${escapeLabelValue(value)}"`);
  if (extra) parts.push(`${extra[0]}="${escapeLabelValue(extra[1])}"`);
  return parts.length > 0 ? `{${parts.join(',')}}` : '';
}

export interface HistogramValue {
  /** Upper bound → cumulative count; +Inf is added from `count` when missing. */
  buckets: ReadonlyMap<number, number>;
  sum: number;
  count: number;
}

export interface SeriesOut {
  labels: LabelPairs;
  value?: number;
  histogram?: HistogramValue;
}

export interface FamilyOut {
  name: string;
  help: string;
  type: FamilyType;
  series: Iterable<SeriesOut>;
}

/** The text lines of one family: HELP, TYPE, then its samples. */
export function familyText(family: FamilyOut): string {
  const lines = [`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`];
  for (const series of family.series) {
    if (family.type !== 'histogram' || !series.histogram) {
      lines.push(`${family.name}${formatLabels(series.labels)} ${formatNumber(series.value ?? 0)}`);
      continue;
    }
    const { buckets, sum, count } = series.histogram;
    const bounds = [...buckets.keys()].sort((a, b) => a - b);
    if (bounds[bounds.length - 1] !== Number.POSITIVE_INFINITY) bounds.push(Number.POSITIVE_INFINITY);
    for (const bound of bounds) {
      const cumulative = buckets.get(bound) ?? count;
      lines.push(`${family.name}_bucket${formatLabels(series.labels, ['le', formatNumber(bound)])} ${formatNumber(cumulative)}`);
    }
    lines.push(`${family.name}_sum${formatLabels(series.labels)} ${formatNumber(sum)}`);
    lines.push(`${family.name}_count${formatLabels(series.labels)} ${formatNumber(count)}`);
  }
  return lines.join('\n');
}

/** A whole exposition: the families in order, ending with a newline. */
export function expositionText(families: Iterable<FamilyOut>): string {
  const parts: string[] = [];
  for (const family of families) parts.push(familyText(family));
  return parts.length > 0 ? `${parts.join('\n')}\n` : '';
}
