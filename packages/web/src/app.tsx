/**
 * The app: opens this browser's profile, then either the welcome screen (no account yet) or the messenger — the
 * chat list beside the current screen on wide windows, one of them at a time on a phone.
 */
import { useCallback, useEffect, useState } from 'react';
import type { Client, ClientOptions, ClientStore } from '@samizdat/client';
import { ConnectionBanner } from './components/connection-banner.js';
import { describeError } from './state/errors.js';
import { Messenger, chatsOf, stateOf, useMessenger } from './state/messenger.js';
import { navigate, useRoute } from './state/router.js';
import { eraseProfile, openAccount, openProfile } from './state/session.js';
import { clearSettings } from './state/settings.js';
import { ChatList } from './screens/chat-list.js';
import { ConversationScreen } from './screens/conversation-screen.js';
import { DevicesScreen } from './screens/devices-screen.js';
import { GroupInfoScreen } from './screens/group-info-screen.js';
import { NewChatScreen } from './screens/new-chat-screen.js';
import { NewGroupScreen } from './screens/new-group-screen.js';
import { RequestsScreen } from './screens/requests-screen.js';
import { SettingsScreen } from './screens/settings-screen.js';
import { VerifyScreen } from './screens/verify-screen.js';
import { WelcomeScreen } from './screens/welcome-screen.js';

type Boot =
  | { readonly state: 'loading' }
  | { readonly state: 'welcome'; readonly options: ClientOptions }
  | { readonly state: 'ready'; readonly messenger: Messenger }
  | { readonly state: 'failed'; readonly message: string };

export function App() {
  const [boot, setBoot] = useState<Boot>({ state: 'loading' });

  const startMessenger = useCallback(async (client: Client, store: ClientStore) => {
    const messenger = new Messenger(client, store);
    setBoot({ state: 'ready', messenger });
    await messenger.start();
  }, []);

  useEffect(() => {
    void (async () => {
      try {
        const options = await openProfile();
        const client = await openAccount(options);
        if (client) await startMessenger(client, options.store);
        else setBoot({ state: 'welcome', options });
      } catch (err) {
        setBoot({ state: 'failed', message: describeError(err) });
      }
    })();
  }, [startMessenger]);

  const erase = useCallback(async () => {
    if (boot.state === 'ready') await boot.messenger.close().catch(() => undefined);
    await eraseProfile().catch(() => undefined);
    clearSettings();
    navigate({ name: 'chats' }, { replace: true });
    location.reload();
  }, [boot]);

  switch (boot.state) {
    case 'loading':
      return (
        <p className="splash" role="status">
          Opening Samizdat…
        </p>
      );
    case 'failed':
      return (
        <main className="splash">
          <h1>Samizdat cannot open here</h1>
          <p role="alert">{boot.message}</p>
          <p>This browser must allow storage (IndexedDB) for this site; private windows of some browsers do not.</p>
        </main>
      );
    case 'welcome':
      return <WelcomeScreen options={boot.options} onReady={(client) => void startMessenger(client, boot.options.store).catch(() => undefined)} />;
    case 'ready':
      return <Shell messenger={boot.messenger} onErase={() => void erase()} />;
  }
}

function Shell({ messenger, onErase }: { messenger: Messenger; onErase: () => void }) {
  const route = useRoute();
  const snapshot = useMessenger(messenger);
  // Message requests never count as unread (nor do blocked chats): only the chats the user talks in.
  const unread = chatsOf(snapshot).reduce((sum, c) => sum + c.unread, 0);
  useEffect(() => {
    document.title = unread > 0 ? `(${unread}) Samizdat` : 'Samizdat';
  }, [unread]);
  const activePeer = route.name === 'chat' ? route.peer : route.name === 'group' ? route.group : undefined;
  const requestsActive = route.name === 'requests' || (route.name === 'chat' && stateOf(snapshot, route.peer) === 'request');
  let detail;
  switch (route.name) {
    case 'chat':
      detail = <ConversationScreen key={route.peer} messenger={messenger} peer={route.peer} />;
      break;
    case 'requests':
      detail = <RequestsScreen messenger={messenger} />;
      break;
    case 'new':
      detail = <NewChatScreen messenger={messenger} />;
      break;
    case 'new-group':
      detail = <NewGroupScreen messenger={messenger} />;
      break;
    case 'group':
      detail = <GroupInfoScreen key={route.group} messenger={messenger} groupId={route.group} />;
      break;
    case 'devices':
      detail = <DevicesScreen messenger={messenger} />;
      break;
    case 'settings':
      detail = <SettingsScreen messenger={messenger} onErase={onErase} />;
      break;
    case 'verify':
      detail = <VerifyScreen key={route.peer} messenger={messenger} peer={route.peer} />;
      break;
    default:
      detail = (
        <div className="placeholder">
          <p>Pick a chat, or start a new one or a group.</p>
          <p className="help">Messages are end-to-end encrypted: only you and the people you write to can read them.</p>
        </div>
      );
  }
  return (
    <div className="shell" data-view={route.name === 'chats' ? 'list' : 'detail'}>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <ConnectionBanner messenger={messenger} onErase={onErase} />
      <div className="panes">
        <aside className="sidebar">
          <ChatList messenger={messenger} activePeer={activePeer} requestsActive={requestsActive} />
        </aside>
        <main className="main" id="main">
          {detail}
        </main>
      </div>
    </div>
  );
}
