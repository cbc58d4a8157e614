/** The chat list: every conversation with its last message, time and unread count, newest first. */
import { Icon } from '../components/icons.js';
import { Link } from '../components/link.js';
import { previewOf, shortTime, systemText } from '../state/format.js';
import type { Messenger } from '../state/messenger.js';
import { useMessenger } from '../state/messenger.js';
import { useSettings } from '../state/settings.js';

export function ChatList({ messenger, activePeer }: { messenger: Messenger; activePeer: string | undefined }) {
  const { conversations, typing } = useMessenger(messenger);
  const { displayName } = useSettings();
  const me = messenger.client.accountId;
  const nameOf = (id: string) => (id === me ? 'You' : messenger.nameOf(id));
  return (
    <nav className="chat-list" aria-label="Chats">
      <header className="pane-header">
        <div className="me">
          <h1 className="app-title">Samizdat</h1>
          <span className="me-name" title={`Signed in as ${messenger.client.username ?? me}`}>
            {displayName || messenger.client.username || 'You'}
          </span>
        </div>
        <div className="toolbar">
          <Link to={{ name: 'new' }} className="icon-button" label="New chat">
            <Icon name="plus" />
          </Link>
          <Link to={{ name: 'devices' }} className="icon-button" label="Devices">
            <Icon name="devices" />
          </Link>
          <Link to={{ name: 'settings' }} className="icon-button" label="Settings">
            <Icon name="settings" />
          </Link>
        </div>
      </header>
      {conversations.length === 0 ? (
        <div className="empty">
          <p>No chats yet.</p>
          <Link to={{ name: 'new' }} className="button primary">
            Start a chat
          </Link>
        </div>
      ) : (
        <ul className="conversations">
          {conversations.map((summary) => {
            const name = summary.conversation === me ? 'Note to self' : messenger.nameOf(summary.conversation);
            const last = summary.lastMessage;
            const preview = typing.has(summary.conversation)
              ? 'typing…'
              : last?.kind === 'system'
                ? systemText(last, nameOf)
                : previewOf(last, nameOf);
            return (
              <li key={summary.conversation}>
                <Link
                  to={{ name: 'chat', peer: summary.conversation }}
                  className={`conversation-item${summary.conversation === activePeer ? ' active' : ''}`}
                  label={`${name}${summary.unread ? `, ${summary.unread} unread` : ''}`}
                >
                  <span className="avatar" aria-hidden="true">
                    {name.slice(0, 1).toUpperCase()}
                  </span>
                  <span className="conversation-text">
                    <span className="conversation-top">
                      <span className="conversation-name">{name}</span>
                      {last && <time dateTime={new Date(last.timestamp).toISOString()}>{shortTime(last.timestamp)}</time>}
                    </span>
                    <span className="conversation-bottom">
                      <span className="preview">{preview}</span>
                      {summary.unread > 0 && (
                        <span className="unread" data-testid="unread">
                          {summary.unread}
                        </span>
                      )}
                    </span>
                  </span>
                </Link>
              </li>
            );
          })}
        </ul>
      )}
    </nav>
  );
}
