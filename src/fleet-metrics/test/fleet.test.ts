/**
 * The fleet read and fold on what the Pushgateway may hold besides the service's current
 * groups: retired groups of the format before `retired_through` (one per function, with a
 * marker per folded group not deleted yet), and a retired group whose `retired_through` is
 * not a number. Two folds at once and any listing order are the model's
 * (fleet-model.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { FOLDED_MARKER, foldStaleGroups, readFleet, RETIRED_THROUGH } from '../src/fleet';
import type { FleetScope } from '../src/fleet';
import type { FamilyOut } from '../src/exposition';
import { FakePushgateway } from './fake-pushgateway';

const GROUPING = { job: 'svc', stage: 'dev', function: 'http' };

function requests(n: number): FamilyOut {
  return {
    name: 'http_requests_total',
    help: '',
    type: 'counter',
    series: [
      {
        labels: [
          ['method', 'GET'],
          ['route', '/'],
          ['status', '200'],
        ],
        value: n,
      },
    ],
  };
}

function world() {
  const clock = { seconds: 1000 };
  const pushgateway = new FakePushgateway(() => clock.seconds, 3);
  const scope: FleetScope = {
    url: 'http://pushgateway.invalid',
    timeoutMs: 1000,
    job: 'svc',
    stage: 'dev',
    maxLabelValues: 100,
    api: pushgateway,
  };
  const total = async (): Promise<number> => {
    const family = (await readFleet(scope)).families.find((f) => f.name === 'http_requests_total');
    return [...(family?.series ?? [])].reduce((sum, s) => sum + (s.value ?? 0), 0);
  };
  return { clock, pushgateway, scope, total };
}

describe('retired groups written before retired_through existed', () => {
  it('are read with their markers (a marked group still there is not counted twice), then replaced by the next fold', async () => {
    // Prepare: the older retired group holds 10, among them the 4 of a folded group whose delete failed
    const { clock, pushgateway, scope, total } = world();
    const marker: FamilyOut = {
      name: FOLDED_MARKER,
      help: '',
      type: 'gauge',
      series: [
        {
          labels: [
            ['retired_instance', 'env-old'],
            ['retired_segment', 's1'],
          ],
          value: 900,
        },
      ],
    };
    await pushgateway.put({ labels: { ...GROUPING, instance: 'retired' }, families: [requests(10), marker] });
    await pushgateway.put({ labels: { ...GROUPING, instance: 'env-old', segment: 's1' }, families: [requests(4)] });
    clock.seconds = 2000;
    await pushgateway.put({ labels: { ...GROUPING, instance: 'env-live', segment: 's2' }, families: [requests(3)] });
    // Act / Assess: the read
    expect(await total()).toBe(13);
    // Act: a fold once the live group is past the maximum age too
    clock.seconds = 3000;
    const result = await foldStaleGroups({ ...scope, maxAgeSeconds: 900, nowSeconds: clock.seconds });
    // Assess: one retired group of the current format, holding everything once
    expect(result).toMatchObject({ folded: 1, failed: [] });
    expect([...pushgateway.groups.values()].map((g) => g.labels)).toEqual([
      { ...GROUPING, instance: 'retired', [RETIRED_THROUGH]: '2000' },
    ]);
    expect(await total()).toBe(13);
  });
});

describe('a retired group of the older format replaced', () => {
  it('the new one holds every group the older one held by marker, so none is counted beside it if its delete lands late', async () => {
    // Prepare: the marked group was pushed after the group the fold now folds
    const { clock, pushgateway, scope, total } = world();
    const marker: FamilyOut = {
      name: FOLDED_MARKER,
      help: '',
      type: 'gauge',
      series: [
        {
          labels: [
            ['retired_instance', 'env-old'],
            ['retired_segment', 's1'],
          ],
          value: 1500,
        },
      ],
    };
    await pushgateway.put({ labels: { ...GROUPING, instance: 'retired' }, families: [requests(10), marker] });
    const marked = { ...GROUPING, instance: 'env-old', segment: 's1' };
    await pushgateway.put({ labels: { ...GROUPING, instance: 'env-new', segment: 's2' }, families: [requests(3)] });
    clock.seconds = 1500;
    await pushgateway.put({ labels: marked, families: [requests(4)] });
    // Act
    clock.seconds = 3000;
    await foldStaleGroups({ ...scope, maxAgeSeconds: 900, nowSeconds: clock.seconds });
    // Assess: the marked group's delete had not landed yet
    clock.seconds = 1500;
    await pushgateway.put({ labels: marked, families: [requests(4)] });
    expect([...pushgateway.groups.values()].find((g) => g.labels.instance === 'retired')?.labels[RETIRED_THROUGH]).toBe('1500');
    expect(await total()).toBe(13);
  });
});

describe('a retired group whose retired_through is not a number', () => {
  it('is left alone and counted as skipped, and the rest is read and folded as usual', async () => {
    // Prepare
    const { clock, pushgateway, scope, total } = world();
    const odd = { ...GROUPING, instance: 'retired', [RETIRED_THROUGH]: 'soon' };
    await pushgateway.put({ labels: odd, families: [requests(1000)] });
    await pushgateway.put({ labels: { ...GROUPING, instance: 'env-1', segment: 's1' }, families: [requests(5)] });
    // Act
    const read = await readFleet(scope);
    clock.seconds = 3000;
    await foldStaleGroups({ ...scope, maxAgeSeconds: 900, nowSeconds: clock.seconds });
    // Assess
    expect(read.skipped).toBe(1);
    expect(await total()).toBe(5);
    expect([...pushgateway.groups.values()].map((g) => g.labels)).toContainEqual(odd);
  });
});

describe('consumer-group lag groups', () => {
  it('one per consumer group is kept until past the maximum age; the one group of all consumer groups pushed before goes at the next fold', async () => {
    // Prepare
    const { clock, pushgateway, scope } = world();
    const lag = (group: string): FamilyOut => ({
      name: 'kafka_consumergroup_lag',
      help: '',
      type: 'gauge',
      series: [
        {
          labels: [
            ['group', group],
            ['partition', '0'],
            ['topic', 't'],
          ],
          value: 3,
        },
      ],
    });
    const metricsFn = { job: 'svc', stage: 'dev', function: 'metrics', instance: 'consumergroup-lag' };
    await pushgateway.put({ labels: metricsFn, families: [lag('g1')] });
    await pushgateway.put({ labels: { ...metricsFn, group: 'g1' }, families: [lag('g1')] });
    // Act
    clock.seconds += 60;
    await foldStaleGroups({ ...scope, maxAgeSeconds: 900, nowSeconds: clock.seconds });
    // Assess
    expect([...pushgateway.groups.values()].map((g) => g.labels)).toEqual([{ ...metricsFn, group: 'g1' }]);
    // Act / Assess: past the maximum age
    clock.seconds += 900;
    await foldStaleGroups({ ...scope, maxAgeSeconds: 900, nowSeconds: clock.seconds });
    expect(pushgateway.groups.size).toBe(0);
  });
});
