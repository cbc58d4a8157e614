/**
 * Make a group: its name (seen by members only: it travels inside the group, never to the server) and the people
 * in it, by username. This account becomes its admin. People none of whose devices can join groups yet are named
 * afterwards, so that they can be added later from the group's info.
 */
import { useState } from 'react';
import type { FormEvent } from 'react';
import { Icon } from '../components/icons.js';
import { Link } from '../components/link.js';
import { useActions } from '../state/actions.js';
import { MemberPicker } from '../components/member-picker.js';
import { createGroup, findPerson } from '../state/group-actions.js';
import type { Person } from '../state/group-actions.js';
import { listOf } from '../state/format.js';
import type { Messenger } from '../state/messenger.js';
import { navigate } from '../state/router.js';

export const GROUP_NAME_MAX = 64;

export function NewGroupScreen({ messenger }: { messenger: Messenger }) {
  const [name, setName] = useState('');
  const [picked, setPicked] = useState<readonly Person[]>([]);
  const [draft, setDraft] = useState('');
  const actions = useActions();
  const { error } = actions;
  const busy = actions.pending.has('create');
  const [missing, setMissing] = useState<{ groupId: string; people: readonly Person[] }>();

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const groupName = name.trim();
    if (!groupName) {
      actions.fail('Give the group a name.');
      return;
    }
    await actions.run('create', async () => {
      // A username typed but not yet put on the list counts too.
      let people = picked;
      if (draft.trim() !== '') {
        const found = await findPerson(messenger, draft, new Set(picked.map((p) => p.accountId)));
        if (typeof found === 'string') throw new Error(found);
        people = [...picked, found];
      }
      const created = await createGroup(messenger, groupName, people);
      if (created.missing.length > 0) setMissing({ groupId: created.groupId, people: created.missing });
      else navigate({ name: 'chat', peer: created.groupId });
    });
  };

  return (
    <section className="page" aria-labelledby="new-group-title">
      <header className="pane-header">
        <Link to={{ name: 'chats' }} className="icon-button back" label="Back to chats">
          <Icon name="back" />
        </Link>
        <h2 id="new-group-title">New group</h2>
      </header>
      {missing ? (
        <div className="page-body">
          <section className="card" role="status">
            <h3>The group is made</h3>
            <p>
              {listOf(missing.people.map((p) => p.username))} could not be added yet: none of their devices has published the keys that joining a
              group needs (a device does when it next connects). Add them later from the group’s info.
            </p>
            <Link to={{ name: 'chat', peer: missing.groupId }} className="button primary">
              Open the group
            </Link>
          </section>
        </div>
      ) : (
        <form className="card" onSubmit={(e) => void submit(e)} aria-describedby="new-group-help">
          <p id="new-group-help" className="help">
            Everyone in the group reads every message, end-to-end encrypted (MLS). The server never sees the group’s name or who is its admin.
          </p>
          <label htmlFor="group-name">Group name</label>
          <input
            id="group-name"
            autoFocus
            maxLength={GROUP_NAME_MAX}
            value={name}
            onChange={(e) => setName(e.target.value)}
            placeholder="Book club"
            disabled={busy}
          />
          <fieldset className="plain">
            <legend>Members</legend>
            <MemberPicker messenger={messenger} id="new-group" picked={picked} onPicked={setPicked} draft={draft} onDraft={setDraft} disabled={busy} />
          </fieldset>
          {error && (
            <p className="error" role="alert">
              {error}
            </p>
          )}
          <button type="submit" className="primary" disabled={busy || name.trim() === ''}>
            {busy ? 'Making the group…' : 'Create group'}
          </button>
        </form>
      )}
    </section>
  );
}
