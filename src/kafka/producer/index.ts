/** The container's producer (./producer.ts): the service uses it only through this file. */
export { createContainerProducer } from './producer';
export { meansBadConnection } from './failures';
export type { ContainerProducer, ContainerProducerParams, ProducerState, ProducerStatus, SendObserver } from './types';
