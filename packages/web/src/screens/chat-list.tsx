/**
 * The chat list: every conversation with its last message, time and unread count, newest first. Groups carry a
 * group avatar and "group" in their accessible name; their previews name who wrote.
 */
import { Icon } from '../components/icons.js';
import { Link } from '../components/link.js';
import { listOf, previewOf, shortTime } from '../state/format.js';
import type { Messenger } from '../state/messenger.js';
import { useMessenger } from '../state/messenger.js';
import { isGroupId } from '../state/router.js';
import { useSettings } from '../state/settings.js';

export function ChatList({ messenger, activePeer }: { messenger: Messenger; activePeer: string | undefined }) {
  const { conversations, typing, groups } = useMessenger(messenger);
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
          <Link to={{ name: 'new-group' }} className="icon-button" label="New group">
            <Icon name="group" />
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
          <div className="row center">
            <Link to={{ name: 'new' }} className="button primary">
              Start a chat
            </Link>
            <Link to={{ name: 'new-group' }} className="button">
              New group
            </Link>
          </div>
        </div>
      ) : (
        <ul className="conversations">
          {conversations.map((summary) => {
            const group = isGroupId(summary.conversation);
            const left = group && groups.get(summary.conversation)?.active === false;
            const name = summary.conversation === me ? 'Note to self' : messenger.nameOf(summary.conversation);
            const last = summary.lastMessage;
            const typists = typing.get(summary.conversation);
            const preview = typists
              ? group
                ? `${listOf(typists.map(nameOf))} ${typists.length === 1 ? 'is' : 'are'} typing…`
                : 'typing…'
              : last
                ? previewOf(last, nameOf, { me, group })
                : group
                  ? 'No messages yet'
                  : '';
            return (
              <li key={summary.conversation}>
                <Link
                  to={{ name: 'chat', peer: summary.conversation }}
                  className={`conversation-item${summary.conversation === activePeer ? ' active' : ''}`}
                  label={`${name}${group ? `, group${left ? ', no longer a member' : ''}` : ''}${summary.unread ? `, ${summary.unread} unread` : ''}`}
                >
                  <span className={`avatar${group ? ' group' : ''}`} aria-hidden="true">
                    {group ? <Icon name="group" size={22} /> : name.slice(0, 1).toUpperCase()}
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
