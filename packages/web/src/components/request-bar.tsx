/**
 * What a conversation shows instead of the composer while the user has not decided about it, as Signal does: the
 * request bar ("alice wants to message you": Accept, Delete, Block), the blocked bar ("You blocked alice": Unblock),
 * and the confirmation of a delete or a block. A deleted conversation closes by itself (ConversationScreen listens
 * for the SDK's 'conversation-changed'), so nothing here navigates.
 */
import { useState } from 'react';
import { useActions } from '../state/actions.js';
import type { Messenger } from '../state/messenger.js';
import { acceptRequest, blockConversation, deleteConversation, unblock } from '../state/requests.js';

/** A decision waiting for the user's "yes". */
export interface PendingDecision {
  /** The bar's accessible name. */
  readonly label: string;
  readonly question: string;
  readonly detail: string;
  /** The confirming button's text (its accessible name too). */
  readonly confirm: string;
  readonly run: () => Promise<void>;
}

/** A bar's one decision at a time: `after` runs once it is done. */
function useDecision() {
  const { pending, error, run: start } = useActions();
  const run = (work: () => Promise<void>, after?: () => void) =>
    void start('decide', work).then((outcome) => {
      if (outcome.ok) after?.();
    });
  return { busy: pending.size > 0, error, run };
}

function ErrorLine({ error }: { error: string | undefined }) {
  return error ? (
    <p className="error" role="alert">
      {error}
    </p>
  ) : null;
}

/** "Block alice?" with Yes and Cancel. */
export function ConfirmBar({ pending, onDone }: { pending: PendingDecision; onDone: () => void }) {
  const { busy, error, run } = useDecision();
  return (
    <section className="request-bar" aria-label={pending.label}>
      <p className="request-question">{pending.question}</p>
      <p className="help">{pending.detail}</p>
      <ErrorLine error={error} />
      <div className="row center">
        <button type="button" className="danger" onClick={() => run(pending.run, onDone)} disabled={busy} autoFocus>
          {pending.confirm}
        </button>
        <button type="button" onClick={onDone} disabled={busy}>
          Cancel
        </button>
      </div>
    </section>
  );
}

/** Decisions about a person, for the request bar and the conversation menu. */
export function blockPerson(messenger: Messenger, peer: string, name: string): PendingDecision {
  return {
    label: `Block ${name}`,
    question: `Block ${name}?`,
    detail: 'Blocked people cannot message you or add you to groups, and nothing of yours is sent to them. Your history with them stays.',
    confirm: `Yes, block ${name}`,
    run: () => blockConversation(messenger, peer),
  };
}

export function deleteChat(messenger: Messenger, peer: string, name: string, request: boolean): PendingDecision {
  return {
    label: request ? 'Delete this request' : 'Delete this chat',
    question: request ? `Delete the request from ${name}?` : `Delete your chat with ${name}?`,
    detail: request
      ? `Its messages are deleted on all your devices. ${name} is not blocked: what they send next is a new request.`
      : `Its messages are deleted on all your devices, and what ${name} sends next arrives as a message request.`,
    confirm: 'Yes, delete',
    run: () => deleteConversation(messenger, peer),
  };
}

/**
 * The request bar of a person's chat or a group someone added us to. A group's Block blocks whoever added us and
 * leaves the group (groups themselves are not blocked).
 */
export function RequestBar({
  messenger,
  peer,
  name,
  group,
  adder,
}: {
  messenger: Messenger;
  peer: string;
  /** The person's or the group's name. */
  name: string;
  group: boolean;
  /** For a group: the name of who added us, if known. */
  adder: string | undefined;
}) {
  const [pending, setPending] = useState<PendingDecision>();
  const { busy, error, run } = useDecision();
  if (pending) return <ConfirmBar pending={pending} onDone={() => setPending(undefined)} />;

  const leave: PendingDecision = {
    label: 'Delete this request',
    question: `Leave “${name}” and delete it?`,
    detail: 'You leave the group, and its messages are deleted on all your devices.',
    confirm: 'Yes, leave and delete',
    run: () => deleteConversation(messenger, peer),
  };
  const blockAdder: PendingDecision | undefined =
    adder === undefined
      ? undefined
      : {
          label: `Block ${adder}`,
          question: `Block ${adder} and leave “${name}”?`,
          detail: `${adder} cannot message you or add you to groups any more, and nothing of yours is sent to them. You leave the group and its messages are deleted on all your devices.`,
          confirm: `Yes, block ${adder}`,
          run: () => blockConversation(messenger, peer),
        };
  return (
    <section className="request-bar" aria-label="Message request">
      <p className="request-question">{group ? `${adder ?? 'Someone'} added you to ${name}.` : `${name} wants to message you.`}</p>
      <p className="help">
        {group
          ? 'Accept to join in. Until then, nobody in the group is told that you have read their messages.'
          : 'Accept to chat with them. Until then, they are not told that you have read their messages, and their typing is not shown.'}
      </p>
      <ErrorLine error={error} />
      <div className="row center">
        <button type="button" className="danger" onClick={() => setPending(group ? leave : deleteChat(messenger, peer, name, true))} disabled={busy}>
          Delete
        </button>
        {(!group || blockAdder) && (
          <button type="button" className="danger" onClick={() => setPending(group ? blockAdder : blockPerson(messenger, peer, name))} disabled={busy}>
            Block
          </button>
        )}
        <button type="button" className="primary" onClick={() => run(() => acceptRequest(messenger, peer))} disabled={busy}>
          Accept
        </button>
      </div>
    </section>
  );
}

/** A blocked person's chat: its history, and Unblock. */
export function BlockedBar({ messenger, peer, name }: { messenger: Messenger; peer: string; name: string }) {
  const { busy, error, run } = useDecision();
  return (
    <section className="request-bar" aria-label="Blocked">
      <p className="request-question">You blocked {name}.</p>
      <p className="help">They cannot message you or add you to groups, and nothing of yours is sent to them.</p>
      <ErrorLine error={error} />
      <div className="row center">
        <button type="button" className="primary" onClick={() => run(() => unblock(messenger, peer))} disabled={busy}>
          Unblock
        </button>
      </div>
    </section>
  );
}
