/** What the connection to the server is doing, always visible when it is not simply "connected". */
import type { Messenger } from '../state/messenger.js';
import { useMessenger } from '../state/messenger.js';

export function ConnectionBanner({ messenger, onErase }: { messenger: Messenger; onErase: () => void }) {
  const { connection, browserOnline, synced } = useMessenger(messenger);
  const reconnect = () => void messenger.reconnect().catch(() => undefined);
  let tone: 'ok' | 'warn' | 'bad' = 'ok';
  let text: string;
  let action: { label: string; run: () => void } | undefined;
  if (connection === 'removed') {
    tone = 'bad';
    text = 'This browser was removed from your account. It no longer receives messages.';
    action = { label: 'Erase this browser’s data', run: onErase };
  } else if (connection === 'unauthorized') {
    tone = 'bad';
    text = 'The server no longer accepts this device (the account may have been deleted).';
    action = { label: 'Erase this browser’s data', run: onErase };
  } else if (connection === 'replaced') {
    tone = 'warn';
    text = 'Samizdat is open in another tab or window of this browser.';
    action = { label: 'Use here', run: reconnect };
  } else if (!browserOnline || connection === 'backoff') {
    tone = 'warn';
    text = 'Offline. Your history is here; messages you send now go out when the connection returns.';
    action = { label: 'Retry now', run: reconnect };
  } else if (connection === 'connecting' || connection === 'idle') {
    text = 'Connecting…';
  } else if (connection === 'open' && !synced) {
    text = 'Receiving messages…';
  } else {
    return (
      <div className="connection" data-state="online" role="status">
        <span className="visually-hidden">Connected</span>
      </div>
    );
  }
  return (
    <div className={`connection banner ${tone}`} data-state={tone === 'ok' ? connection : !browserOnline ? 'offline' : connection} role="status">
      <span>{text}</span>
      {action && (
        <button type="button" className="link-button" onClick={action.run}>
          {action.label}
        </button>
      )}
    </div>
  );
}
