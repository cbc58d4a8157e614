/**
 * The chat list: every conversation the user talks in, with its last message, time and unread count, newest first.
 * Message requests are not among them: one "Message requests" entry at the top (with how many) opens them; a blocked
 * account's chat is not listed (Settings → Blocked lists who is blocked).
 */
import { ConversationItem } from '../components/conversation-item.js';
import { Icon } from '../components/icons.js';
import { Link } from '../components/link.js';
import { listOf } from '../state/format.js';
import type { Messenger } from '../state/messenger.js';
import { chatsOf, requestsOf, useMessenger } from '../state/messenger.js';
import { isGroupId } from '../state/router.js';
import { useSettings } from '../state/settings.js';

export function ChatList({ messenger, activePeer, requestsActive }: { messenger: Messenger; activePeer: string | undefined; requestsActive: boolean }) {
  const snapshot = useMessenger(messenger);
  const chats = chatsOf(snapshot);
  const requests = requestsOf(snapshot);
  const { displayName } = useSettings();
  const { accountId: me, username } = messenger.account;
  return (
    <nav className="chat-list" aria-label="Chats">
      <header className="pane-header">
        <div className="me">
          <h1 className="app-title">Samizdat</h1>
          <span className="me-name" title={`Signed in as ${username ?? me}`}>
            {displayName || username || 'You'}
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
      {requests.length > 0 && (
        <ul className="conversations requests-entry">
          <li>
            <Link
              to={{ name: 'requests' }}
              className={`conversation-item${requestsActive ? ' active' : ''}`}
              label={`Message requests, ${requests.length}`}
            >
              <span className="avatar requests" aria-hidden="true">
                <Icon name="inbox" size={22} />
              </span>
              <span className="conversation-text">
                <span className="conversation-top">
                  <span className="conversation-name">Message requests</span>
                  <span className="request-count">{requests.length}</span>
                </span>
                <span className="conversation-bottom">
                  <span className="preview">{listOf(requests.slice(0, 3).map((r) => messenger.nameOf(r.conversation)))}</span>
                </span>
              </span>
            </Link>
          </li>
        </ul>
      )}
      {chats.length === 0 ? (
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
          {chats.map((summary) => (
            <ConversationItem
              key={summary.conversation}
              messenger={messenger}
              summary={summary}
              active={summary.conversation === activePeer}
              typing={snapshot.typing.get(summary.conversation)}
              left={isGroupId(summary.conversation) && snapshot.groups.get(summary.conversation)?.active === false}
            />
          ))}
        </ul>
      )}
    </nav>
  );
}
