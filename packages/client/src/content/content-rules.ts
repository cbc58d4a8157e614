/**
 * The rules every content is read by, in both directions (docs/wire-format.md "Content"): exactly the known fields
 * of its kind, of the right type and within their limits, and a fresh object built field by field — and the JSON
 * form of a validated content. A rule broken is a ContentRuleError naming the field; content.ts turns it into the
 * caller's ClientError.
 */
import { ATTACHMENT_ID_PATTERN, MESSAGE_ID_PATTERN, PROFILE_KEY_LENGTH, USERNAME_PATTERN, decodeBase64, encodeBase64 } from '@samizdat/protocol';
import type { AttachmentPointer } from '../attachments/attachment-cipher.js';
import { ATTACHMENT_DIGEST_LENGTH, ATTACHMENT_KEY_LENGTH, MAX_ATTACHMENT_SIZE } from '../attachments/attachment-cipher.js';
import { ClientError, ClientErrorCode } from '../errors.js';
import type { Content, ContentType, MessageContent, Profile, Quote } from './content-types.js';
import {
  MAX_ATTACHMENTS,
  MAX_BODY_BYTES,
  MAX_CONTENT_TYPE_LENGTH,
  MAX_DEVICE_ID,
  MAX_DIMENSION,
  MAX_EMOJI_BYTES,
  MAX_EXPIRE_TIMER,
  MAX_FILE_NAME_BYTES,
  MAX_NAME_BYTES,
  MAX_TARGETS,
  RATCHET_KEY_LENGTH,
  REQUEST_ACTIONS,
} from './content-types.js';

// ——— Validation. One reader for both directions: `json` reads parsed JSON (binary fields are base64 strings),
// `api` reads what a caller passed to encodeContent (binary fields are Uint8Arrays). Both return a fresh Content.

type Mode = 'json' | 'api';

/** A broken rule; encodeContent reports it as INVALID_ARGUMENT, decodeContent as INVALID_CONTENT. */
export class ContentRuleError extends Error {}

export const encoder = new TextEncoder();
// fatal: invalid UTF-8 is an error, not U+FFFD; ignoreBOM: a BOM stays in the text, where JSON.parse refuses it.
export const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

const ID = MESSAGE_ID_PATTERN;
const BLOB_ID = ATTACHMENT_ID_PATTERN;
/** The server's username rule (docs/api.md INVALID_USERNAME), in either case. */
const USERNAME = USERNAME_PATTERN;
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

export function readContent(value: unknown, mode: Mode, allowSync: boolean, path = ''): Content {
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
    ...optional(f, 'profile', (v, p) => profile(v, p, mode)),
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

function profile(value: unknown, path: string, mode: Mode): Profile {
  const f = new Fields(value, path, ['username', 'name', 'profileKey', 'profileUpdated']);
  return {
    ...optional(f, 'username', (v, p) => {
      if (typeof v !== 'string' || !USERNAME.test(v)) throw new ContentRuleError(`${p} is not a valid username`);
      return v;
    }),
    ...optional(f, 'name', (v, p) => line(v, p, 1, MAX_NAME_BYTES)),
    ...optional(f, 'profileKey', (v, p) => bytes(v, p, PROFILE_KEY_LENGTH, mode)),
    ...optional(f, 'profileUpdated', (v, p) => timestamp(v, p)),
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

export function toJson(content: Content): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(content)) {
    if (key === 'attachments') {
      out[key] = (value as readonly AttachmentPointer[]).map((a) => ({ ...a, key: toBase64(a.key), digest: toBase64(a.digest) }));
    } else if (key === 'ratchetKey') {
      out[key] = toBase64(value as Uint8Array);
    } else if (key === 'content') {
      out[key] = toJson(value as Content);
    } else if (key === 'profile') {
      const profile = value as Profile;
      out[key] = { ...profile, ...(profile.profileKey ? { profileKey: toBase64(profile.profileKey) } : {}) };
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

export function invalidContent(reason: string): ClientError {
  return new ClientError(ClientErrorCode.InvalidContent, `invalid message content: ${reason}`);
}
