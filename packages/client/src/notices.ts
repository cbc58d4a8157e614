/** The lines a conversation shows for what happened (not messages anyone wrote): identity changes, failures. */
import { toHex } from '@samizdat/protocol';
import type { CryptoProvider } from '@samizdat/protocol';
import type { MessageRecord } from './storage/store.js';

/** A system line of `conversation`, dated `timestamp` (when it happened) and stored at `receivedAt`. */
export function systemNotice(
  crypto: CryptoProvider,
  receivedAt: number,
  conversation: string,
  author: string,
  device: number,
  timestamp: number,
  event: NonNullable<MessageRecord['event']>,
): MessageRecord {
  return {
    conversation,
    id: toHex(crypto.randomBytes(16)),
    author,
    authorDevice: device,
    timestamp,
    receivedAt,
    direction: 'incoming',
    kind: 'system',
    event,
    status: 'received',
  };
}
