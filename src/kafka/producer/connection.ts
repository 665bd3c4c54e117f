/**
 * The connection's state machine (./states.ts) at work: every state change goes through
 * `apply`, and what a transition does besides (the back-off, counts, logs, closing an
 * instance) is done here, beside it.
 */
import { errorMessage } from '../../errors';
import type { Logger } from '../../logger';
import { KafkaUnavailableError } from '../errors';
import type { Backoff } from './backoff';
import type { Instance } from './instance';
import { close } from './instance';
import type { Connection, ConnectionEvent } from './states';
import { IDLE, next } from './states';
import type { Stats } from './stats';
import type { ProducerStatus } from './types';

export interface ConnectionDriver {
  status(): ProducerStatus;
  /** The connected instance, if there is one. */
  current(): Instance | undefined;
  /** The current instance, connecting one (shared by concurrent sends) when there is none. */
  ready(): Promise<Instance>;
  /** Throws this instance away (kafkajs #907, #919); the next send connects a fresh one. */
  discard(instance: Instance, reason: unknown): void;
  disconnect(): Promise<void>;
}

export function createConnection(params: {
  open: () => Promise<Instance>;
  backoff: Backoff;
  stats: Stats;
  logger?: Logger | undefined;
  explain?: ((error: unknown) => string | undefined) | undefined;
}): ConnectionDriver {
  const { open, backoff, stats, logger } = params;
  let state: Connection = IDLE;
  const apply = (event: ConnectionEvent): void => {
    state = next(state, event);
  };

  function opened(instance: Instance): Instance {
    const connects = stats.connected();
    logger?.info('kafka producer connected', { connects });
    apply({ type: 'opened', instance });
    backoff.connected();
    return instance;
  }

  function failed(error: unknown): never {
    apply({ type: 'failed' });
    const refused = params.explain?.(error);
    if (refused === undefined) {
      const retryInMs = backoff.unreachable();
      stats.noteError(error);
      logger?.warn('kafka producer could not connect', { error: errorMessage(error), retry_in_ms: retryInMs });
      throw error instanceof KafkaUnavailableError
        ? error
        : new KafkaUnavailableError(`Kafka could not be reached: ${errorMessage(error)}`, { cause: error, outcome: 'not_sent' });
    }
    const { retryInMs, isNew } = backoff.refused(refused);
    stats.noteError(refused);
    if (isNew) logger?.error(refused, { error: errorMessage(error), retries: `less and less often, at most every ${backoff.maxMs} ms` });
    else logger?.debug(refused, { retry_in_ms: retryInMs });
    throw new KafkaUnavailableError(refused, { cause: error, outcome: 'not_sent' });
  }

  return {
    status: () => state.name,
    current: () => (state.name === 'connected' ? state.instance : undefined),
    ready() {
      if (state.name === 'connected') return Promise.resolve(state.instance);
      if (state.name === 'connecting') return state.opening;
      const opening = open().then(opened, failed);
      apply({ type: 'connect', opening });
      return opening;
    },
    discard(instance, reason) {
      if (instance.discarded) return;
      instance.discarded = true;
      const before = state;
      apply({ type: 'discard', instance });
      if (state !== before) stats.noteError(reason);
      void close(instance.producer);
    },
    async disconnect() {
      const old = state.name === 'connected' ? state.instance : undefined;
      apply({ type: 'disconnect' });
      if (!old) return;
      old.discarded = true;
      await close(old.producer);
    },
  };
}
