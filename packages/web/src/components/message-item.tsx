/** One entry of a conversation: a message bubble (quote, text, attachments, reactions, status) or a system line. */
import { useState } from 'react';
import type { FocusEvent, KeyboardEvent } from 'react';
import type { MessageRecord } from '@samizdat/client';
import { fullTime, shortTime, statusView, systemText, timerLabel } from '../state/format.js';
import type { SystemContext } from '../state/format.js';
import type { Messenger } from '../state/messenger.js';
import { isGroupId } from '../state/router.js';
import { AttachmentView } from './attachment-view.js';
import { Icon } from './icons.js';

export const REACTIONS = ['👍', '❤️', '😂', '😮', '😢', '🙏'] as const;

export interface MessageActions {
  reply(message: MessageRecord): void;
  edit(message: MessageRecord): void;
  remove(message: MessageRecord): void;
  react(message: MessageRecord, emoji: string, remove: boolean): void;
}

export function MessageItem({
  messenger,
  message,
  quoted,
  nameOf,
  actions,
  disabled,
  online,
  showAuthor = false,
  systemContext,
}: {
  messenger: Messenger;
  message: MessageRecord;
  quoted: MessageRecord | undefined;
  nameOf: (accountId: string) => string;
  actions: MessageActions;
  disabled: boolean;
  online: boolean;
  /** Show the sender's name above the text (incoming messages in a group, at the start of each run). */
  showAuthor?: boolean;
  systemContext?: SystemContext;
}) {
  const [menu, setMenu] = useState(false);
  if (message.kind === 'system') {
    return (
      <li className="system-line" data-event={message.event}>
        {systemText(message, nameOf, systemContext)}
      </li>
    );
  }
  const outgoing = message.direction === 'outgoing';
  const me = messenger.me;
  const status = outgoing ? statusView(message.status) : undefined;
  const mine = message.reactions?.find((r) => r.author === me);
  const grouped = new Map<string, string[]>();
  for (const r of message.reactions ?? []) grouped.set(r.emoji, [...(grouped.get(r.emoji) ?? []), nameOf(r.author)]);
  const onKeyDown = (event: KeyboardEvent) => {
    if (event.key === 'Escape') setMenu(false);
  };
  // The menu closes when focus leaves the message (a click or Tab elsewhere).
  const onBlur = (event: FocusEvent<HTMLLIElement>) => {
    if (!(event.relatedTarget instanceof Node && event.currentTarget.contains(event.relatedTarget))) setMenu(false);
  };
  const act = (run: () => void) => () => {
    setMenu(false);
    run();
  };
  const author = outgoing ? 'You' : nameOf(message.author);
  // 1:1 messages say how they travelled: sealed (the server did not learn who sent it) or identified (it did).
  const delivery = isGroupId(message.conversation) || message.status === 'pending' || message.status === 'failed' ? undefined : message.sealed ? 'sealed' : 'identified';
  return (
    <li
      className={`message ${outgoing ? 'outgoing' : 'incoming'}${message.deleted ? ' deleted' : ''}`}
      data-message-id={message.id}
      data-status={message.status}
      {...(delivery ? { 'data-delivery': delivery } : {})}
      onKeyDown={onKeyDown}
      onBlur={onBlur}
    >
      <div className="bubble">
        {showAuthor && !outgoing ? (
          <span className={`author hue-${hueOf(message.author)}`}>
            {author}
            <span className="visually-hidden">: </span>
          </span>
        ) : (
          <span className="visually-hidden">{author}: </span>
        )}
        {message.quote && !message.deleted && (
          <blockquote className="quote">
            <span className="quote-author">{message.quote.author === me ? 'You' : nameOf(message.quote.author)}</span>
            <span className="quote-text">{quoted?.deleted ? 'Message deleted' : (quoted?.body ?? message.quote.text ?? (quoted?.attachments?.length ? 'Attachment' : 'Message not available'))}</span>
          </blockquote>
        )}
        {message.deleted ? (
          <p className="body muted">{outgoing ? 'You deleted this message.' : 'This message was deleted.'}</p>
        ) : (
          <>
            {message.attachments?.map((a) => <AttachmentView key={a.id} messenger={messenger} pointer={a} online={online} />)}
            {message.body && <p className="body">{message.body}</p>}
          </>
        )}
        <footer className="meta">
          {message.expireTimer ? (
            <span className="timer" title={`Disappears ${timerLabel(message.expireTimer)} after ${outgoing ? 'sending' : 'reading'}`} aria-label="Disappearing message">
              <Icon name="timer" size={13} />
            </span>
          ) : null}
          {message.editedAt && !message.deleted && <span className="edited">edited</span>}
          {delivery === 'sealed' && (
            <span className="sealed" title="Sealed sender: the server did not learn who sent this" aria-label="Sealed sender">
              <Icon name="shield" size={13} />
            </span>
          )}
          {delivery === 'identified' && (
            <span className="identified" title="Sent identified: the server saw who sent this (sealed sender was not possible)">
              identified
            </span>
          )}
          <time dateTime={new Date(message.timestamp).toISOString()} title={fullTime(message.timestamp)}>
            {shortTime(message.timestamp)}
          </time>
          {status && (
            <span className={`status status-${message.status}`} data-testid="status" title={status.label} aria-label={status.label}>
              <Icon name={status.icon} size={status.icon === 'checks' ? 18 : 14} />
            </span>
          )}
        </footer>
      </div>
      {grouped.size > 0 && (
        <ul className="reactions" aria-label="Reactions">
          {[...grouped].map(([emoji, who]) => (
            <li key={emoji}>
              <button
                type="button"
                className={mine?.emoji === emoji ? 'reaction mine' : 'reaction'}
                title={who.join(', ')}
                aria-label={`${emoji} from ${who.join(', ')}${mine?.emoji === emoji ? ' (press to remove yours)' : ''}`}
                disabled={disabled || message.deleted}
                onClick={() => actions.react(message, emoji, mine?.emoji === emoji)}
              >
                {emoji} {who.length > 1 ? who.length : ''}
              </button>
            </li>
          ))}
        </ul>
      )}
      {!message.deleted && (
        <div className="message-actions">
          <button type="button" className="icon-button small" aria-label="Message actions" aria-expanded={menu} onClick={() => setMenu((m) => !m)}>
            <Icon name="more" size={18} />
          </button>
          {menu && (
            <div className="menu" role="group" aria-label="Message actions">
              <button type="button" onClick={act(() => actions.reply(message))} autoFocus>
                Reply
              </button>
              {outgoing && message.body !== undefined && message.status !== 'pending' && (
                <button type="button" onClick={act(() => actions.edit(message))} disabled={disabled}>
                  Edit
                </button>
              )}
              {outgoing && message.status !== 'pending' && (
                <button type="button" onClick={act(() => actions.remove(message))} disabled={disabled}>
                  Delete for everyone
                </button>
              )}
              <span className="emoji-row" role="group" aria-label="React">
                {REACTIONS.map((emoji) => (
                  <button
                    key={emoji}
                    type="button"
                    aria-label={`React ${emoji}`}
                    aria-pressed={mine?.emoji === emoji}
                    disabled={disabled}
                    onClick={act(() => actions.react(message, emoji, mine?.emoji === emoji))}
                  >
                    {emoji}
                  </button>
                ))}
              </span>
            </div>
          )}
        </div>
      )}
    </li>
  );
}

/** One of six colours per account, so that the senders of a group are told apart at a glance (not the only cue). */
function hueOf(accountId: string): number {
  let sum = 0;
  for (let i = 0; i < accountId.length; i++) sum = (sum * 31 + accountId.charCodeAt(i)) % 9973;
  return sum % 6;
}
