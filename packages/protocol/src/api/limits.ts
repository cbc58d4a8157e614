/**
 * Limits both sides of the contract enforce (docs/api.md): the client checks a request against them before it
 * leaves, the server refuses one past them.
 */
export { MAX_ACK_IDS, MAX_SEND_COPIES } from '../wire/frames.js';

/** The longest a long-poll (GET /v1/messages?wait=) may wait, in seconds. */
export const MAX_WAIT_SECONDS = 60;
/** Prekeys of one kind in one upload (PUT /v1/keys). */
export const MAX_KEYS_PER_UPLOAD = 100;
