/**
 * One conversation, with a person or a group: its history from the store, live changes as they happen, and the
 * composer (text, a file, replies, edits); what it does is state/conversation.ts's. In a group,
 * incoming messages carry their sender's name, and a group this device left (or was removed from) stays readable
 * but takes no new messages. A message request shows the request bar instead of the composer (reading it is fine:
 * the SDK holds its read receipts back until it is accepted), a blocked person's chat the blocked bar; the header's
 * menu blocks, unblocks and deletes a chat with a person.
 */
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import type { ChangeEvent, FocusEvent, FormEvent, KeyboardEvent } from 'react';
import type { MessageRecord } from '@samizdat/client';
import { Avatar } from '../components/avatar.js';
import { Icon } from '../components/icons.js';
import { Link } from '../components/link.js';
import { MessageItem } from '../components/message-item.js';
import type { MessageActions } from '../components/message-item.js';
import { BlockedBar, ConfirmBar, RequestBar, blockPerson, deleteChat } from '../components/request-bar.js';
import type { PendingDecision } from '../components/request-bar.js';
import { formatBytes } from '../state/attachments.js';
import { useConversation } from '../state/conversation.js';
import { TIMER_CHOICES, groupSettingsOf, listOf, timerLabel } from '../state/format.js';
import type { GroupSettings, SystemContext } from '../state/format.js';
import { keyOf } from '../state/history.js';
import type { Messenger } from '../state/messenger.js';
import { requestsOf, stateOf, useMessenger } from '../state/messenger.js';
import { isGroupId, navigate } from '../state/router.js';

export function ConversationScreen({ messenger, peer }: { messenger: Messenger; peer: string }) {
  const snapshot = useMessenger(messenger);
  const contact = snapshot.contacts.get(peer);
  const group = isGroupId(peer);
  const groupView = group ? snapshot.groups.get(peer) : undefined;
  // Until the groups are read, a group is taken as one we are in.
  const member = groupView?.active !== false;
  const me = messenger.me;
  const self = peer === me;
  const name = self ? 'Note to self' : messenger.nameOf(peer);
  const nameOf = useCallback((id: string) => (id === me ? 'You' : messenger.nameOf(id)), [me, messenger]);
  const conversation = useConversation(messenger, peer);
  const { messages, loaded, error, upload, typing } = conversation;
  const [replyTo, setReplyTo] = useState<MessageRecord>();
  const [editing, setEditing] = useState<MessageRecord>();
  const [draft, setDraft] = useState('');
  const [file, setFile] = useState<File>();
  const list = useRef<HTMLOListElement>(null);
  const atBottom = useRef(true);
  const composer = useRef<HTMLTextAreaElement>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  const state = self ? 'accepted' : stateOf(snapshot, peer);
  const request = state === 'request';
  const blocked = !group && state === 'blocked';
  const [menu, setMenu] = useState(false);
  const [pending, setPending] = useState<PendingDecision>();
  // Until the user decides, nothing is sent from here: no reply, reaction, timer or typing (the composer is not shown).
  const readOnly =
    snapshot.connection === 'replaced' || snapshot.connection === 'removed' || snapshot.connection === 'unauthorized' || !member || request || blocked;
  const online = snapshot.connection === 'open';

  // A conversation opened afresh starts with an empty composer, scrolled to the newest message.
  useEffect(() => {
    setReplyTo(undefined);
    setEditing(undefined);
    atBottom.current = true;
  }, [peer]);

  // A conversation deleted (here, from another device, or by blocking a group's adder) closes: to the other
  // requests if it was one and there are more, else to the chats.
  const wasRequest = useRef(request);
  wasRequest.current = request;
  useEffect(
    () =>
      messenger.onConversationChange((change) => {
        if (change.conversation !== peer || !change.deleted) return;
        const more = wasRequest.current && requestsOf(messenger.getSnapshot()).some((r) => r.conversation !== peer);
        navigate({ name: more ? 'requests' : 'chats' }, { replace: true });
      }),
    [messenger, peer],
  );

  // The composer takes the focus when it appears: on opening an ordinary chat, on accepting or unblocking. Before
  // the chat list is read, whether this is a request is not known, so neither the composer nor a bar is shown.
  const composerShown = snapshot.listed && !request && !blocked;
  const wasShown = useRef(false);
  useEffect(() => {
    if (composerShown && !wasShown.current) composer.current?.focus();
    wasShown.current = composerShown;
  }, [composerShown]);

  // Keep the newest message in view unless the user scrolled up to read.
  useLayoutEffect(() => {
    const el = list.current;
    if (el && atBottom.current) el.scrollTop = el.scrollHeight;
  }, [messages]);
  const onScroll = () => {
    const el = list.current;
    if (el) atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 48;
  };

  const byKey = useMemo(() => new Map(messages.map((m) => [m.id, m])), [messages]);

  // In a group: whose name heads each incoming run, and the settings each 'group-updated' line changed.
  const groupContext = useMemo(() => {
    const authorShown = new Set<string>();
    const settingsBefore = new Map<string, GroupSettings | null>();
    if (!group) return { authorShown, settingsBefore };
    let previous: MessageRecord | undefined;
    let settings: GroupSettings | null = null;
    for (const m of messages) {
      if (m.kind === 'message' && m.direction === 'incoming' && !(previous?.kind === 'message' && previous.author === m.author)) authorShown.add(keyOf(m));
      if (m.kind === 'system' && m.event === 'group-updated') {
        settingsBefore.set(keyOf(m), settings);
        settings = groupSettingsOf(m);
      }
      previous = m;
    }
    return { authorShown, settingsBefore };
  }, [group, messages]);
  const systemContextOf = (m: MessageRecord): SystemContext => ({ me, previousSettings: groupContext.settingsBefore.get(keyOf(m)) ?? null });

  const onDraft = (event: ChangeEvent<HTMLTextAreaElement>) => {
    setDraft(event.target.value);
    if (!self && online && !editing) typing.typed(event.target.value);
  };

  const actions: MessageActions = {
    reply: (m) => {
      setEditing(undefined);
      setReplyTo(m);
      composer.current?.focus();
    },
    edit: (m) => {
      setReplyTo(undefined);
      setEditing(m);
      setDraft(m.body ?? '');
      composer.current?.focus();
    },
    remove: (m) => {
      const where = group ? 'every device of every member' : 'every device of both of you';
      if (window.confirm(`Delete this message for everyone? It disappears from ${where}.`)) conversation.deleteForEveryone(m);
    },
    react: (m, emoji, remove) => conversation.react(m, emoji, remove),
  };

  const cancelCompose = () => {
    if (editing) setDraft('');
    setEditing(undefined);
    setReplyTo(undefined);
  };

  const send = async (event?: FormEvent) => {
    event?.preventDefault();
    const body = draft.trim();
    if (editing) {
      if (!body || body === editing.body) return cancelCompose();
      const target = editing;
      setEditing(undefined);
      setDraft('');
      conversation.edit(target, body);
      return;
    }
    if (!body && !file) return;
    typing.stop();
    const quote = replyTo;
    const picked = file;
    setDraft('');
    setReplyTo(undefined);
    setFile(undefined);
    atBottom.current = true;
    // Nothing was sent: give the text and the file back.
    if (!(await conversation.send({ body, file: picked, quote })) && picked) {
      setFile(picked);
      setDraft((d) => d || body);
    }
  };

  const onComposerKey = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      void send();
    } else if (event.key === 'Escape' && (editing || replyTo)) {
      event.preventDefault();
      cancelCompose();
    } else if (event.key === 'ArrowUp' && draft === '' && !editing) {
      const last = [...messages].reverse().find((m) => m.direction === 'outgoing' && m.kind === 'message' && !m.deleted && m.body !== undefined && m.status !== 'pending');
      if (last) {
        event.preventDefault();
        actions.edit(last);
      }
    }
  };

  const onPick = (event: ChangeEvent<HTMLInputElement>) => {
    const picked = event.target.files?.[0];
    event.target.value = '';
    if (picked) setFile(picked);
    composer.current?.focus();
  };

  const timer = (group ? groupView?.expireTimer : contact?.expireTimer) ?? 0;
  const typists = snapshot.typing.get(peer) ?? [];
  const typingText = typists.length === 0 ? '' : group ? `${listOf(typists.map(nameOf))} ${typists.length === 1 ? 'is' : 'are'} typing…` : 'typing…';
  let subtitle = [group ? undefined : messenger.profileNameOf(peer), timer > 0 ? `Disappearing messages: ${timerLabel(timer)}` : undefined].filter(Boolean).join(' · ');
  if (group) {
    const count = groupView?.members.length ?? 0;
    const members = groupView ? `${count} ${count === 1 ? 'member' : 'members'}` : '';
    subtitle = !member ? 'You are no longer in this group' : [members, subtitle].filter(Boolean).join(' · ');
  }
  const onTimer = (event: ChangeEvent<HTMLSelectElement>) => conversation.setTimer(Number(event.target.value));

  // The header's menu (a person's chat): block or unblock, delete. It closes when focus leaves it.
  const onMenuBlur = (event: FocusEvent<HTMLDivElement>) => {
    if (!(event.relatedTarget instanceof Node && event.currentTarget.contains(event.relatedTarget))) setMenu(false);
  };
  const choose = (decision: PendingDecision | (() => void)) => () => {
    setMenu(false);
    if (typeof decision === 'function') decision();
    else setPending(decision);
  };

  return (
    <section className="conversation" aria-label={group ? `Conversation in ${name}` : `Conversation with ${name}`}>
      <header className="pane-header conversation-header">
        <Link to={{ name: request ? 'requests' : 'chats' }} className="icon-button back" label={request ? 'Back to message requests' : 'Back to chats'}>
          <Icon name="back" />
        </Link>
        <Avatar messenger={messenger} accountId={peer} name={name} group={group} label={!group} />
        <div className="peer">
          <h2>
            {name}
            {contact?.verified && (
              <span className="verified" title="You verified the safety number">
                {' '}
                <Icon name="shield" size={16} />
                <span className="visually-hidden">verified</span>
              </span>
            )}
          </h2>
          <span className="subtitle" aria-live="polite">
            {typingText || subtitle}
          </span>
        </div>
        <div className="toolbar">
          {!self && (
            <>
              <label className="timer-select">
                <span className="visually-hidden">Disappearing messages</span>
                <Icon name="timer" size={18} />
                <select value={timer} onChange={onTimer} disabled={readOnly} aria-label="Disappearing messages">
                  {TIMER_CHOICES.some((c) => c.seconds === timer) ? null : <option value={timer}>{timerLabel(timer)}</option>}
                  {TIMER_CHOICES.map((c) => (
                    <option key={c.seconds} value={c.seconds}>
                      {c.label}
                    </option>
                  ))}
                </select>
              </label>
              {group ? (
                <Link to={{ name: 'group', group: peer }} className="icon-button" label="Group info">
                  <Icon name="info" />
                </Link>
              ) : (
                <Link to={{ name: 'verify', peer }} className="icon-button" label="Safety number">
                  <Icon name="shield" />
                </Link>
              )}
              {!group && !request && (
                <div className="header-menu" onBlur={onMenuBlur} onKeyDown={(e) => e.key === 'Escape' && setMenu(false)}>
                  <button type="button" className="icon-button" aria-label="Conversation options" aria-expanded={menu} onClick={() => setMenu((m) => !m)}>
                    <Icon name="more" />
                  </button>
                  {menu && (
                    <div className="menu" role="group" aria-label="Conversation options">
                      {blocked ? (
                        <button type="button" onClick={choose(conversation.unblock)} autoFocus>
                          Unblock {name}
                        </button>
                      ) : (
                        <button type="button" onClick={choose(blockPerson(messenger, peer, name))} autoFocus>
                          Block {name}…
                        </button>
                      )}
                      <button type="button" onClick={choose(deleteChat(messenger, peer, name, false))}>
                        Delete chat…
                      </button>
                    </div>
                  )}
                </div>
              )}
            </>
          )}
        </div>
      </header>

      <ol className="messages" ref={list} onScroll={onScroll} role="log" aria-label={group ? `Messages in ${name}` : `Messages with ${name}`} aria-busy={!loaded}>
        {loaded && messages.length === 0 && <li className="system-line">No messages yet. Say hello — it is end-to-end encrypted.</li>}
        {messages.map((m) => (
          <MessageItem
            key={keyOf(m)}
            messenger={messenger}
            message={m}
            quoted={m.quote ? byKey.get(m.quote.id) : undefined}
            nameOf={nameOf}
            actions={actions}
            disabled={readOnly}
            online={online}
            showAuthor={groupContext.authorShown.has(keyOf(m))}
            systemContext={systemContextOf(m)}
          />
        ))}
      </ol>

      {error && (pending || request || blocked) && (
        <p className="error bar-error" role="alert">
          {error}
        </p>
      )}
      {!snapshot.listed ? null : pending ? (
        <ConfirmBar pending={pending} onDone={() => setPending(undefined)} />
      ) : request ? (
        <RequestBar
          messenger={messenger}
          peer={peer}
          name={name}
          group={group}
          adder={group && snapshot.addedBy.has(peer) ? nameOf(snapshot.addedBy.get(peer) ?? '') : undefined}
        />
      ) : blocked ? (
        <BlockedBar messenger={messenger} peer={peer} name={name} />
      ) : (
        <form className="composer" onSubmit={(e) => void send(e)} aria-label="Write a message">
          {error && (
            <p className="error" role="alert">
              {error}
            </p>
          )}
          {!member && (
            <p className="help" data-testid="not-a-member">
              You are no longer in this group: its history stays here, but you cannot write in it or read what is said now.
            </p>
          )}
          {(replyTo || editing) && (
            <div className="compose-context">
              <span>
                {editing ? 'Editing your message' : `Replying to ${replyTo?.author === me ? 'yourself' : nameOf(replyTo?.author ?? '')}`}
                {replyTo?.body ? `: ${replyTo.body.slice(0, 80)}` : ''}
              </span>
              <button type="button" className="icon-button small" onClick={cancelCompose} aria-label={editing ? 'Cancel editing' : 'Cancel reply'}>
                <Icon name="close" size={16} />
              </button>
            </div>
          )}
          {file && (
            <div className="compose-context">
              <span>
                <Icon name="attach" size={16} /> {file.name} ({formatBytes(file.size)})
              </span>
              <button type="button" className="icon-button small" onClick={() => setFile(undefined)} aria-label="Remove attachment">
                <Icon name="close" size={16} />
              </button>
            </div>
          )}
          {upload && (
            <div className="compose-context" role="status">
              <span>Uploading {upload.name}…</span>
              <progress value={upload.sent} max={upload.total || 1} aria-label={`Uploading ${upload.name}`} />
            </div>
          )}
          <div className="compose-row">
            <input ref={fileInput} type="file" className="visually-hidden" tabIndex={-1} onChange={onPick} aria-label="Attach a file" data-testid="file-input" />
            <button type="button" className="icon-button" onClick={() => fileInput.current?.click()} aria-label="Attach a file" disabled={readOnly || editing !== undefined}>
              <Icon name="attach" />
            </button>
            <textarea
              ref={composer}
              rows={1}
              value={draft}
              onChange={onDraft}
              onKeyDown={onComposerKey}
              placeholder={!member ? 'You are no longer in this group' : readOnly ? 'This browser cannot send now' : online ? 'Message' : 'Message (sent when back online)'}
              aria-label="Message"
              disabled={readOnly}
            />
            <button type="submit" className="primary" disabled={readOnly || upload !== undefined}>
              {editing ? 'Save' : 'Send'}
            </button>
          </div>
        </form>
      )}
    </section>
  );
}
