/**
 * The fleet-metrics protocol: containers push their cumulative registry to a Pushgateway
 * in groups of their own (./push.ts), a scheduled fold retires stale groups into per-
 * function totals (./fleet.ts), and a read sums the groups into one exposition that never
 * goes down (./fleet.ts, ./aggregate.ts). The design: ../README.md.
 */
export { FleetAggregate, NO_CATALOG, OVERFLOW_LABEL_VALUE } from './aggregate';
export type { AggregateOptions, FamilyCatalog, FamilyDescription } from './aggregate';
export { CONTENT_TYPE, expositionText, familyText, formatNumber, parseNumber } from './exposition';
export type { FamilyOut, FamilyType, HistogramValue, LabelPairs, SeriesOut } from './exposition';
export { PushgatewayError } from './errors';
export {
  CONTAINER_LABELS,
  FOLDED_MARKER,
  LAG_GROUP_INSTANCE,
  RETIRED_INSTANCE,
  RETIRED_THROUGH,
  fleetText,
  foldStaleGroups,
  readFleet,
  stageLabel,
} from './fleet';
export type { FleetRead, FleetScope, FoldParams, FoldResult, StageScope, StreamStats } from './fleet';
export { GROUP_AGE_MARGIN_SECONDS, MAX_PUSH_TIMEOUT_MS, createMetricsPusher, putToPushgateway } from './push';
export type {
  MetricsPusher,
  MetricsPusherParams,
  PushGroupKey,
  PushGrouping,
  PushLogger,
  PushOutcome,
  PushSender,
  PushedMetrics,
} from './push';
export {
  DataArraySplitter,
  deleteGroup,
  fetchGroups,
  groupPath,
  groupRequest,
  httpPushgateway,
  parseGroup,
  streamGroups,
  withoutCredentials,
} from './pushgateway';
export type { GroupFamily, GroupSample, PushgatewayApi, PushgatewayGroup } from './pushgateway';
