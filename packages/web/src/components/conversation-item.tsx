/**
 * One entry of the chat list or of the message requests: avatar, name, last message (or who is typing), time and,
 * for a chat, the unread count. Groups carry a group avatar and "group" in their accessible name; their previews
 * name who wrote. A request shows no unread count: nothing about it asks for attention but the requests entry.
 */
import { listOf, previewOf, shortTime } from '../state/format.js';
import type { ListedConversation, Messenger } from '../state/messenger.js';
import { isGroupId } from '../state/router.js';
import { Avatar } from './avatar.js';
import { Link } from './link.js';

export function ConversationItem({
  messenger,
  summary,
  active,
  typing,
  left,
}: {
  messenger: Messenger;
  summary: ListedConversation;
  active: boolean;
  /** Who is typing there now (account ids). */
  typing: readonly string[] | undefined;
  /** A group this device is no longer in. */
  left: boolean;
}) {
  const me = messenger.me;
  const nameOf = (id: string) => (id === me ? 'You' : messenger.nameOf(id));
  const group = isGroupId(summary.conversation);
  const name = summary.conversation === me ? 'Note to self' : messenger.nameOf(summary.conversation);
  const last = summary.lastMessage;
  const unread = summary.state === 'accepted' ? summary.unread : 0;
  const preview = typing
    ? group
      ? `${listOf(typing.map(nameOf))} ${typing.length === 1 ? 'is' : 'are'} typing…`
      : 'typing…'
    : last
      ? previewOf(last, nameOf, { me, group })
      : group
        ? 'No messages yet'
        : '';
  return (
    <li>
      <Link
        to={{ name: 'chat', peer: summary.conversation }}
        className={`conversation-item${active ? ' active' : ''}`}
        label={`${name}${group ? `, group${left ? ', no longer a member' : ''}` : ''}${unread ? `, ${unread} unread` : ''}`}
      >
        <Avatar messenger={messenger} accountId={summary.conversation} name={name} group={group} />
        <span className="conversation-text">
          <span className="conversation-top">
            <span className="conversation-name">{name}</span>
            {last && <time dateTime={new Date(last.timestamp).toISOString()}>{shortTime(last.timestamp)}</time>}
          </span>
          <span className="conversation-bottom">
            <span className="preview">{preview}</span>
            {unread > 0 && (
              <span className="unread" data-testid="unread">
                {unread}
              </span>
            )}
          </span>
        </span>
      </Link>
    </li>
  );
}
