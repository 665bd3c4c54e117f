export { EventSourceMapping, MAPPING_DEFAULTS } from './mapping';
export type { EventSourceLog, InvokeResult, MappingDeps, MappingSettings, PartitionOffset } from './mapping';
export { startKafkaEventSource, toConsumedRecord } from './kafka-consumer';
export type { KafkaEventSourceParams, RunningEventSource, StartingPosition } from './kafka-consumer';
