/**
 * A Pushgateway in memory for unit tests and models, with the contract of the real one
 * (the repository's test/integration/metrics-fleet.test.ts runs the same scenarios against it):
 * - PUT replaces a group and stamps it with the push time; DELETE removes it;
 * - a read is one snapshot, its groups listed in an order that changes from read to read
 *   (the real one ranges over a Go map);
 * - each sample carries its group's grouping labels.
 * It can hold the PUTs it receives (`hold`) until `release`, as a slow network would: the
 * writer waits, and the write lands later, after whatever happened meanwhile.
 */
import type { FamilyOut } from '../src/exposition';
import type { GroupFamily, GroupSample, PushgatewayApi, PushgatewayGroup, StreamStats } from '../src/pushgateway';

function keyOf(labels: Record<string, string>): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** A small deterministic generator, so a model's listing orders replay with its seed. */
function generator(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

function familyOf(out: FamilyOut, grouping: Record<string, string>): GroupFamily {
  const samples: GroupSample[] = [...out.series].map((s) => {
    const labels = { ...Object.fromEntries(s.labels), ...grouping };
    if (!s.histogram) return { labels, value: s.value ?? 0 };
    const { buckets, sum, count } = s.histogram;
    return { labels, histogram: { buckets: [...buckets.entries()], sum, count } };
  });
  return { name: out.name, type: out.type, help: out.help, samples };
}

/** Counters and gauges of a text exposition (what a container's push holds); histograms are left out. */
export function parseExposition(text: string): FamilyOut[] {
  const types = new Map<string, string>();
  const families = new Map<string, FamilyOut & { series: Array<{ labels: Array<[string, string]>; value: number }> }>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1] ?? '', type[2] ?? '');
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    const name = sample?.[1] ?? '';
    const kind = types.get(name);
    if (!sample || (kind !== 'counter' && kind !== 'gauge')) continue;
    const labels = [...(sample[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m): [string, string] => [m[1] ?? '', m[2] ?? '']);
    let family = families.get(name);
    if (!family) {
      family = { name, help: name, type: kind, series: [] };
      families.set(name, family);
    }
    family.series.push({ labels, value: Number(sample[3]) });
  }
  return [...families.values()];
}

export class FakePushgateway implements PushgatewayApi {
  readonly groups = new Map<string, PushgatewayGroup>();
  private readonly random: () => number;
  private holding = false;
  private readonly held: Array<() => void> = [];
  reads = 0;

  /** `nowSeconds`: the push time it stamps; `seed`: its listing orders. */
  constructor(
    private readonly nowSeconds: () => number,
    seed = 1,
  ) {
    this.random = generator(seed);
  }

  streamGroups(params: {
    keep?: (labels: Record<string, string>) => boolean;
    onGroup: (group: PushgatewayGroup) => void;
  }): Promise<StreamStats> {
    this.reads += 1;
    const snapshot = [...this.groups.values()];
    for (let i = snapshot.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      [snapshot[i], snapshot[j]] = [snapshot[j] as PushgatewayGroup, snapshot[i] as PushgatewayGroup];
    }
    let groups = 0;
    for (const group of snapshot) {
      if (params.keep && !params.keep(group.labels)) continue;
      groups += 1;
      params.onGroup(group);
    }
    return Promise.resolve({ bytes: 0, groups, skipped: 0 });
  }

  put(params: { labels: Record<string, string>; families: FamilyOut[] }): Promise<void> {
    const apply = (): void => this.replace(params.labels, params.families);
    if (!this.holding) {
      apply();
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.held.push(() => {
        apply();
        resolve();
      });
    });
  }

  delete(params: { labels: Record<string, string> }): Promise<void> {
    this.groups.delete(keyOf(params.labels));
    return Promise.resolve();
  }

  /** A container's push: its text body replaces its group. */
  pushText(labels: Record<string, string>, body: string): void {
    this.replace(labels, parseExposition(body));
  }

  /** From now on (`on`), PUTs wait unapplied until `release`; `hold(false)` lets new ones through again. */
  hold(on = true): void {
    this.holding = on;
  }

  get heldPuts(): number {
    return this.held.length;
  }

  /** Applies the held PUTs in the order they came, and stops holding. */
  release(): void {
    this.holding = false;
    for (const land of this.held.splice(0)) land();
  }

  private replace(labels: Record<string, string>, families: FamilyOut[]): void {
    this.groups.set(keyOf(labels), {
      labels: { ...labels },
      lastPushSeconds: this.nowSeconds(),
      families: families.map((f) => familyOf(f, labels)),
    });
  }
}
