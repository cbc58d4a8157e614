import type { Content } from '../content/content.js';
import type { MessageRecord } from '../storage/store.js';

/** The content of one of our stored messages, to send it (again) with the same id: a pending send, a resend. */
export function messageContentOf(m: MessageRecord): Content {
  return {
    type: 'message',
    id: m.id,
    timestamp: m.timestamp,
    ...(m.body !== undefined ? { body: m.body } : {}),
    ...(m.attachments?.length ? { attachments: [...m.attachments] } : {}),
    ...(m.quote ? { quote: { id: m.quote.id, author: m.quote.author } } : {}),
    ...(m.expireTimer ? { expireTimer: m.expireTimer } : {}),
  };
}
