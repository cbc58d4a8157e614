/**
 * This account's devices: list them, remove another one, and add one: the new device (a browser on the welcome
 * screen, or `samizdat link`) shows a code, which is scanned or pasted here.
 */
import { useCallback, useState } from 'react';
import type { FormEvent } from 'react';
import { CodeScanner, canScan } from '../components/code-scanner.js';
import { Icon } from '../components/icons.js';
import { Link } from '../components/link.js';
import { useDevices } from '../state/devices.js';
import { fullTime } from '../state/format.js';
import type { Messenger } from '../state/messenger.js';

export function DevicesScreen({ messenger }: { messenger: Messenger }) {
  const { devices, error, pending, added, remove: removeDevice, add: addDevice } = useDevices(messenger);
  const thisDevice = messenger.account.deviceId;
  const adding = pending.has('add');
  const [confirming, setConfirming] = useState<number>();
  const [code, setCode] = useState('');
  const [scanning, setScanning] = useState(false);

  const remove = (deviceId: number) => {
    setConfirming(undefined);
    removeDevice(deviceId);
  };

  const add = async (event?: FormEvent, scanned?: string) => {
    event?.preventDefault();
    const value = (scanned ?? code).trim();
    if (!value) return;
    if (await addDevice(value)) setCode('');
  };
  const onScanned = useCallback((value: string) => {
    setScanning(false);
    setCode(value);
  }, []);

  return (
    <section className="page" aria-labelledby="devices-title">
      <header className="pane-header">
        <Link to={{ name: 'chats' }} className="icon-button back" label="Back to chats">
          <Icon name="back" />
        </Link>
        <h2 id="devices-title">Devices</h2>
      </header>
      <div className="page-body">
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <section className="card" aria-labelledby="device-list-title">
          <h3 id="device-list-title">Your devices</h3>
          <p className="help">Every message you send or receive is encrypted separately for each of them.</p>
          {devices === undefined ? (
            <p role="status">Loading…</p>
          ) : (
            <ul className="device-list">
              {devices.map((d) => (
                <li key={d.deviceId} data-device-id={d.deviceId}>
                  <div>
                    <strong>
                      Device {d.deviceId}
                      {d.deviceId === thisDevice ? ' (this browser)' : ''}
                    </strong>
                    <span className="help">
                      Added {fullTime(d.createdAt)} · last seen {fullTime(d.lastSeenAt)}
                    </span>
                  </div>
                  {d.deviceId !== thisDevice &&
                    (confirming === d.deviceId ? (
                      <span className="confirm">
                        <button type="button" className="danger" onClick={() => remove(d.deviceId)}>
                          Yes, remove device {d.deviceId}
                        </button>
                        <button type="button" onClick={() => setConfirming(undefined)}>
                          Cancel
                        </button>
                      </span>
                    ) : (
                      <button type="button" onClick={() => setConfirming(d.deviceId)} aria-label={`Remove device ${d.deviceId}`}>
                        Remove
                      </button>
                    ))}
                </li>
              ))}
            </ul>
          )}
        </section>
        <section className="card" aria-labelledby="add-device-title">
          <h3 id="add-device-title">Add a device</h3>
          <p className="help">
            On the new device, open this site and choose “Link this browser” (or run <code>samizdat link</code>). It shows a code: scan it or paste it
            here. Your account’s keys go to it end-to-end encrypted; the server cannot read them.
          </p>
          {scanning && <CodeScanner onCode={onScanned} onClose={() => setScanning(false)} />}
          <form onSubmit={(e) => void add(e)}>
            <label htmlFor="device-code">Code from the new device</label>
            <textarea id="device-code" rows={2} spellCheck={false} value={code} onChange={(e) => setCode(e.target.value)} />
            <div className="row">
              {canScan() && !scanning && (
                <button type="button" onClick={() => setScanning(true)}>
                  Scan QR code
                </button>
              )}
              <button type="submit" className="primary" disabled={adding || code.trim() === ''}>
                {adding ? 'Sending keys…' : 'Add device'}
              </button>
            </div>
          </form>
          {added && <p role="status">Keys sent. The new device finishes linking by itself.</p>}
        </section>
      </div>
    </section>
  );
}
