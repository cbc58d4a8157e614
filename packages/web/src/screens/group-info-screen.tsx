/**
 * A group's info: its name, its members with their number of devices and who is admin, and what can be done about
 * them. Admins may rename the group, add and remove members and choose the admins (the members' devices ignore such
 * changes from anyone else, so nobody else is offered them); anyone may leave, after confirming. Leaving is this
 * device's (the SDK proposes the removal of this device's leaf only).
 */
import { useState } from 'react';
import type { FormEvent } from 'react';
import { Avatar } from '../components/avatar.js';
import { Icon } from '../components/icons.js';
import { Link } from '../components/link.js';
import { useActions } from '../state/actions.js';
import { MemberPicker } from '../components/member-picker.js';
import { addMembers, findPerson, leaveGroup, removeMember, renameGroup, setAdmins } from '../state/group-actions.js';
import type { Person } from '../state/group-actions.js';
import { listOf, timerLabel } from '../state/format.js';
import type { Messenger } from '../state/messenger.js';
import { useMessenger } from '../state/messenger.js';
import { GROUP_NAME_MAX } from './new-group-screen.js';

export function GroupInfoScreen({ messenger, groupId }: { messenger: Messenger; groupId: string }) {
  const { groups } = useMessenger(messenger);
  const view = groups.get(groupId);
  const me = messenger.me;
  const actions = useActions();
  const { error } = actions;
  // What is under way, by the label the status line shows.
  const busy = [...actions.pending][0];
  const [done, setDone] = useState<string>();
  const [rename, setRename] = useState<string>();
  const [picked, setPicked] = useState<readonly Person[]>([]);
  const [draft, setDraft] = useState('');
  const [confirmRemove, setConfirmRemove] = useState<string>();
  const [confirmLeave, setConfirmLeave] = useState(false);

  /** Runs one change at a time; its outcome is announced (status or alert). */
  const act = async (label: string, work: () => Promise<string | undefined>) => {
    setDone(undefined);
    const outcome = await actions.run(label, work);
    if (outcome.ok && outcome.value) setDone(outcome.value);
  };

  const header = (
    <header className="pane-header">
      <Link to={{ name: 'chat', peer: groupId }} className="icon-button" label="Back to the chat">
        <Icon name="back" />
      </Link>
      <h2 id="group-info-title">Group info</h2>
    </header>
  );
  if (!view) {
    return (
      <section className="page" aria-labelledby="group-info-title">
        {header}
        <div className="page-body">
          <p role="status">Loading…</p>
        </div>
      </section>
    );
  }

  const name = view.name ?? 'Unnamed group';
  // No admins known yet (settings not arrived): the SDK lets anyone act, as it does.
  const isAdmin = view.active && (view.admins.length === 0 || view.admins.includes(me));
  const nameOf = (id: string) => (id === me ? `${messenger.nameOf(id)} (you)` : messenger.nameOf(id));
  const members = [...view.members].sort((a, b) => (a.accountId === me ? -1 : b.accountId === me ? 1 : messenger.nameOf(a.accountId).localeCompare(messenger.nameOf(b.accountId))));
  const onlyAdmin = view.admins.length === 1 && view.admins[0] === me && view.members.length > 1;

  const submitRename = (event: FormEvent) => {
    event.preventDefault();
    const next = (rename ?? name).trim();
    if (!next || next === view.name) return;
    void act('Renaming…', async () => {
      await renameGroup(messenger, groupId, next);
      setRename(undefined);
      return `Renamed to “${next}”.`;
    });
  };

  const submitAdd = (event: FormEvent) => {
    event.preventDefault();
    void act('Adding…', async () => {
      let people = picked;
      if (draft.trim() !== '') {
        const found = await findPerson(messenger, draft, new Set([...view.members.map((m) => m.accountId), ...picked.map((p) => p.accountId)]));
        if (typeof found === 'string') throw new Error(found);
        people = [...picked, found];
      }
      if (people.length === 0) throw new Error('Put at least one username on the list.');
      const { missing } = await addMembers(messenger, groupId, people);
      setPicked([]);
      setDraft('');
      const added = people.filter((p) => !missing.includes(p));
      const parts = [];
      if (added.length > 0) parts.push(`Added ${listOf(added.map((p) => p.username))}.`);
      if (missing.length > 0) parts.push(`${listOf(missing.map((p) => p.username))} could not be added yet: none of their devices can join groups yet.`);
      return parts.join(' ');
    });
  };

  const toggleAdmin = (accountId: string) => {
    const admins = view.admins.includes(accountId) ? view.admins.filter((a) => a !== accountId) : [...view.admins, accountId];
    void act('Saving the admins…', async () => {
      await setAdmins(messenger, groupId, admins);
      return `Admins now: ${listOf(admins.map((id) => (id === me ? 'you' : messenger.nameOf(id))))}.`;
    });
  };

  const remove = (accountId: string) => {
    setConfirmRemove(undefined);
    const who = messenger.nameOf(accountId);
    void act(`Removing ${who}…`, async () => {
      await removeMember(messenger, groupId, accountId);
      return `${who} was removed. They cannot read anything sent from now on.`;
    });
  };

  const leave = () => {
    setConfirmLeave(false);
    void act('Leaving…', async () => {
      await leaveGroup(messenger, groupId);
      return 'You left the group.';
    });
  };

  const disabled = busy !== undefined;
  return (
    <section className="page" aria-labelledby="group-info-title">
      {header}
      <div className="page-body">
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <p className="status-line" role="status">
          {busy ?? done ?? ''}
        </p>

        <section className="card" aria-labelledby="group-name-title">
          <h3 id="group-name-title" className="group-name">
            <span className="avatar group" aria-hidden="true">
              <Icon name="group" size={22} />
            </span>
            {name}
          </h3>
          <p className="help">
            {view.active
              ? `${view.members.length} ${view.members.length === 1 ? 'member' : 'members'}${view.expireTimer > 0 ? ` · disappearing messages: ${timerLabel(view.expireTimer)}` : ''}. Only members see the name; the server never does.`
              : 'You are no longer in this group. Its history stays on this device.'}
          </p>
          {isAdmin && (
            <form onSubmit={submitRename}>
              <label htmlFor="group-rename">Group name</label>
              <div className="input-row">
                <input id="group-rename" maxLength={GROUP_NAME_MAX} value={rename ?? view.name ?? ''} onChange={(e) => setRename(e.target.value)} disabled={disabled} />
                <button type="submit" disabled={disabled || (rename ?? view.name ?? '').trim() === '' || (rename ?? view.name) === view.name}>
                  Rename
                </button>
              </div>
            </form>
          )}
        </section>

        {view.active && (
          <section className="card" aria-labelledby="members-title">
            <h3 id="members-title">Members</h3>
            {!isAdmin && (
              <p className="help">
                Only admins ({listOf(view.admins.map(nameOf))}) can add or remove members, rename the group or choose its admins.
              </p>
            )}
            <ul className="member-list" aria-labelledby="members-title">
              {members.map((m) => {
                const admin = view.admins.includes(m.accountId);
                const who = messenger.nameOf(m.accountId);
                return (
                  <li key={m.accountId} data-member={who}>
                    <Avatar messenger={messenger} accountId={m.accountId} name={who} />
                    <div>
                      <strong title={m.accountId}>{nameOf(m.accountId)}</strong>
                      {messenger.profileNameOf(m.accountId) && <span className="profile-name"> {messenger.profileNameOf(m.accountId)}</span>}
                      {admin && <span className="badge">admin</span>}
                      <span className="help">
                        {m.devices.length} {m.devices.length === 1 ? 'device' : 'devices'}
                      </span>
                    </div>
                    {isAdmin && (
                      <span className="member-actions">
                        {(!admin || view.admins.length > 1) && (
                          <button type="button" onClick={() => toggleAdmin(m.accountId)} disabled={disabled} aria-label={admin ? `Take admin from ${who}` : `Make ${who} an admin`}>
                            {admin ? 'Not admin' : 'Make admin'}
                          </button>
                        )}
                        {m.accountId !== me &&
                          (confirmRemove === m.accountId ? (
                            <span className="confirm">
                              <button type="button" className="danger" onClick={() => remove(m.accountId)} autoFocus>
                                Yes, remove {who}
                              </button>
                              <button type="button" onClick={() => setConfirmRemove(undefined)}>
                                Cancel
                              </button>
                            </span>
                          ) : (
                            <button type="button" onClick={() => setConfirmRemove(m.accountId)} disabled={disabled} aria-label={`Remove ${who}`}>
                              Remove
                            </button>
                          ))}
                      </span>
                    )}
                  </li>
                );
              })}
            </ul>
          </section>
        )}

        {isAdmin && (
          <form className="card" onSubmit={submitAdd} aria-labelledby="add-members-title">
            <h3 id="add-members-title">Add members</h3>
            <p className="help">They get every device of theirs added, and read only what is sent from then on.</p>
            <MemberPicker
              messenger={messenger}
              id="add-members"
              picked={picked}
              onPicked={setPicked}
              draft={draft}
              onDraft={setDraft}
              members={view.members.map((m) => m.accountId)}
              disabled={disabled}
            />
            <button type="submit" className="primary" disabled={disabled || (picked.length === 0 && draft.trim() === '')}>
              Add to the group
            </button>
          </form>
        )}

        {view.active && (
          <section className="card danger-zone" aria-labelledby="leave-title">
            <h3 id="leave-title">Leave the group</h3>
            <p className="help">
              This browser stops receiving the group’s messages; what was said stays here. Your other devices leave when you leave there too.
              {onlyAdmin && ' You are its only admin: make someone else an admin first, or nobody will be able to add or remove members.'}
            </p>
            {confirmLeave ? (
              <div className="row">
                <button type="button" className="danger" onClick={leave} autoFocus>
                  Yes, leave “{name}”
                </button>
                <button type="button" onClick={() => setConfirmLeave(false)}>
                  Cancel
                </button>
              </div>
            ) : (
              <button type="button" className="danger" onClick={() => setConfirmLeave(true)} disabled={disabled}>
                Leave group…
              </button>
            )}
          </section>
        )}
      </div>
    </section>
  );
}
