/**
 * Message requests: chats from people the user has not talked with, and groups someone they do not talk with added
 * them to, newest first. Opening one shows its messages with the request bar (accept, delete, block) instead of the
 * composer; its sender is not told it was read until it is accepted.
 */
import { ConversationItem } from '../components/conversation-item.js';
import { Icon } from '../components/icons.js';
import { Link } from '../components/link.js';
import type { Messenger } from '../state/messenger.js';
import { requestsOf, useMessenger } from '../state/messenger.js';
import { isGroupId } from '../state/router.js';

export function RequestsScreen({ messenger }: { messenger: Messenger }) {
  const snapshot = useMessenger(messenger);
  const requests = requestsOf(snapshot);
  return (
    <section className="page" aria-labelledby="requests-title">
      <header className="pane-header">
        <Link to={{ name: 'chats' }} className="icon-button back" label="Back to chats">
          <Icon name="back" />
        </Link>
        <h2 id="requests-title">Message requests</h2>
      </header>
      <p className="help page-intro">
        People you have not talked with yet. They do not know you have seen their messages until you accept; until then their typing is not shown
        and nothing of yours is sent to them.
      </p>
      <nav className="request-list" aria-label="Message requests">
        {requests.length === 0 ? (
          <p className="empty">No message requests.</p>
        ) : (
          <ul className="conversations">
            {requests.map((summary) => (
              <ConversationItem
                key={summary.conversation}
                messenger={messenger}
                summary={summary}
                active={false}
                typing={undefined}
                left={isGroupId(summary.conversation) && snapshot.groups.get(summary.conversation)?.active === false}
              />
            ))}
          </ul>
        )}
      </nav>
    </section>
  );
}
