/**
 * Message content: everything a message carries (text, attachments, edits, reactions, receipts, sync copies…),
 * encoded here and handed to the Double Ratchet as its plaintext. The server never sees any of it.
 *
 * Encoding: one version byte (CONTENT_VERSION = 1), then UTF-8 JSON (RFC 8259) of one object whose `type` names the
 * kind of content. Binary fields (an attachment's key and digest) are standard base64 with padding (RFC 4648 §4).
 * Why JSON: it is inspectable (a developer can read a decrypted message in a debugger or a bug report), extensible
 * (a new kind of content or a new optional field is a schema change, not a new framing), needs no code generator,
 * and the size cost is irrelevant next to the padding and the ratchet overhead. What a binary format would give for
 * free — no unknown fields, bounded sizes, exact types — comes from strict validation instead:
 * - the version byte first: any other version is INVALID_CONTENT before anything else is read;
 * - the bytes must be valid UTF-8 (no BOM) holding exactly one JSON object, at most MAX_CONTENT_BYTES in all;
 * - every object has exactly its known fields: an unknown field (`__proto__` included), a missing required field, a
 *   `null`, or a value of the wrong type or out of range is INVALID_CONTENT. A later version that adds fields bumps
 *   CONTENT_VERSION, so an old client refuses it outright instead of silently dropping what it cannot show;
 * - ids (ours: 16 random bytes; account ids) are 32 lowercase hex characters; blob ids 64; timestamps are
 *   non-negative safe integers (milliseconds since the Unix epoch); strings are well-formed UTF-16 (no lone
 *   surrogates, so they survive UTF-8) and bounded in UTF-8 bytes; single-line strings have no control characters;
 * - decoded values are fresh objects built field by field, never the parsed JSON itself, so nothing from the wire
 *   can reach an object's prototype.
 * JSON.parse keeps the last of duplicate keys; every client decodes with this function, so all agree on the result.
 *
 * Encoding validates with the same rules (encodeContent throws INVALID_ARGUMENT, with the same messages), so that
 * anything we send, every client of this version accepts.
 */
import { MAX_MESSAGE_PLAINTEXT, decodeBase64, encodeBase64 } from '@samizdat/protocol';
import type { AttachmentPointer } from '../attachments/attachment-cipher.js';
import {
  ATTACHMENT_DIGEST_LENGTH,
  ATTACHMENT_KEY_LENGTH,
  MAX_ATTACHMENT_SIZE,
} from '../attachments/attachment-cipher.js';
import { ClientError, ClientErrorCode } from '../errors.js';

/** The version byte this code writes and the only one it reads. */
export const CONTENT_VERSION = 1;

/** The largest encoded content (version byte included): the protocol's largest message plaintext. */
export const MAX_CONTENT_BYTES = MAX_MESSAGE_PLAINTEXT;
/** A message body, an edit or a quoted text: at most 64 KiB of UTF-8. */
export const MAX_BODY_BYTES = 64 * 1024;
/** Attachments per message. */
export const MAX_ATTACHMENTS = 32;
/** Ids per receipt, entries per read sync, timestamps per resend request. */
export const MAX_TARGETS = 1000;
/** A profile display name, in UTF-8 bytes. */
export const MAX_NAME_BYTES = 256;
/** An attachment's file name, in UTF-8 bytes (the common file-system limit). */
export const MAX_FILE_NAME_BYTES = 255;
/** A MIME type with parameters (RFC 6838 §4.2 allows 127 characters each for type and subtype). */
export const MAX_CONTENT_TYPE_LENGTH = 255;
/** A reaction: one emoji, which can be a long sequence of code points (flags, families, skin tones). */
export const MAX_EMOJI_BYTES = 64;
/** The disappearing-message timer, in seconds (0 = off): at most 2^32 − 1. */
export const MAX_EXPIRE_TIMER = 2 ** 32 - 1;
/** Image or video dimensions in pixels. */
export const MAX_DIMENSION = 2 ** 31 - 1;
/** Device ids are 1 to 9999 (docs/api.md, the server's schema). */
const MAX_DEVICE_ID = 9999;
/** A Double Ratchet public key (X25519) as carried in a ratchet message header. */
const RATCHET_KEY_LENGTH = 32;

/** What the sender says about itself, so that receivers can show who wrote (not verified: a hint for display). */
export interface Profile {
  readonly username?: string;
  readonly name?: string;
}

interface ContentBase {
  /** 32 lowercase hex characters (newMessageId): chosen by the sender, the same in every device's copy. */
  readonly id: string;
  /** The sender's clock when the content was made: milliseconds since the Unix epoch. */
  readonly timestamp: number;
  readonly profile?: Profile;
}

export interface Quote {
  /** The quoted message's id. */
  readonly id: string;
  /** The quoted message's author (account id). */
  readonly author: string;
  readonly text?: string;
}

/** A message: text and/or attachments (at least one of the two), possibly quoting another message. */
export interface MessageContent extends ContentBase {
  readonly type: 'message';
  readonly body?: string;
  readonly attachments?: readonly AttachmentPointer[];
  readonly quote?: Quote;
  /** The disappearing-message timer in force, in seconds (0 = off). */
  readonly expireTimer?: number;
}

/** A new text for one of the sender's earlier messages. */
export interface EditContent extends ContentBase {
  readonly type: 'edit';
  readonly targetId: string;
  readonly body: string;
}

/** Delete for everyone: the sender withdraws one of its messages. */
export interface DeleteContent extends ContentBase {
  readonly type: 'delete';
  readonly targetId: string;
}

export interface ReactionContent extends ContentBase {
  readonly type: 'reaction';
  readonly targetId: string;
  /** The reacted-to message's author (account id). */
  readonly targetAuthor: string;
  readonly emoji: string;
  /** True to take the reaction back. */
  readonly remove: boolean;
}

export interface ReceiptContent extends ContentBase {
  readonly type: 'receipt';
  readonly receipt: 'delivered' | 'read';
  /** Ids of the messages received or read (1 to MAX_TARGETS). */
  readonly targetIds: readonly string[];
}

export interface TypingContent extends ContentBase {
  readonly type: 'typing';
  readonly action: 'started' | 'stopped';
}

/** The disappearing-message timer of the conversation changed. */
export interface TimerContent extends ContentBase {
  readonly type: 'timer';
  /** Seconds, 0 = off. */
  readonly expireTimer: number;
}

/** To the sender's other devices: what it sent to `destination`, so that they can show it too. */
export interface SyncSentContent extends ContentBase {
  readonly type: 'sync-sent';
  /** The recipient's account id. */
  readonly destination: string;
  /** What was sent: never itself a sync-sent or sync-read (see SyncedContent; encoding and decoding refuse one). */
  readonly content: Content;
}

/** To the sender's other devices: messages read here. */
export interface SyncReadContent extends ContentBase {
  readonly type: 'sync-read';
  readonly read: readonly { readonly author: string; readonly targetId: string }[];
}

/**
 * To the sender's other devices: what the user decided about a message request or a contact (Signal's
 * MessageRequestResponse sync): `target` is an account id, or a group id (accept and delete only).
 */
export interface SyncRequestContent extends ContentBase {
  readonly type: 'sync-request';
  readonly target: string;
  readonly action: RequestAction;
}

export const REQUEST_ACTIONS = ['accept', 'block', 'unblock', 'delete'] as const;
export type RequestAction = (typeof REQUEST_ACTIONS)[number];

/** "I could not decrypt your message": the receiver asks for a fresh session (and a resend). */
export interface SessionResetContent extends ContentBase {
  readonly type: 'session-reset';
}

/**
 * A retry request (Signal's DecryptionErrorMessage): "please send these again". `targetTimestamps` are the envelope
 * timestamps (visible outside the encryption) of messages that failed to decrypt, absent when the receiver does not
 * know them; `device` is the device that sent them (the others of the account ignore the request); `ratchetKey` is
 * the Double Ratchet public key in the failed message's header, so that the sender can tell whether its current
 * session is the one that failed (then it archives it and starts a new one) or an older one.
 */
export interface ResendRequestContent extends ContentBase {
  readonly type: 'resend-request';
  readonly targetTimestamps?: readonly number[];
  readonly device?: number;
  readonly ratchetKey?: Uint8Array;
}

/**
 * A group's settings changed (inside MLS, so the server never sees them): its name and/or its admins — the members
 * who may add and remove others. Only the fields present change.
 */
export interface GroupUpdateContent extends ContentBase {
  readonly type: 'group-update';
  readonly name?: string;
  /** Account ids. */
  readonly admins?: readonly string[];
  /**
   * True when these are the group's settings as they stand, sent again for members who just joined (a new member,
   * a newly linked device), not a change: a receiver that did not know them records "the group is called X", not
   * "X named the group".
   */
  readonly current?: true;
}

export type Content =
  | MessageContent
  | GroupUpdateContent
  | EditContent
  | DeleteContent
  | ReactionContent
  | ReceiptContent
  | TypingContent
  | TimerContent
  | SyncSentContent
  | SyncReadContent
  | SyncRequestContent
  | SessionResetContent
  | ResendRequestContent;

/** What a sync-sent copy may carry: anything but another sync. */
export type SyncedContent = Exclude<Content, SyncSentContent | SyncReadContent | SyncRequestContent>;

export type ContentType = Content['type'];

/**
 * Encodes content for encryption: version byte, then JSON. Throws ClientError INVALID_ARGUMENT when the content
 * breaks a rule (the message says which field), since the receiver would refuse it.
 * @example encodeContent({ type: 'message', id: newMessageId(), timestamp: Date.now(), body: 'hi' })
 */
export function encodeContent(content: Content): Uint8Array {
  let json: string;
  try {
    json = JSON.stringify(toJson(readContent(content, 'api', true)));
  } catch (err) {
    if (err instanceof ContentRuleError) throw new ClientError(ClientErrorCode.InvalidArgument, `invalid content: ${err.message}`);
    throw err;
  }
  const body = encoder.encode(json);
  if (1 + body.length > MAX_CONTENT_BYTES) {
    throw new ClientError(ClientErrorCode.InvalidArgument, `invalid content: longer than ${MAX_CONTENT_BYTES} bytes`);
  }
  const out = new Uint8Array(1 + body.length);
  out[0] = CONTENT_VERSION;
  out.set(body, 1);
  return out;
}

/** Decodes decrypted content. Throws ClientError INVALID_CONTENT for anything but a valid content of our version. */
export function decodeContent(bytes: Uint8Array): Content {
  if (!(bytes instanceof Uint8Array)) throw new ClientError(ClientErrorCode.InvalidArgument, 'content must be a Uint8Array');
  if (bytes.length === 0) throw invalidContent('empty');
  if (bytes[0] !== CONTENT_VERSION) throw invalidContent(`version ${bytes[0]} is not supported (update Samizdat)`);
  if (bytes.length > MAX_CONTENT_BYTES) throw invalidContent(`longer than ${MAX_CONTENT_BYTES} bytes`);
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(bytes.subarray(1)));
  } catch {
    throw invalidContent('not UTF-8 JSON');
  }
  try {
    return readContent(value, 'json', true);
  } catch (err) {
    if (err instanceof ContentRuleError) throw invalidContent(err.message);
    throw err;
  }
}

/** A fresh message id: 16 random bytes as 32 lowercase hex characters. */
export function newMessageId(): string {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(16));
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}

// ——— Validation. One reader for both directions: `json` reads parsed JSON (binary fields are base64 strings),
// `api` reads what a caller passed to encodeContent (binary fields are Uint8Arrays). Both return a fresh Content.

type Mode = 'json' | 'api';

/** A broken rule; encodeContent reports it as INVALID_ARGUMENT, decodeContent as INVALID_CONTENT. */
class ContentRuleError extends Error {}

const encoder = new TextEncoder();
// fatal: invalid UTF-8 is an error, not U+FFFD; ignoreBOM: a BOM stays in the text, where JSON.parse refuses it.
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

const ID = /^[0-9a-f]{32}$/;
const BLOB_ID = /^[0-9a-f]{64}$/;
/** The server's username rule (docs/api.md INVALID_USERNAME), in either case. */
const USERNAME = /^[A-Za-z][A-Za-z0-9_.]{2,31}$/;
/** RFC 6838 §4.2 restricted-name for type and subtype, then optional parameters in printable ASCII. */
const CONTENT_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}(?:;[\x20-\x7e]*)?$/;
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;
/** C0 and C1 controls and DEL: never in a single-line string. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u;
/** Bidirectional embeddings, overrides and isolates: they can make "gpj.exe" display as "exe.jpg". */
const BIDI_CONTROL = /[\u202a-\u202e\u2066-\u2069]/u;

const CONTENT_TYPES: ReadonlySet<string> = new Set<ContentType>([
  'message',
  'edit',
  'delete',
  'reaction',
  'receipt',
  'typing',
  'timer',
  'sync-sent',
  'sync-read',
  'sync-request',
  'session-reset',
  'resend-request',
  'group-update',
]);

/** A plain object's own fields, checked against the allowed names (`__proto__` is an own field of parsed JSON). */
class Fields {
  private readonly record: Readonly<Record<string, unknown>>;

  constructor(
    value: unknown,
    readonly path: string,
    allowed: readonly string[],
  ) {
    if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) {
      throw new ContentRuleError(`${path} must be an object`);
    }
    this.record = value as Record<string, unknown>;
    for (const key of Object.keys(this.record)) {
      if (!allowed.includes(key)) throw new ContentRuleError(`${path} has an unknown field`);
    }
  }

  /** The field's value; undefined when absent (or, from an API caller, explicitly undefined). */
  get(key: string): unknown {
    return Object.hasOwn(this.record, key) ? this.record[key] : undefined;
  }

  at(key: string): string {
    return this.path === '' ? key : `${this.path}.${key}`;
  }

  required(key: string): unknown {
    const value = this.get(key);
    if (value === undefined) throw new ContentRuleError(`${this.at(key)} is missing`);
    return value;
  }
}

const COMMON_FIELDS = ['type', 'id', 'timestamp', 'profile'] as const;
const FIELDS: Readonly<Record<ContentType, readonly string[]>> = {
  message: [...COMMON_FIELDS, 'body', 'attachments', 'quote', 'expireTimer'],
  edit: [...COMMON_FIELDS, 'targetId', 'body'],
  delete: [...COMMON_FIELDS, 'targetId'],
  reaction: [...COMMON_FIELDS, 'targetId', 'targetAuthor', 'emoji', 'remove'],
  receipt: [...COMMON_FIELDS, 'receipt', 'targetIds'],
  typing: [...COMMON_FIELDS, 'action'],
  timer: [...COMMON_FIELDS, 'expireTimer'],
  'sync-sent': [...COMMON_FIELDS, 'destination', 'content'],
  'sync-read': [...COMMON_FIELDS, 'read'],
  'sync-request': [...COMMON_FIELDS, 'target', 'action'],
  'session-reset': [...COMMON_FIELDS],
  'resend-request': [...COMMON_FIELDS, 'targetTimestamps', 'device', 'ratchetKey'],
  'group-update': [...COMMON_FIELDS, 'name', 'admins', 'current'],
};

function readContent(value: unknown, mode: Mode, allowSync: boolean, path = ''): Content {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ContentRuleError(`${path === '' ? 'content' : path} must be an object`);
  }
  const type = (value as Record<string, unknown>).type;
  if (!Object.hasOwn(value, 'type') || typeof type !== 'string' || !CONTENT_TYPES.has(type)) {
    throw new ContentRuleError(`${path === '' ? 'content' : path} has no known type`);
  }
  const t = type as ContentType;
  if (!allowSync && (t === 'sync-sent' || t === 'sync-read' || t === 'sync-request')) throw new ContentRuleError(`${path} cannot be a sync`);
  const f = new Fields(value, path, FIELDS[t]);
  const base = {
    id: id(f, 'id'),
    timestamp: timestamp(f.required('timestamp'), f.at('timestamp')),
    ...optional(f, 'profile', (v, p) => profile(v, p)),
  };
  switch (t) {
    case 'message': {
      const message: MessageContent = {
        type: t,
        ...base,
        ...optional(f, 'body', (v, p) => text(v, p, MAX_BODY_BYTES)),
        ...optional(f, 'attachments', (v, p) => list(v, p, 0, MAX_ATTACHMENTS, (a, q) => attachment(a, q, mode))),
        ...optional(f, 'quote', (v, p) => quote(v, p)),
        ...optional(f, 'expireTimer', (v, p) => expireTimer(v, p)),
      };
      if ((message.body ?? '') === '' && (message.attachments ?? []).length === 0) {
        throw new ContentRuleError(`${f.at('body')} or an attachment is required`);
      }
      return message;
    }
    case 'edit':
      return { type: t, ...base, targetId: id(f, 'targetId'), body: text(f.required('body'), f.at('body'), MAX_BODY_BYTES) };
    case 'delete':
      return { type: t, ...base, targetId: id(f, 'targetId') };
    case 'reaction':
      return {
        type: t,
        ...base,
        targetId: id(f, 'targetId'),
        targetAuthor: id(f, 'targetAuthor'),
        emoji: line(f.required('emoji'), f.at('emoji'), 1, MAX_EMOJI_BYTES),
        remove: boolean(f.required('remove'), f.at('remove')),
      };
    case 'receipt':
      return {
        type: t,
        ...base,
        receipt: oneOf(f.required('receipt'), f.at('receipt'), ['delivered', 'read'] as const),
        targetIds: list(f.required('targetIds'), f.at('targetIds'), 1, MAX_TARGETS, (v, p) => idValue(v, p)),
      };
    case 'typing':
      return { type: t, ...base, action: oneOf(f.required('action'), f.at('action'), ['started', 'stopped'] as const) };
    case 'timer':
      return { type: t, ...base, expireTimer: expireTimer(f.required('expireTimer'), f.at('expireTimer')) };
    case 'sync-sent':
      return {
        type: t,
        ...base,
        destination: id(f, 'destination'),
        content: readContent(f.required('content'), mode, false, f.at('content')),
      };
    case 'sync-read':
      return {
        type: t,
        ...base,
        read: list(f.required('read'), f.at('read'), 1, MAX_TARGETS, (v, p) => {
          const entry = new Fields(v, p, ['author', 'targetId']);
          return { author: id(entry, 'author'), targetId: id(entry, 'targetId') };
        }),
      };
    case 'sync-request': {
      const target = f.required('target');
      if (typeof target !== 'string' || !(ID.test(target) || BLOB_ID.test(target))) {
        throw new ContentRuleError(`${f.at('target')} must be an account id or a group id`);
      }
      return { type: t, ...base, target, action: oneOf(f.required('action'), f.at('action'), REQUEST_ACTIONS) };
    }
    case 'session-reset':
      return { type: t, ...base };
    case 'resend-request':
      return {
        type: t,
        ...base,
        ...optional(f, 'targetTimestamps', (v, p) => list(v, p, 1, MAX_TARGETS, (n, q) => timestamp(n, q))),
        ...optional(f, 'device', (v, p) => integer(v, p, 1, MAX_DEVICE_ID)),
        ...optional(f, 'ratchetKey', (v, p) => bytes(v, p, RATCHET_KEY_LENGTH, mode)),
      };
    case 'group-update':
      return {
        type: t,
        ...base,
        ...optional(f, 'name', (v, p) => line(v, p, 1, MAX_NAME_BYTES)),
        ...optional(f, 'admins', (v, p) => list(v, p, 0, MAX_TARGETS, (a, q) => idValue(a, q))),
        ...optional(f, 'current', (v, p) => literalTrue(v, p)),
      };
  }
}

/** `{ [key]: read(value) }` when the field is present, `{}` when absent: spreads into exact optional properties. */
function optional<K extends string, T>(f: Fields, key: K, read: (value: unknown, path: string) => T): { [P in K]?: T } {
  const value = f.get(key);
  if (value === undefined) return {};
  return { [key]: read(value, f.at(key)) } as { [P in K]?: T };
}

function profile(value: unknown, path: string): Profile {
  const f = new Fields(value, path, ['username', 'name']);
  return {
    ...optional(f, 'username', (v, p) => {
      if (typeof v !== 'string' || !USERNAME.test(v)) throw new ContentRuleError(`${p} is not a valid username`);
      return v;
    }),
    ...optional(f, 'name', (v, p) => line(v, p, 1, MAX_NAME_BYTES)),
  };
}

function quote(value: unknown, path: string): Quote {
  const f = new Fields(value, path, ['id', 'author', 'text']);
  return {
    id: id(f, 'id'),
    author: id(f, 'author'),
    ...optional(f, 'text', (v, p) => text(v, p, MAX_BODY_BYTES)),
  };
}

function attachment(value: unknown, path: string, mode: Mode): AttachmentPointer {
  const f = new Fields(value, path, ['id', 'key', 'digest', 'size', 'contentType', 'fileName', 'width', 'height']);
  const blobId = f.required('id');
  if (typeof blobId !== 'string' || !BLOB_ID.test(blobId)) {
    throw new ContentRuleError(`${f.at('id')} must be 64 lowercase hex characters`);
  }
  return {
    id: blobId,
    key: bytes(f.required('key'), f.at('key'), ATTACHMENT_KEY_LENGTH, mode),
    digest: bytes(f.required('digest'), f.at('digest'), ATTACHMENT_DIGEST_LENGTH, mode),
    size: integer(f.required('size'), f.at('size'), 0, MAX_ATTACHMENT_SIZE),
    contentType: contentType(f.required('contentType'), f.at('contentType')),
    ...optional(f, 'fileName', (v, p) => fileName(v, p)),
    ...optional(f, 'width', (v, p) => integer(v, p, 1, MAX_DIMENSION)),
    ...optional(f, 'height', (v, p) => integer(v, p, 1, MAX_DIMENSION)),
  };
}

function id(f: Fields, key: string): string {
  return idValue(f.required(key), f.at(key));
}

function idValue(value: unknown, path: string): string {
  if (typeof value !== 'string' || !ID.test(value)) throw new ContentRuleError(`${path} must be 32 lowercase hex characters`);
  return value;
}

function timestamp(value: unknown, path: string): number {
  return integer(value, path, 0, Number.MAX_SAFE_INTEGER);
}

function expireTimer(value: unknown, path: string): number {
  return integer(value, path, 0, MAX_EXPIRE_TIMER);
}

function integer(value: unknown, path: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new ContentRuleError(`${path} must be an integer from ${min} to ${max}`);
  }
  return value === 0 ? 0 : value; // -0 → 0
}

function literalTrue(value: unknown, path: string): true {
  if (value !== true) throw new ContentRuleError(`${path} must be true when present`);
  return true;
}

function boolean(value: unknown, path: string): boolean {
  if (typeof value !== 'boolean') throw new ContentRuleError(`${path} must be true or false`);
  return value;
}

function oneOf<T extends string>(value: unknown, path: string, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new ContentRuleError(`${path} must be one of ${allowed.join(', ')}`);
  }
  return value as T;
}

function list<T>(
  value: unknown,
  path: string,
  min: number,
  max: number,
  read: (item: unknown, path: string) => T,
): readonly T[] {
  if (!Array.isArray(value)) throw new ContentRuleError(`${path} must be a list`);
  if (value.length < min || value.length > max) throw new ContentRuleError(`${path} must have ${min} to ${max} items`);
  // Index by position: a sparse API array has holes that map() would skip.
  const out: T[] = [];
  for (let i = 0; i < value.length; i++) out.push(read(value[i], `${path}[${i}]`));
  return out;
}

/** Free text (newlines and tabs allowed): well-formed, at most `maxBytes` of UTF-8. */
function text(value: unknown, path: string, maxBytes: number): string {
  if (typeof value !== 'string') throw new ContentRuleError(`${path} must be a string`);
  if (LONE_SURROGATE.test(value)) throw new ContentRuleError(`${path} is not valid Unicode`);
  if (utf8Length(value) > maxBytes) throw new ContentRuleError(`${path} is longer than ${maxBytes} bytes`);
  return value;
}

/** A single-line string: text without control characters, between `minBytes` and `maxBytes` of UTF-8. */
function line(value: unknown, path: string, minBytes: number, maxBytes: number): string {
  const s = text(value, path, maxBytes);
  if (CONTROL.test(s)) throw new ContentRuleError(`${path} has control characters`);
  if (utf8Length(s) < minBytes) throw new ContentRuleError(`${path} is empty`);
  return s;
}

function fileName(value: unknown, path: string): string {
  const s = line(value, path, 1, MAX_FILE_NAME_BYTES);
  if (s === '.' || s === '..' || s.includes('/') || s.includes('\\') || BIDI_CONTROL.test(s)) {
    throw new ContentRuleError(`${path} is not a plain file name`);
  }
  return s;
}

function contentType(value: unknown, path: string): string {
  if (typeof value !== 'string' || value.length > MAX_CONTENT_TYPE_LENGTH || !CONTENT_TYPE.test(value)) {
    throw new ContentRuleError(`${path} is not a MIME type`);
  }
  return value;
}

/** A binary field: a Uint8Array from an API caller, canonical padded base64 in JSON; always a fresh copy. */
function bytes(value: unknown, path: string, length: number, mode: Mode): Uint8Array {
  const decoded = mode === 'api' ? (value instanceof Uint8Array ? value.slice() : undefined) : fromBase64(value);
  if (decoded === undefined || decoded.length !== length) throw new ContentRuleError(`${path} must be ${length} bytes`);
  return decoded;
}

function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // A surrogate pair (already checked well formed) is 4 bytes: 2 per half.
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : c >= 0xd800 && c <= 0xdfff ? 2 : 3;
  }
  return n;
}

// ——— JSON form of a validated Content (field order as validated, binary fields in base64).

function toJson(content: Content): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(content)) {
    if (key === 'attachments') {
      out[key] = (value as readonly AttachmentPointer[]).map((a) => ({ ...a, key: toBase64(a.key), digest: toBase64(a.digest) }));
    } else if (key === 'ratchetKey') {
      out[key] = toBase64(value as Uint8Array);
    } else if (key === 'content') {
      out[key] = toJson(value as Content);
    } else {
      out[key] = value;
    }
  }
  return out;
}

/** RFC 4648 §4 base64 with padding. */
function toBase64(data: Uint8Array): string {
  return encodeBase64(data);
}

/** Strict RFC 4648 §4 base64: padded, standard alphabet, zero unused bits (§3.5); undefined otherwise. */
function fromBase64(value: unknown): Uint8Array | undefined {
  return typeof value === 'string' ? decodeBase64(value) : undefined;
}

function invalidContent(reason: string): ClientError {
  return new ClientError(ClientErrorCode.InvalidContent, `invalid message content: ${reason}`);
}
