/** Start a conversation with someone by their username (the server answers whether it exists, nothing more). */
import { useState } from 'react';
import type { FormEvent } from 'react';
import { Icon } from '../components/icons.js';
import { Link } from '../components/link.js';
import { useActions } from '../state/actions.js';
import { startChat } from '../state/contacts.js';
import type { Messenger } from '../state/messenger.js';
import { navigate } from '../state/router.js';

export function NewChatScreen({ messenger }: { messenger: Messenger }) {
  const [username, setUsername] = useState('');
  const actions = useActions();
  const { error } = actions;
  const busy = actions.pending.has('start');
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const name = username.trim().replace(/^@/, '');
    if (!name) return;
    await actions.run('start', async () => navigate({ name: 'chat', peer: await startChat(messenger, name) }));
  };
  return (
    <section className="page" aria-labelledby="new-chat-title">
      <header className="pane-header">
        <Link to={{ name: 'chats' }} className="icon-button back" label="Back to chats">
          <Icon name="back" />
        </Link>
        <h2 id="new-chat-title">New chat</h2>
      </header>
      <form className="card" onSubmit={(e) => void submit(e)}>
        <label htmlFor="new-chat-username">Username</label>
        <input
          id="new-chat-username"
          autoFocus
          autoCapitalize="none"
          spellCheck={false}
          value={username}
          onChange={(e) => setUsername(e.target.value)}
          aria-invalid={error !== undefined}
          placeholder="alice"
        />
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="primary" disabled={busy || username.trim() === ''}>
          {busy ? 'Looking up…' : 'Start chat'}
        </button>
      </form>
      <p className="alt page-note">
        More than one person? <Link to={{ name: 'new-group' }}>Make a group</Link>
      </p>
    </section>
  );
}
