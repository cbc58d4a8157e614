/**
 * A ClientStore that tells what changed in the groups it stores: after a batch commits, the ids of the groups whose
 * view changed (name, admins, epoch — and with it the members —, timer, active, request), not those whose MLS state
 * alone moved on (every group message does that). So that a UI can follow groups from events instead of polling.
 */
import type { ClientStore, GroupRecord, StoreTx } from './store.js';

/** What a UI shows of a group; a change of anything else (its MLS state, the update time) is not announced. */
function viewOf(group: GroupRecord): string {
  return JSON.stringify([group.name ?? null, group.admins, group.epoch, group.expireTimer, group.active, group.request ?? false, group.addedBy ?? null]);
}

export function observeGroupWrites(store: ClientStore, onChanged: (groupIds: readonly string[]) => void): ClientStore {
  const seen = new Map<string, string>();
  const write = async (fn: (tx: StoreTx) => void): Promise<void> => {
    const written = new Map<string, GroupRecord>();
    await store.write((tx) => {
      const watched = new Proxy(tx, {
        get: (target, prop) =>
          prop === 'putGroup'
            ? (group: GroupRecord) => {
                written.set(group.groupId, group);
                target.putGroup(group);
              }
            : Reflect.get(target, prop),
      });
      fn(watched);
    });
    const changed: string[] = [];
    for (const [groupId, group] of written) {
      const view = viewOf(group);
      if (seen.get(groupId) !== view) changed.push(groupId);
      seen.set(groupId, view);
    }
    if (changed.length > 0) onChanged(changed);
  };
  // Everything else is the store's own, called on the store itself.
  return new Proxy(store, {
    get: (target, prop) => {
      if (prop === 'write') return write;
      const value: unknown = Reflect.get(target, prop);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
