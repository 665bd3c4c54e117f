/**
 * The container producer's connection as a state machine: its states, and in `next` every
 * transition between them. What happens on a transition (opening and closing kafkajs
 * producers, the back-off, logs) is ./connection.ts's; this file says only which state
 * follows which.
 *
 *   idle ──connect──► connecting ──opened──► connected
 *                       │    ▲                   │
 *                  failed    └──connect──┐   discard (a send found its connection bad)
 *                       ▼                │       ▼
 *                     unavailable ───────┴── unavailable
 *
 * disconnect() returns any state but `connecting` to `idle`: a connection being made is
 * left to finish, since the sends waiting for it are given it.
 */
import type { Instance } from './instance';

export type Connection =
  /** No connection and none being made: before first use, and after disconnect(). */
  | { readonly name: 'idle' }
  /** A connection is being made; every send that needs one waits for this one. */
  | { readonly name: 'connecting'; readonly opening: Promise<Instance> }
  /** Sends go to this instance. */
  | { readonly name: 'connected'; readonly instance: Instance }
  /** The last connection failed, or its instance was discarded: a send (once the back-off allows) connects again. */
  | { readonly name: 'unavailable' };

export type ConnectionEvent =
  /** A send needs a connection and there is none: `opening` makes one. */
  | { readonly type: 'connect'; readonly opening: Promise<Instance> }
  | { readonly type: 'opened'; readonly instance: Instance }
  | { readonly type: 'failed' }
  /** A send on `instance` failed in a way that means its connection is bad. */
  | { readonly type: 'discard'; readonly instance: Instance }
  | { readonly type: 'disconnect' };

export const IDLE: Connection = { name: 'idle' };

export function next(state: Connection, event: ConnectionEvent): Connection {
  switch (event.type) {
    case 'connect':
      return state.name === 'idle' || state.name === 'unavailable' ? { name: 'connecting', opening: event.opening } : state;
    case 'opened':
      return state.name === 'connecting' ? { name: 'connected', instance: event.instance } : state;
    case 'failed':
      return state.name === 'connecting' ? { name: 'unavailable' } : state;
    case 'discard':
      // Only the instance it ran on: a failure on one already replaced never touches its replacement.
      return state.name === 'connected' && state.instance === event.instance ? { name: 'unavailable' } : state;
    case 'disconnect':
      return state.name === 'connecting' ? state : IDLE;
  }
}
