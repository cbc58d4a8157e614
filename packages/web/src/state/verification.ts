/**
 * Safety numbers: the one of this account and a contact (the SDK's), comparing the other side's scannable code with
 * it (the CLI's `verify --compare` takes the same base64url code), and marking the contact verified or not.
 */
import { useCallback, useEffect, useState } from 'react';
import type { SafetyNumberView } from '@samizdat/client';
import { compareScannable } from '@samizdat/protocol';
import { useActions } from './actions.js';
import type { ActionState } from './actions.js';
import { fromBase64Url } from './encoding.js';
import type { Messenger } from './messenger.js';

export interface SafetyNumber extends ActionState {
  /** Undefined until it is read. */
  readonly view: SafetyNumberView | undefined;
  mark(verified: boolean): Promise<void>;
}

/** Whether `code` (base64url, typed or scanned) is the other side's form of this safety number. */
export function matchesCode(view: SafetyNumberView, code: string): boolean {
  const bytes = fromBase64Url(code);
  try {
    return bytes !== undefined && compareScannable(view.scannable, bytes);
  } catch {
    return false;
  }
}

export function useSafetyNumber(messenger: Messenger, peer: string): SafetyNumber {
  const client = messenger.client;
  const { pending, error, run, fail } = useActions();
  const [view, setView] = useState<SafetyNumberView>();

  const load = useCallback(async () => {
    try {
      setView(await client.safetyNumber(peer));
    } catch (err) {
      fail(err);
    }
  }, [client, peer, fail]);
  useEffect(() => void load(), [load]);

  const mark = async (verified: boolean) => {
    // The mark is announced ('contact-changed'): the conversation's header reads it from the contacts.
    await run('mark', async () => {
      await client.markVerified(peer, verified);
      await Promise.all([load(), messenger.settled()]);
    });
  };
  return { view, pending, error, mark };
}
