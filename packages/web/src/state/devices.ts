/**
 * This account's devices, as the Devices screen shows them: the list (read from the server), removing another
 * device, and adding one by the code it shows (the account's keys go to it end-to-end encrypted).
 */
import { useCallback, useEffect, useState } from 'react';
import type { DeviceInfo } from '@samizdat/client';
import { useActions } from './actions.js';
import type { ActionState } from './actions.js';
import type { Messenger } from './messenger.js';

/** After the keys went out, the new device registers itself: the list is read again this much later. */
const RELIST_AFTER_ADD_MS = 2000;

export interface Devices extends ActionState {
  /** Undefined until the server answered. */
  readonly devices: readonly DeviceInfo[] | undefined;
  /** The keys went to a new device (it finishes linking by itself). */
  readonly added: boolean;
  remove(deviceId: number): void;
  /** Resolves to whether the keys went out. */
  add(code: string): Promise<boolean>;
}

export function useDevices(messenger: Messenger): Devices {
  const client = messenger.client;
  const { pending, error, run, fail } = useActions();
  const [devices, setDevices] = useState<readonly DeviceInfo[]>();
  const [added, setAdded] = useState(false);

  const load = useCallback(async () => {
    try {
      setDevices(await client.devices());
    } catch (err) {
      fail(err);
    }
  }, [client, fail]);
  useEffect(() => void load(), [load]);

  const remove = (deviceId: number) =>
    void run('remove', async () => {
      await client.removeDevice(deviceId);
      await load();
    });

  const add = async (code: string) => {
    setAdded(false);
    const outcome = await run('add', () => client.addDevice(code));
    if (outcome.ok) {
      setAdded(true);
      setTimeout(() => void load(), RELIST_AFTER_ADD_MS);
    }
    return outcome.ok;
  };

  return { devices, added, pending, error, remove, add };
}
