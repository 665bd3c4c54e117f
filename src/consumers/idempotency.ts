/**
 * Idempotency on the event id, without a new service:
 * 1. a bounded memory of the ids this container processed (`createProcessedIds`): an id is
 *    reserved before its effect runs and remembered only once the effect completed, so a
 *    redelivery to the same container is skipped as a duplicate;
 * 2. deterministic output ids (`derivedEventId`): a redelivery that reaches another
 *    container publishes the same answer (same id and key), which consumers drop by id.
 * Effects stay at-least-once across containers (docs/consumers.md); exactly-once would
 * need a shared store written with the effect, a service this project does not add.
 */
import { createHash } from 'node:crypto';

/** An id reserved for an effect about to run; exactly one of the two is called. */
export interface IdClaim {
  /** The effect completed: remember the id. */
  commit(): void;
  /** The effect failed: give the id up, so a later record with it runs the effect. */
  release(): void;
}

export interface ProcessedIds {
  has(id: string): boolean;
  /** Remembers an id; the oldest is forgotten once `maxIds` are held. */
  add(id: string): void;
  /**
   * Reserves `id` before its effect runs: undefined when the id was processed already (a
   * duplicate), else a claim. While another record holds the claim (the same id on another
   * partition of the batch, running concurrently), it waits for that one to commit or
   * release, so an effect never runs twice at once.
   */
  claim(id: string): Promise<IdClaim | undefined>;
  /** Whether a claim on `id` is held now (its effect not yet committed or given up). */
  busy(id: string): boolean;
  readonly size: number;
}

export const DEFAULT_MAX_PROCESSED_IDS = 10_000;

/** Insertion-ordered, bounded: about 100 bytes per id, 1 MB for the default 10,000. */
export function createProcessedIds(params: { maxIds?: number } = {}): ProcessedIds {
  const maxIds = params.maxIds ?? DEFAULT_MAX_PROCESSED_IDS;
  if (!Number.isInteger(maxIds) || maxIds < 1) throw new RangeError('maxIds: a positive integer');
  const ids = new Set<string>();
  // Ids whose effect is running now: at most one per record in flight, so bounded by the batch.
  const running = new Map<string, Promise<void>>();
  function add(id: string): void {
    if (ids.has(id)) return;
    ids.add(id);
    if (ids.size > maxIds) {
      const oldest = ids.values().next();
      if (!oldest.done) ids.delete(oldest.value);
    }
  }
  return {
    has: (id) => ids.has(id),
    add,
    async claim(id) {
      for (;;) {
        if (ids.has(id)) return undefined;
        const holder = running.get(id);
        if (!holder) break;
        await holder;
      }
      let settle: () => void = () => undefined;
      running.set(
        id,
        new Promise<void>((resolve) => {
          settle = resolve;
        }),
      );
      let done = false;
      const finish = (commit: boolean) => {
        if (done) return;
        done = true;
        if (commit) add(id);
        running.delete(id);
        settle();
      };
      return { commit: () => finish(true), release: () => finish(false) };
    },
    busy: (id) => running.has(id),
    get size() {
      return ids.size;
    },
  };
}

/** This service's UUID namespace for name-based (v5) ids. */
const NAMESPACE = '5f0c1a5e-9d6b-4c0e-8a3f-2b7d1e4c6a90';

const NAMESPACE_BYTES = Buffer.from(NAMESPACE.replace(/-/g, ''), 'hex');

/** An RFC 9562 version 5 UUID (SHA-1, name-based) of `name` in `namespace`. */
export function uuidV5(namespace: string, name: string | Buffer): string {
  const namespaceBytes = namespace === NAMESPACE ? NAMESPACE_BYTES : Buffer.from(namespace.replace(/-/g, ''), 'hex');
  const hash = createHash('sha1').update(namespaceBytes).update(name).digest();
  const bytes = hash.subarray(0, 16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x50;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A name-based id in this service's namespace. */
export function nameBasedUuid(name: string | Buffer): string {
  return uuidV5(NAMESPACE, name);
}

/** The id of the event an effect publishes for an input event: the same every time. */
export function derivedEventId(inputId: string, outputType: string): string {
  return nameBasedUuid(`${inputId}\u0000${outputType}`);
}

/**
 * The id of a message that carries none (a command in the plain shape): derived from its bytes,
 * so a redelivery, or the same bytes written twice by a producer retry, has the same id.
 */
export function contentEventId(value: Buffer): string {
  return nameBasedUuid(Buffer.concat([Buffer.from('content\u0000'), value]));
}
