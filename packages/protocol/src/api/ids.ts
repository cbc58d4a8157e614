/**
 * The identifiers of the client–server contract (docs/api.md), one definition for the server's schemas, the
 * client's checks of what it sends and receives, and message content.
 */

/** An account id: 16 random bytes as 32 lowercase hex characters. */
export const ACCOUNT_ID_PATTERN = /^[0-9a-f]{32}$/;
/** An MLS group id (also the group conversation's id): 32 bytes as 64 lowercase hex characters. */
export const GROUP_ID_PATTERN = /^[0-9a-f]{64}$/;
/** A message id, chosen by its author: 16 random bytes as 32 lowercase hex characters. */
export const MESSAGE_ID_PATTERN = /^[0-9a-f]{32}$/;
/** An attachment (blob) id: the SHA-256 the server names it by, 64 lowercase hex characters. */
export const ATTACHMENT_ID_PATTERN = /^[0-9a-f]{64}$/;
/** Usernames: 3–32 letters, digits, "_" or ".", starting with a letter; compared case-insensitively. */
export const USERNAME_PATTERN = /^[A-Za-z][A-Za-z0-9_.]{2,31}$/;

/** Device ids within an account. */
export const MIN_DEVICE_ID = 1;
export const MAX_DEVICE_ID = 9999;
/** A device's registration id (Signal's): 1 to 2^31 − 1. */
export const MIN_REGISTRATION_ID = 1;
export const MAX_REGISTRATION_ID = 0x7fffffff;
/** Prekey ids are unsigned 32-bit. */
export const MAX_KEY_ID = 0xffffffff;

export function isAccountId(value: unknown): boolean {
  return typeof value === 'string' && ACCOUNT_ID_PATTERN.test(value);
}

export function isGroupId(value: unknown): boolean {
  return typeof value === 'string' && GROUP_ID_PATTERN.test(value);
}

export function isDeviceId(value: unknown): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= MIN_DEVICE_ID && value <= MAX_DEVICE_ID;
}
