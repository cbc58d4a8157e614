/**
 * Picking people by username for a group: type a username and press Enter (or Add); the server says whether it
 * exists. People this browser has talked to are offered as one-press suggestions. Each picked person can be taken
 * off the list again. Enter in the empty box submits the surrounding form.
 */
import type { KeyboardEvent } from 'react';
import { Icon } from './icons.js';
import { useActions } from '../state/actions.js';
import { findPerson } from '../state/group-actions.js';
import type { Person } from '../state/group-actions.js';
import type { Messenger } from '../state/messenger.js';
import { useMessenger } from '../state/messenger.js';

const MAX_SUGGESTIONS = 8;

export function MemberPicker({
  messenger,
  id,
  picked,
  onPicked,
  draft,
  onDraft,
  members = [],
  disabled = false,
}: {
  messenger: Messenger;
  /** Prefix of the element ids (two pickers never share a page, but labels need unique ids). */
  id: string;
  picked: readonly Person[];
  onPicked: (people: readonly Person[]) => void;
  /** The username being typed: the form takes it too when submitted before Add. */
  draft: string;
  onDraft: (draft: string) => void;
  /** Account ids already in the group. */
  members?: readonly string[];
  disabled?: boolean;
}) {
  const { contacts } = useMessenger(messenger);
  const lookup = useActions();
  const { error } = lookup;
  const busy = lookup.pending.has('lookup');
  const me = messenger.me;
  const taken = new Set([...members, ...picked.map((p) => p.accountId)]);

  const add = async () => {
    const outcome = await lookup.run('lookup', () => findPerson(messenger, draft, taken));
    if (!outcome.ok) return;
    if (typeof outcome.value === 'string') lookup.fail(outcome.value);
    else {
      onPicked([...picked, outcome.value]);
      onDraft('');
    }
  };
  const onKeyDown = (event: KeyboardEvent<HTMLInputElement>) => {
    if (event.key === 'Enter' && draft.trim() !== '') {
      event.preventDefault();
      void add();
    }
  };
  const suggestions = [...contacts.values()]
    .filter((c) => c.username !== undefined && c.accountId !== me && !taken.has(c.accountId) && !c.blocked)
    .sort((a, b) => (a.username ?? '').localeCompare(b.username ?? ''))
    .slice(0, MAX_SUGGESTIONS);

  return (
    <div className="member-picker">
      <label htmlFor={`${id}-username`}>Username</label>
      <div className="input-row">
        <input
          id={`${id}-username`}
          autoCapitalize="none"
          spellCheck={false}
          value={draft}
          onChange={(e) => {
            onDraft(e.target.value);
            lookup.clear();
          }}
          onKeyDown={onKeyDown}
          aria-invalid={error !== undefined}
          aria-describedby={`${id}-help`}
          disabled={disabled}
        />
        <button type="button" onClick={() => void add()} disabled={disabled || busy || draft.trim() === ''}>
          {busy ? 'Looking up…' : 'Add'}
        </button>
      </div>
      <p id={`${id}-help`} className="help">
        Type a username and press Enter to put it on the list.
      </p>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {picked.length > 0 && (
        <ul className="chips" aria-label="People to add">
          {picked.map((p) => (
            <li key={p.accountId}>
              <span>{p.username}</span>
              <button
                type="button"
                className="icon-button small"
                onClick={() => onPicked(picked.filter((q) => q.accountId !== p.accountId))}
                aria-label={`Take ${p.username} off the list`}
                disabled={disabled}
              >
                <Icon name="close" size={14} />
              </button>
            </li>
          ))}
        </ul>
      )}
      {suggestions.length > 0 && (
        <div className="suggestions">
          <span className="help" id={`${id}-suggestions`}>
            People you have talked to:
          </span>
          <ul aria-labelledby={`${id}-suggestions`}>
            {suggestions.map((c) => (
              <li key={c.accountId}>
                <button
                  type="button"
                  onClick={() => onPicked([...picked, { accountId: c.accountId, username: c.username ?? c.accountId.slice(0, 8) }])}
                  aria-label={`Add ${c.username ?? ''}`}
                  disabled={disabled}
                >
                  <Icon name="plus" size={14} /> {c.username}
                </button>
              </li>
            ))}
          </ul>
        </div>
      )}
    </div>
  );
}
