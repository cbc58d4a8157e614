/**
 * Settings: the display name and theme (kept in this browser), sealed sender (who may write to the account without
 * the server learning who they are, and whether this browser falls back to identified sends), who is blocked
 * (unblocking applies on every device of the account), the account, and erasing this browser's data.
 */
import { useEffect, useState } from 'react';
import type { SealedSenderSettings } from '@samizdat/client';
import type { FormEvent } from 'react';
import { Icon } from '../components/icons.js';
import { Link } from '../components/link.js';
import { useActions } from '../state/actions.js';
import { pictureUrl } from '../state/avatars.js';
import type { Messenger } from '../state/messenger.js';
import { blockedOf, useMessenger } from '../state/messenger.js';
import { unblock } from '../state/requests.js';
import { saveSettings, useSettings } from '../state/settings.js';
import type { Theme } from '../state/settings.js';

const THEMES: readonly { readonly value: Theme; readonly label: string }[] = [
  { value: 'system', label: 'Like the system' },
  { value: 'light', label: 'Light' },
  { value: 'dark', label: 'Dark' },
];

export function SettingsScreen({ messenger, onErase }: { messenger: Messenger; onErase: () => void }) {
  const settings = useSettings();
  const snapshot = useMessenger(messenger);
  const account = messenger.account;
  const blocked = blockedOf(snapshot, (id) => messenger.nameOf(id));
  const unblocking = useActions();
  const blockError = unblocking.error;
  const [unblocked, setUnblocked] = useState<string>();
  const onUnblock = async (accountId: string) => {
    const name = messenger.nameOf(accountId);
    setUnblocked(undefined);
    const outcome = await unblocking.run(accountId, () => unblock(messenger, accountId));
    if (outcome.ok) setUnblocked(`Unblocked ${name}.`);
  };
  const [name, setName] = useState(settings.displayName);
  const [about, setAbout] = useState('');
  const [avatar, setAvatar] = useState<{ bytes: number; url: string | undefined } | undefined>();
  // The object URL of the picture shown is let go when another replaces it, or the screen closes.
  useEffect(() => () => {
    if (avatar?.url) URL.revokeObjectURL(avatar.url);
  }, [avatar]);
  const [picture, setPicture] = useState<File | null | undefined>();
  const [saved, setSaved] = useState(false);
  const [profileError, setProfileError] = useState<string>();
  const [erasing, setErasing] = useState(false);
  // The encrypted profile (docs/protocol.md "Profiles"): what this account's devices put on the server.
  useEffect(() => {
    let live = true;
    void messenger.client.profile().then(
      (p) => {
        if (!live) return;
        if (p.name !== undefined) setName(p.name);
        setAbout(p.about ?? '');
        setAvatar(p.avatar ? { bytes: p.avatar.length, url: pictureUrl(p.avatar) } : undefined);
      },
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [messenger]);
  const save = (event: FormEvent) => {
    event.preventDefault();
    setSaved(false);
    setProfileError(undefined);
    void (async () => {
      try {
        const avatarChange = picture === undefined ? {} : { avatar: picture === null ? null : new Uint8Array(await picture.arrayBuffer()) };
        const stored = await messenger.client.setProfile({ name: name.trim() === '' ? null : name, about: about.trim() === '' ? null : about, ...avatarChange });
        saveSettings({ displayName: stored.name ?? '' });
        setAvatar(stored.avatar ? { bytes: stored.avatar.length, url: pictureUrl(stored.avatar) } : undefined);
        setPicture(undefined);
        setSaved(true);
      } catch (err) {
        setProfileError(err instanceof Error ? err.message : 'The profile could not be saved.');
      }
    })();
  };
  const [sealed, setSealed] = useState<SealedSenderSettings>();
  const [sealedError, setSealedError] = useState<string>();
  const [receipts, setReceipts] = useState<boolean>();
  // The privacy settings live in the client's store: read once per messenger (not after the screen is gone).
  useEffect(() => {
    let live = true;
    void messenger.client.sealedSenderSettings().then((s) => live && setSealed(s));
    void messenger.client.deliveryReceipts().then((on) => live && setReceipts(on));
    return () => {
      live = false;
    };
  }, [messenger]);
  const changeReceipts = (on: boolean) => {
    setReceipts(on);
    void messenger.client.setDeliveryReceipts(on).catch(() => setReceipts(!on));
  };
  const changeSealed = (change: Partial<SealedSenderSettings>) => {
    setSealedError(undefined);
    if (sealed) setSealed({ ...sealed, ...change });
    messenger.client.setSealedSenderSettings(change).then(setSealed, () => setSealedError('Saved here; the server is told when it can be reached.'));
  };
  return (
    <section className="page" aria-labelledby="settings-title">
      <header className="pane-header">
        <Link to={{ name: 'chats' }} className="icon-button back" label="Back to chats">
          <Icon name="back" />
        </Link>
        <h2 id="settings-title">Settings</h2>
      </header>
      <div className="page-body">
        <form className="card" onSubmit={save}>
          <h3>Profile</h3>
          <label htmlFor="display-name">Display name</label>
          <input
            id="display-name"
            value={name}
            maxLength={100}
            onChange={(e) => {
              setName(e.target.value);
              setSaved(false);
            }}
            aria-describedby="display-name-help"
          />
          <label htmlFor="profile-about">About</label>
          <input
            id="profile-about"
            value={about}
            maxLength={500}
            onChange={(e) => {
              setAbout(e.target.value);
              setSaved(false);
            }}
          />
          <label htmlFor="profile-picture">Profile picture</label>
          <input
            id="profile-picture"
            type="file"
            accept="image/*"
            onChange={(e) => {
              setPicture(e.target.files?.[0] ?? undefined);
              setSaved(false);
            }}
          />
          {avatar && picture === undefined && (
            <p className="help profile-picture">
              {avatar.url && (
                <span className="avatar large picture">
                  <img src={avatar.url} alt="Your profile picture" />
                </span>
              )}
              A picture of {Math.ceil(avatar.bytes / 1024)} KiB is set.{' '}
              <button type="button" onClick={() => setPicture(null)}>
                Remove picture
              </button>
            </p>
          )}
          <p id="display-name-help" className="help">
            The people and groups you talk with see these, next to your username ({account.username ?? 'none'}); the server
            stores them encrypted and cannot read them.
          </p>
          <button type="submit" className="primary">
            Save
          </button>
          {saved && <span role="status"> Saved.</span>}
          {profileError && <p role="alert">{profileError}</p>}
        </form>

        <fieldset className="card">
          <legend>Theme</legend>
          {THEMES.map((t) => (
            <label key={t.value} className="radio">
              <input type="radio" name="theme" value={t.value} checked={settings.theme === t.value} onChange={() => saveSettings({ theme: t.value })} />
              {t.label}
            </label>
          ))}
        </fieldset>

        <fieldset className="card" aria-describedby="sealed-help">
          <legend>Privacy</legend>
          <p id="sealed-help" className="help">
            A sealed message hides who sent it from the server. Your contacts have your profile key and can always write to you sealed.
          </p>
          <label className="radio">
            <input type="radio" name="sealed-from" checked={sealed?.mode === 'anyone'} disabled={!sealed} onChange={() => changeSealed({ mode: 'anyone' })} />
            Sealed from anyone (strangers too)
          </label>
          <label className="radio">
            <input type="radio" name="sealed-from" checked={sealed?.mode === 'contacts'} disabled={!sealed} onChange={() => changeSealed({ mode: 'contacts' })} />
            Sealed from contacts only
          </label>
          <label className="radio">
            <input type="checkbox" checked={sealed?.allowIdentified ?? false} disabled={!sealed} onChange={(e) => changeSealed({ allowIdentified: e.target.checked })} />
            Send identified when a message cannot be sealed (else it is not sent)
          </label>
          <label className="radio">
            <input type="checkbox" checked={receipts ?? false} disabled={receipts === undefined} onChange={(e) => changeReceipts(e.target.checked)} />
            Send delivery receipts (a few seconds late, so that the server cannot match them to the message)
          </label>
          {sealedError && (
            <p className="error" role="alert">
              {sealedError}
            </p>
          )}
        </fieldset>

        <section className="card" aria-labelledby="blocked-title">
          <h3 id="blocked-title">Blocked</h3>
          {blocked.length === 0 ? (
            <p className="help">Nobody is blocked. Block someone from their message request, or from their chat’s options (⋯).</p>
          ) : (
            <>
              <p className="help">They cannot message you or add you to groups, and nothing of yours is sent to them.</p>
              <ul className="member-list" aria-label="Blocked people">
                {blocked.map((c) => {
                  const who = messenger.nameOf(c.accountId);
                  return (
                    <li key={c.accountId} data-blocked={who}>
                      <div>
                        <strong>{who}</strong>
                      </div>
                      <div className="member-actions">
                        <button type="button" onClick={() => void onUnblock(c.accountId)} disabled={unblocking.pending.size > 0} aria-label={`Unblock ${who}`}>
                          Unblock
                        </button>
                      </div>
                    </li>
                  );
                })}
              </ul>
            </>
          )}
          {blockError && (
            <p className="error" role="alert">
              {blockError}
            </p>
          )}
          <p className="status-line" role="status">
            {unblocked}
          </p>
        </section>

        <section className="card" aria-labelledby="account-title">
          <h3 id="account-title">Account</h3>
          <dl className="facts">
            <dt>Username</dt>
            <dd>{account.username ?? '—'}</dd>
            <dt>Account id</dt>
            <dd>
              <code>{account.accountId}</code>
            </dd>
            <dt>This device</dt>
            <dd>{account.deviceId}</dd>
            <dt>Server</dt>
            <dd>{account.serverUrl}</dd>
          </dl>
        </section>

        <section className="card danger-zone" aria-labelledby="erase-title">
          <h3 id="erase-title">Erase this browser’s data</h3>
          <p className="help">
            Deletes this browser’s keys and history. Remove this device from another of your devices first; if this is your only device, the account
            cannot be used again.
          </p>
          {erasing ? (
            <div className="row">
              <button type="button" className="danger" onClick={onErase}>
                Erase everything here
              </button>
              <button type="button" onClick={() => setErasing(false)}>
                Cancel
              </button>
            </div>
          ) : (
            <button type="button" className="danger" onClick={() => setErasing(true)}>
              Erase…
            </button>
          )}
        </section>
      </div>
    </section>
  );
}
