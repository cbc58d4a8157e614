/**
 * GroupState is ts-mls's ClientState behind a brand (./types.ts), so that nothing outside src/groups depends on
 * ts-mls's shape. State moves as a value: ts-mls never mutates a ClientState, every operation returns a new one, and
 * `derivedState` is how each of ours hands it back.
 *
 * Beside the states, not inside them, the mark of an epoch whose secret tree (RFC 9420 §9) may have been derived from
 * zeros by the broken ts-mls patch (docs/protocol.md "Secret trees derived from zeros"): nothing ts-mls copies
 * carries the mark by accident, `derivedState` alone passes it on.
 */
import type { ClientState } from 'ts-mls';
import type { GroupState } from './types.js';

const zeroKeyedStates = new WeakSet<object>();

/** The ts-mls state behind a GroupState. */
export function inner(state: GroupState): ClientState {
  return state as unknown as ClientState;
}

/** A ts-mls state as a GroupState (for states that start a history: a new group, a join, a decoded state). */
export function outer(state: ClientState): GroupState {
  return state as unknown as GroupState;
}

/**
 * The state an operation on `before` produced. Within one epoch (a message sent or received, a proposal) the secret
 * tree is the same one, so a zero-keyed mark stays; a new epoch (a commit made or processed) has a tree derived from
 * its own encryption_secret, so it is not marked.
 */
export function derivedState(before: ClientState, after: ClientState): GroupState {
  if (zeroKeyedStates.has(before) && after.groupContext.epoch === before.groupContext.epoch) zeroKeyedStates.add(after);
  return outer(after);
}

/** Marks a decoded state whose current epoch's secret tree may be derived from zeros (see above). */
export function markZeroKeyed(state: ClientState): void {
  zeroKeyedStates.add(state);
}

/** Whether `state`'s current epoch carries the zero-keyed mark. */
export function isZeroKeyed(state: ClientState): boolean {
  return zeroKeyedStates.has(state);
}
