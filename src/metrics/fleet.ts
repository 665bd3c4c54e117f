/**
 * The fleet protocol (@simple-time-service/fleet-metrics: the read of GET /metrics and the
 * scheduled fold) bound to the service's own metrics: their help text, the labels capped
 * for the whole fleet, and the order GET /metrics writes them in.
 */
import { foldStaleGroups as foldWith, readFleet as readWith } from '@simple-time-service/fleet-metrics';
import type { FleetRead, FleetScope, FoldParams, FoldResult } from '@simple-time-service/fleet-metrics';
import { SERVICE_CATALOG } from './definitions';

export { fleetText, stageLabel } from '@simple-time-service/fleet-metrics';

/** The stage's metrics summed over the fleet (GET /metrics). */
export function readFleet(scope: FleetScope): Promise<FleetRead> {
  return readWith({ catalog: SERVICE_CATALOG, ...scope });
}

/** Folds the stage's stale container groups into their functions' retired totals. */
export function foldStaleGroups(params: FoldParams): Promise<FoldResult> {
  return foldWith({ catalog: SERVICE_CATALOG, ...params });
}
