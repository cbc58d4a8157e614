/**
 * A ClientStore that tells what changed in the groups and contacts it stores, so that a UI can follow them from
 * events instead of polling or re-reading everything on each message. After a batch commits it reports:
 *
 * - the ids of the groups whose view changed (name, admins, epoch — and with it the members —, timer, active,
 *   request, who added us), not those whose MLS state alone moved on (every group message does that);
 * - the account ids of the contacts whose record changed (username, name, verification, identity change, timer,
 *   accepted, blocked) — a contact rewritten unchanged (every message from them may do that) is not reported.
 *
 * What was last seen of each is remembered from the writes themselves, so the first write of a record after the
 * client opens is reported even when it changed nothing: a UI reads it once more, which is harmless.
 */
import type { ClientStore, ContactRecord, GroupRecord, StoreTx } from './store.js';

/** What a UI shows of a group; a change of anything else (its MLS state, the update time) is not announced. */
function groupView(group: GroupRecord): string {
  return JSON.stringify([group.name ?? null, group.admins, group.epoch, group.expireTimer, group.active, group.request ?? false, group.addedBy ?? null]);
}

/** Every field of a contact is shown somewhere (chat list, safety number, request bar, settings). */
function contactView(contact: ContactRecord): string {
  return JSON.stringify([
    contact.username ?? null,
    contact.name ?? null,
    contact.verified,
    contact.identityChangedAt ?? null,
    contact.expireTimer,
    contact.accepted ?? false,
    contact.blocked ?? false,
  ]);
}

export interface StoreObserver {
  /** Groups whose view changed in one committed batch. */
  readonly groups: (groupIds: readonly string[]) => void;
  /** Contacts whose record changed in one committed batch. */
  readonly contacts: (accountIds: readonly string[]) => void;
}

/** Remembers the last view of each record and tells which of a batch's records differ from it. */
class Seen<T> {
  private readonly views = new Map<string, string>();
  constructor(private readonly viewOf: (record: T) => string) {}

  changed(written: ReadonlyMap<string, T>): string[] {
    const changed: string[] = [];
    for (const [key, record] of written) {
      const view = this.viewOf(record);
      if (this.views.get(key) !== view) changed.push(key);
      this.views.set(key, view);
    }
    return changed;
  }
}

export function observeStore(store: ClientStore, observer: StoreObserver): ClientStore {
  const groups = new Seen(groupView);
  const contacts = new Seen(contactView);
  const write = async (fn: (tx: StoreTx) => void): Promise<void> => {
    const writtenGroups = new Map<string, GroupRecord>();
    const writtenContacts = new Map<string, ContactRecord>();
    await store.write((tx) => {
      const watched = new Proxy(tx, {
        get: (target, prop) => {
          if (prop === 'putGroup') {
            return (group: GroupRecord) => {
              writtenGroups.set(group.groupId, group);
              target.putGroup(group);
            };
          }
          if (prop === 'putContact') {
            return (contact: ContactRecord) => {
              writtenContacts.set(contact.accountId, contact);
              target.putContact(contact);
            };
          }
          return Reflect.get(target, prop);
        },
      });
      fn(watched);
    });
    // Only once the batch committed: a failed write announces nothing.
    const changedContacts = contacts.changed(writtenContacts);
    const changedGroups = groups.changed(writtenGroups);
    if (changedContacts.length > 0) observer.contacts(changedContacts);
    if (changedGroups.length > 0) observer.groups(changedGroups);
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
