/** Message content codec: round trips over every kind of content, and strict refusal of everything else. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CONTENT_VERSION,
  MAX_ATTACHMENTS,
  MAX_BODY_BYTES,
  MAX_CONTENT_BYTES,
  MAX_EMOJI_BYTES,
  MAX_EXPIRE_TIMER,
  MAX_FILE_NAME_BYTES,
  MAX_NAME_BYTES,
  MAX_TARGETS,
  decodeContent,
  encodeContent,
  newMessageId,
} from '../../src/content/content.js';
import type { Content, Profile, SyncedContent } from '../../src/content/content.js';
import type { AttachmentPointer } from '../../src/attachments/attachment-cipher.js';
import { ClientError, ClientErrorCode } from '../../src/errors.js';

// ——— Arbitraries for valid content.

const hex = (length: number) =>
  fc.uint8Array({ minLength: length / 2, maxLength: length / 2 }).map((b) => Buffer.from(b).toString('hex'));
const idArb = hex(32);
const timestampArb = fc.oneof(fc.constantFrom(0, 1, Number.MAX_SAFE_INTEGER), fc.integer({ min: 0, max: 2 ** 45 }));
/** Any well-formed Unicode, controls and astral characters included. */
const textArb = (maxLength: number) => fc.string({ unit: 'binary', maxLength });
const lineArb = (maxLength: number) =>
  // eslint-disable-next-line no-control-regex -- single-line strings exclude exactly these
  fc.string({ unit: 'binary', minLength: 1, maxLength }).filter((s) => !/[\u0000-\u001f\u007f-\u009f]/u.test(s));
const fileNameArb = lineArb(40).filter((s) => s !== '.' && s !== '..' && !/[/\\\u202a-\u202e\u2066-\u2069]/u.test(s));
const usernameArb = fc.stringMatching(/^[A-Za-z][A-Za-z0-9_.]{2,31}$/);
const profileArb: fc.Arbitrary<Profile> = fc.record(
  { username: usernameArb, name: lineArb(60), profileKey: fc.uint8Array({ minLength: 32, maxLength: 32 }) },
  { requiredKeys: [] },
);

const attachmentArb: fc.Arbitrary<AttachmentPointer> = fc.record(
  {
    id: hex(64),
    key: fc.uint8Array({ minLength: 64, maxLength: 64 }),
    digest: fc.uint8Array({ minLength: 32, maxLength: 32 }),
    size: fc.oneof(fc.nat(), fc.constant(2 ** 40)),
    contentType: fc.constantFrom('image/jpeg', 'application/octet-stream', 'text/plain; charset=utf-8', 'video/mp4'),
    fileName: fileNameArb,
    width: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
    height: fc.integer({ min: 1, max: 100_000 }),
  },
  { requiredKeys: ['id', 'key', 'digest', 'size', 'contentType'] },
);

const common = { id: idArb, timestamp: timestampArb, profile: profileArb };
const commonKeys = ['id', 'timestamp'] as const;
const timerArb = fc.oneof(fc.constantFrom(0, MAX_EXPIRE_TIMER), fc.nat({ max: 31 * 86_400 }));

const messageArb = fc
  .record(
    {
      type: fc.constant('message' as const),
      ...common,
      body: textArb(200),
      attachments: fc.array(attachmentArb, { maxLength: 3 }),
      quote: fc.record({ id: idArb, author: idArb, text: textArb(50) }, { requiredKeys: ['id', 'author'] }),
      expireTimer: timerArb,
    },
    { requiredKeys: ['type', ...commonKeys] },
  )
  .filter((m) => (m.body ?? '') !== '' || (m.attachments ?? []).length > 0);

const syncedArb: fc.Arbitrary<SyncedContent> = fc.oneof(
  messageArb,
  fc.record(
    { type: fc.constant('edit' as const), ...common, targetId: idArb, body: textArb(200) },
    { requiredKeys: ['type', ...commonKeys, 'targetId', 'body'] },
  ),
  fc.record({ type: fc.constant('delete' as const), ...common, targetId: idArb }, { requiredKeys: ['type', ...commonKeys, 'targetId'] }),
  fc.record(
    {
      type: fc.constant('reaction' as const),
      ...common,
      targetId: idArb,
      targetAuthor: idArb,
      emoji: fc.constantFrom('👍', '❤️', '👨‍👩‍👧‍👦', '🏳️‍🌈', '😂', 'a'),
      remove: fc.boolean(),
    },
    { requiredKeys: ['type', ...commonKeys, 'targetId', 'targetAuthor', 'emoji', 'remove'] },
  ),
  fc.record(
    {
      type: fc.constant('receipt' as const),
      ...common,
      receipt: fc.constantFrom('delivered' as const, 'read' as const),
      targetIds: fc.array(idArb, { minLength: 1, maxLength: 5 }),
    },
    { requiredKeys: ['type', ...commonKeys, 'receipt', 'targetIds'] },
  ),
  fc.record(
    { type: fc.constant('typing' as const), ...common, action: fc.constantFrom('started' as const, 'stopped' as const) },
    { requiredKeys: ['type', ...commonKeys, 'action'] },
  ),
  fc.record({ type: fc.constant('timer' as const), ...common, expireTimer: timerArb }, { requiredKeys: ['type', ...commonKeys, 'expireTimer'] }),
  fc.record({ type: fc.constant('session-reset' as const), ...common }, { requiredKeys: ['type', ...commonKeys] }),
  fc.record(
    { type: fc.constant('group-update' as const), ...common, name: lineArb(60).filter((n) => n.length > 0), admins: fc.array(idArb, { maxLength: 5 }), current: fc.constant(true as const) },
    { requiredKeys: ['type', ...commonKeys] },
  ),
  fc.record(
    {
      type: fc.constant('resend-request' as const),
      ...common,
      targetTimestamps: fc.array(timestampArb, { minLength: 1, maxLength: 5 }),
    },
    { requiredKeys: ['type', ...commonKeys] },
  ),
);

const contentArb: fc.Arbitrary<Content> = fc.oneof(
  syncedArb,
  fc.record(
    { type: fc.constant('sync-sent' as const), ...common, destination: idArb, content: syncedArb },
    { requiredKeys: ['type', ...commonKeys, 'destination', 'content'] },
  ),
  fc.record(
    {
      type: fc.constant('sync-read' as const),
      ...common,
      read: fc.array(fc.record({ author: idArb, targetId: idArb }), { minLength: 1, maxLength: 5 }),
    },
    { requiredKeys: ['type', ...commonKeys, 'read'] },
  ),
);

// ——— Helpers.

const ID = 'a'.repeat(32);
const AUTHOR = 'b'.repeat(32);
const BLOB = 'c'.repeat(64);
const KEY64 = Buffer.alloc(64, 1).toString('base64');
const DIGEST32 = Buffer.alloc(32, 2).toString('base64');

/** Version byte + JSON, written by hand to test the decoder on inputs the encoder refuses to produce. */
function raw(value: unknown, version = CONTENT_VERSION): Uint8Array {
  const json = typeof value === 'string' ? value : JSON.stringify(value);
  return new Uint8Array([version, ...Buffer.from(json, 'utf8')]);
}

const validAttachment = { id: BLOB, key: KEY64, digest: DIGEST32, size: 10, contentType: 'image/png' };
const validMessage = { type: 'message', id: ID, timestamp: 1_700_000_000_000, body: 'hello' };

function decodeCode(bytes: Uint8Array): string {
  try {
    decodeContent(bytes);
  } catch (err) {
    if (ClientError.is(err)) return err.code;
    throw err;
  }
  return 'decoded';
}

function encodeCode(content: unknown): string {
  try {
    encodeContent(content as Content);
  } catch (err) {
    if (ClientError.is(err)) return err.code;
    throw err;
  }
  return 'encoded';
}

describe('content codec', () => {
  it('round-trips every valid content', () => {
    fc.assert(
      fc.property(contentArb, (content) => {
        const encoded = encodeContent(content);
        expect(encoded[0]).toBe(CONTENT_VERSION);
        expect(decodeContent(encoded)).toEqual(content);
        // The encoding is canonical: decoding then encoding gives the same bytes.
        expect(encodeContent(decodeContent(encoded))).toEqual(encoded);
      }),
      { numRuns: 500 },
    );
  });

  it('writes a version byte, then readable JSON with base64 binary fields', () => {
    const key = new Uint8Array(64).fill(0xff);
    const encoded = encodeContent({
      type: 'message',
      id: ID,
      timestamp: 5,
      body: 'hi',
      attachments: [{ id: BLOB, key, digest: new Uint8Array(32), size: 3, contentType: 'text/plain' }],
    });
    expect(encoded[0]).toBe(1);
    expect(JSON.parse(Buffer.from(encoded.subarray(1)).toString('utf8'))).toEqual({
      type: 'message',
      id: ID,
      timestamp: 5,
      body: 'hi',
      attachments: [{ id: BLOB, key: Buffer.from(key).toString('base64'), digest: 'A'.repeat(43) + '=', size: 3, contentType: 'text/plain' }],
    });
  });

  it('decodes JSON written by another implementation', () => {
    const decoded = decodeContent(
      raw({
        type: 'reaction',
        id: ID,
        timestamp: 42,
        targetId: AUTHOR,
        targetAuthor: ID,
        emoji: '👍',
        remove: false,
        profile: { name: 'Ada', username: 'ada.l' },
      }),
    );
    expect(decoded).toEqual({
      type: 'reaction',
      id: ID,
      timestamp: 42,
      profile: { name: 'Ada', username: 'ada.l' },
      targetId: AUTHOR,
      targetAuthor: ID,
      emoji: '👍',
      remove: false,
    });
  });

  it('accepts the limits exactly', () => {
    const atLimits: Content = {
      type: 'message',
      id: ID,
      timestamp: Number.MAX_SAFE_INTEGER,
      body: 'é'.repeat(MAX_BODY_BYTES / 2),
      attachments: Array.from({ length: MAX_ATTACHMENTS }, () => ({
        id: BLOB,
        key: new Uint8Array(64),
        digest: new Uint8Array(32),
        size: 2 ** 40,
        contentType: 'a/b',
        fileName: 'f'.repeat(MAX_FILE_NAME_BYTES),
      })),
      expireTimer: MAX_EXPIRE_TIMER,
      profile: { name: 'n'.repeat(MAX_NAME_BYTES), profileKey: new Uint8Array(32).fill(7) },
    };
    expect(decodeContent(encodeContent(atLimits))).toEqual(atLimits);
    const receipt: Content = { type: 'receipt', id: ID, timestamp: 0, receipt: 'read', targetIds: Array(MAX_TARGETS).fill(ID) };
    expect(decodeContent(encodeContent(receipt))).toEqual(receipt);
    const emoji = '🏳️‍🌈'.repeat(4);
    expect(Buffer.byteLength(emoji)).toBeLessThanOrEqual(MAX_EMOJI_BYTES);
    const reaction: Content = { type: 'reaction', id: ID, timestamp: 0, targetId: ID, targetAuthor: AUTHOR, emoji, remove: true };
    expect(decodeContent(encodeContent(reaction))).toEqual(reaction);
  });

  it('returns fresh binary fields that do not alias the input', () => {
    const key = new Uint8Array(64).fill(1);
    const content: Content = {
      type: 'message',
      id: ID,
      timestamp: 1,
      attachments: [{ id: BLOB, key, digest: new Uint8Array(32), size: 1, contentType: 'a/b' }],
    };
    const encoded = encodeContent(content);
    key.fill(2);
    const decoded = decodeContent(encoded);
    expect(decoded.type === 'message' && decoded.attachments?.[0]?.key[0]).toBe(1);
  });

  it('makes 32-character lowercase hex ids, all different', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => newMessageId()));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe('content decoding is strict', () => {
  const message = (fields: Record<string, unknown>) => raw({ ...validMessage, ...fields });
  const withAttachment = (fields: Record<string, unknown>) => message({ attachments: [{ ...validAttachment, ...fields }] });
  const withoutField = (value: Record<string, unknown>, field: string) => {
    const copy = { ...value };
    delete copy[field];
    return raw(copy);
  };
  const reaction = { type: 'reaction', id: ID, timestamp: 1, targetId: ID, targetAuthor: AUTHOR, emoji: '👍', remove: false };

  const table: ReadonlyArray<readonly [string, Uint8Array]> = [
    // Framing.
    ['no bytes at all', new Uint8Array(0)],
    ['only the version byte', new Uint8Array([CONTENT_VERSION])],
    ['version 0', raw(validMessage, 0)],
    ['version 2', raw(validMessage, 2)],
    ['invalid UTF-8', new Uint8Array([CONTENT_VERSION, 0x7b, 0xff, 0x7d])],
    ['a byte-order mark', new Uint8Array([CONTENT_VERSION, 0xef, 0xbb, 0xbf, ...Buffer.from(JSON.stringify(validMessage))])],
    ['text that is not JSON', raw('hello')],
    ['trailing bytes after the JSON', raw(`${JSON.stringify(validMessage)}x`)],
    ['two JSON values', raw(`${JSON.stringify(validMessage)} {}`)],
    ['a JSON array', raw([validMessage])],
    ['JSON null', raw('null')],
    ['a JSON string', raw('"message"')],
    ['a JSON number', raw('1')],
    ['more than the size limit', raw({ ...validMessage, body: 'x'.repeat(MAX_CONTENT_BYTES) })],
    // Type.
    ['no type', withoutField(validMessage, 'type')],
    ['an unknown type', message({ type: 'poll' })],
    ['a type of the wrong case', message({ type: 'Message' })],
    ['a numeric type', message({ type: 1 })],
    // Common fields.
    ['no id', withoutField(validMessage, 'id')],
    ['an uppercase id', message({ id: 'A'.repeat(32) })],
    ['a 31-character id', message({ id: 'a'.repeat(31) })],
    ['a 33-character id', message({ id: 'a'.repeat(33) })],
    ['a non-hex id', message({ id: 'g'.repeat(32) })],
    ['a UUID id', message({ id: '01890a5d-ac96-774b-bcce-b302099a8058' })],
    ['a numeric id', message({ id: 12345 })],
    ['no timestamp', withoutField(validMessage, 'timestamp')],
    ['a negative timestamp', message({ timestamp: -1 })],
    ['a fractional timestamp', message({ timestamp: 1.5 })],
    ['a timestamp above 2^53', message({ timestamp: 2 ** 53 })],
    ['a string timestamp', message({ timestamp: '1700000000000' })],
    ['an unknown top-level field', message({ extra: 1 })],
    ['a field of another type', message({ targetId: ID })],
    ['a null optional field', message({ body: null })],
    // Message.
    ['a message with neither body nor attachments', withoutField(validMessage, 'body')],
    ['a message with an empty body and no attachments', message({ body: '', attachments: [] })],
    ['a body over 64 KiB', message({ body: 'x'.repeat(MAX_BODY_BYTES + 1) })],
    ['a body over 64 KiB of UTF-8 (fewer characters)', message({ body: 'é'.repeat(MAX_BODY_BYTES / 2 + 1) })],
    ['a numeric body', message({ body: 5 })],
    ['a lone surrogate in the body', raw(`{"type":"message","id":"${ID}","timestamp":1,"body":"a\\ud800b"}`)],
    ['attachments that are not a list', message({ attachments: validAttachment })],
    ['too many attachments', message({ attachments: Array(MAX_ATTACHMENTS + 1).fill(validAttachment) })],
    ['an attachment that is not an object', message({ attachments: ['x'] })],
    ['an attachment with an unknown field', withAttachment({ url: 'https://example.org' })],
    ['an attachment without a key', message({ attachments: [{ ...validAttachment, key: undefined }] })],
    ['an attachment key of 63 bytes', withAttachment({ key: Buffer.alloc(63).toString('base64') })],
    ['an attachment key of 65 bytes', withAttachment({ key: Buffer.alloc(65).toString('base64') })],
    ['an attachment key in hex', withAttachment({ key: '00'.repeat(64) })],
    ['an attachment key without padding', withAttachment({ key: KEY64.replace(/=+$/, '') })],
    ['an attachment key in base64url', withAttachment({ key: Buffer.alloc(64, 0xfb).toString('base64url') + '==' })],
    ['an attachment key with non-zero unused bits', withAttachment({ key: `${KEY64.slice(0, -3)}R==` })],
    ['an attachment key as a byte list', withAttachment({ key: Array(64).fill(1) })],
    ['an attachment digest of 31 bytes', withAttachment({ digest: Buffer.alloc(31).toString('base64') })],
    ['an attachment without a digest', message({ attachments: [{ ...validAttachment, digest: undefined }] })],
    ['a negative attachment size', withAttachment({ size: -1 })],
    ['a fractional attachment size', withAttachment({ size: 1.5 })],
    ['an attachment size above 1 TiB', withAttachment({ size: 2 ** 40 + 1 })],
    ['a short blob id', withAttachment({ id: 'c'.repeat(32) })],
    ['an uppercase blob id', withAttachment({ id: 'C'.repeat(64) })],
    ['no content type', message({ attachments: [{ ...validAttachment, contentType: undefined }] })],
    ['a content type without subtype', withAttachment({ contentType: 'image' })],
    ['an empty content type', withAttachment({ contentType: '' })],
    ['a content type with a newline', withAttachment({ contentType: 'text/plain\n' })],
    ['a too long content type', withAttachment({ contentType: `a/${'b'.repeat(300)}` })],
    ['a file name with a slash', withAttachment({ fileName: '../etc/passwd' })],
    ['a file name with a backslash', withAttachment({ fileName: '..\\boot.ini' })],
    ['the file name ..', withAttachment({ fileName: '..' })],
    ['the file name .', withAttachment({ fileName: '.' })],
    ['an empty file name', withAttachment({ fileName: '' })],
    ['a file name with a NUL', withAttachment({ fileName: 'a\u0000b' })],
    ['a file name with a newline', withAttachment({ fileName: 'a\nb' })],
    ['a file name with a right-to-left override', withAttachment({ fileName: 'photo\u202egpj.exe' })],
    ['a file name over 255 bytes', withAttachment({ fileName: 'é'.repeat(128) })],
    ['a width of 0', withAttachment({ width: 0 })],
    ['a fractional height', withAttachment({ height: 1.5 })],
    ['a string width', withAttachment({ width: '100' })],
    ['a quote without author', message({ quote: { id: ID } })],
    ['a quote with a bad id', message({ quote: { id: 'x', author: AUTHOR } })],
    ['a quote with an unknown field', message({ quote: { id: ID, author: AUTHOR, attachments: [] } })],
    ['a quote text over 64 KiB', message({ quote: { id: ID, author: AUTHOR, text: 'x'.repeat(MAX_BODY_BYTES + 1) } })],
    ['a negative timer', message({ expireTimer: -1 })],
    ['a timer above 2^32 - 1', message({ expireTimer: 2 ** 32 })],
    ['a boolean timer', message({ expireTimer: true })],
    // Profile.
    ['a profile that is not an object', message({ profile: 'ada' })],
    ['a null profile', message({ profile: null })],
    ['a profile with an unknown field', message({ profile: { avatar: 'x' } })],
    ['a profile with an invalid username', message({ profile: { username: 'a b' } })],
    ['a profile with a too short username', message({ profile: { username: 'ab' } })],
    ['a profile with an empty name', message({ profile: { name: '' } })],
    ['a profile key of 31 bytes', message({ profile: { profileKey: Buffer.alloc(31).toString('base64') } })],
    ['a profile key that is not base64', message({ profile: { profileKey: '*'.repeat(44) } })],
    ['a profile name with a newline', message({ profile: { name: 'Ada\nLovelace' } })],
    ['a profile name over 256 bytes', message({ profile: { name: 'n'.repeat(MAX_NAME_BYTES + 1) } })],
    // Other kinds.
    ['an edit without body', raw({ type: 'edit', id: ID, timestamp: 1, targetId: ID })],
    ['an edit without target', raw({ type: 'edit', id: ID, timestamp: 1, body: 'x' })],
    ['an edit with attachments', raw({ type: 'edit', id: ID, timestamp: 1, targetId: ID, body: 'x', attachments: [] })],
    ['a delete with a bad target', raw({ type: 'delete', id: ID, timestamp: 1, targetId: 'nope' })],
    ['a reaction without remove', withoutField(reaction, 'remove')],
    ['a reaction with a string remove', raw({ ...reaction, remove: 'false' })],
    ['a reaction with an empty emoji', raw({ ...reaction, emoji: '' })],
    ['a reaction with a too long emoji', raw({ ...reaction, emoji: '👍'.repeat(17) })],
    ['a reaction with a bad target author', raw({ ...reaction, targetAuthor: 'bob' })],
    ['a receipt of an unknown kind', raw({ type: 'receipt', id: ID, timestamp: 1, receipt: 'seen', targetIds: [ID] })],
    ['a receipt without targets', raw({ type: 'receipt', id: ID, timestamp: 1, receipt: 'read', targetIds: [] })],
    ['a receipt with a bad target', raw({ type: 'receipt', id: ID, timestamp: 1, receipt: 'read', targetIds: [ID, 'x'] })],
    ['a receipt with too many targets', raw({ type: 'receipt', id: ID, timestamp: 1, receipt: 'read', targetIds: Array(MAX_TARGETS + 1).fill(ID) })],
    ['a receipt target list that is an object', raw({ type: 'receipt', id: ID, timestamp: 1, receipt: 'read', targetIds: { 0: ID } })],
    ['a typing action of an unknown kind', raw({ type: 'typing', id: ID, timestamp: 1, action: 'paused' })],
    ['a timer change without timer', raw({ type: 'timer', id: ID, timestamp: 1 })],
    ['a sync-sent without content', raw({ type: 'sync-sent', id: ID, timestamp: 1, destination: AUTHOR })],
    ['a sync-sent with a bad destination', raw({ type: 'sync-sent', id: ID, timestamp: 1, destination: 'x', content: validMessage })],
    ['a sync-sent of a sync-sent', raw({ type: 'sync-sent', id: ID, timestamp: 1, destination: AUTHOR, content: { type: 'sync-sent', id: ID, timestamp: 1, destination: AUTHOR, content: validMessage } })],
    ['a sync-sent of a sync-read', raw({ type: 'sync-sent', id: ID, timestamp: 1, destination: AUTHOR, content: { type: 'sync-read', id: ID, timestamp: 1, read: [{ author: AUTHOR, targetId: ID }] } })],
    ['a sync-sent of an invalid message', raw({ type: 'sync-sent', id: ID, timestamp: 1, destination: AUTHOR, content: { ...validMessage, body: 7 } })],
    ['a sync-read without entries', raw({ type: 'sync-read', id: ID, timestamp: 1, read: [] })],
    ['a sync-read entry without author', raw({ type: 'sync-read', id: ID, timestamp: 1, read: [{ targetId: ID }] })],
    ['a sync-read entry with an unknown field', raw({ type: 'sync-read', id: ID, timestamp: 1, read: [{ author: AUTHOR, targetId: ID, at: 1 }] })],
    ['a session reset with a body', raw({ type: 'session-reset', id: ID, timestamp: 1, body: 'x' })],
    ['a resend request with an empty list', raw({ type: 'resend-request', id: ID, timestamp: 1, targetTimestamps: [] })],
    ['a group update with an empty name', raw({ type: 'group-update', id: ID, timestamp: 1, name: '' })],
    ['a group update with an admin that is no account id', raw({ type: 'group-update', id: ID, timestamp: 1, admins: ['alice'] })],
    ['a group update with current: false', raw({ type: 'group-update', id: ID, timestamp: 1, current: false })],
    ['a group update with current: "yes"', raw({ type: 'group-update', id: ID, timestamp: 1, current: 'yes' })],
    ['a resend request with a negative timestamp', raw({ type: 'resend-request', id: ID, timestamp: 1, targetTimestamps: [-5] })],
  ];

  it.each(table)('rejects %s', (_name, bytes) => {
    expect(decodeCode(bytes)).toBe(ClientErrorCode.InvalidContent);
  });

  it('accepts the valid building blocks the table starts from', () => {
    expect(decodeCode(raw(validMessage))).toBe('decoded');
    expect(decodeCode(message({ attachments: [validAttachment] }))).toBe('decoded');
    expect(decodeCode(raw(reaction))).toBe('decoded');
    expect(decodeCode(raw({ type: 'sync-sent', id: ID, timestamp: 1, destination: AUTHOR, content: validMessage }))).toBe('decoded');
  });

  it('rejects random bytes and random JSON without crashing', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        expect(['decoded', ClientErrorCode.InvalidContent]).toContain(decodeCode(new Uint8Array([CONTENT_VERSION, ...bytes])));
      }),
    );
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(['decoded', ClientErrorCode.InvalidContent]).toContain(decodeCode(raw(value)));
      }),
    );
  });

  it('answers any single-field corruption of valid content with INVALID_CONTENT or a valid content, never a crash', () => {
    fc.assert(
      fc.property(contentArb, fc.nat(), fc.constantFrom<unknown>(null, -1, 1.5, '', 'x', true, [], {}), (content, pick, junk) => {
        const json = JSON.parse(Buffer.from(encodeContent(content).subarray(1)).toString('utf8')) as Record<string, unknown>;
        const keys = Object.keys(json).filter((k) => k !== 'type');
        const key = keys[pick % keys.length] as string;
        json[key] = junk;
        const code = decodeCode(raw(json));
        // Junk can be valid only where the field allows it: `remove: true`, an empty body beside attachments, etc.
        if (code === 'decoded') return;
        expect(code).toBe(ClientErrorCode.InvalidContent);
      }),
    );
  });

  it('puts no content values in its error messages', () => {
    for (const bytes of [message({ secret: 'my password' }), message({ body: 'my password'.repeat(MAX_BODY_BYTES) })]) {
      let message = '';
      try {
        decodeContent(bytes);
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toMatch(/^invalid message content: /);
      expect(message).not.toContain('password');
      expect(message).not.toContain('hello');
    }
  });
});

describe('prototype pollution', () => {
  const probe = () => (Object.prototype as Record<string, unknown>).polluted;

  it.each([
    ['a top-level __proto__', `{"type":"message","id":"${ID}","timestamp":1,"body":"x","__proto__":{"polluted":true}}`],
    ['a __proto__ in an attachment', `{"type":"message","id":"${ID}","timestamp":1,"attachments":[{"id":"${BLOB}","key":"${KEY64}","digest":"${DIGEST32}","size":1,"contentType":"a/b","__proto__":{"polluted":true}}]}`],
    ['a __proto__ in the profile', `{"type":"message","id":"${ID}","timestamp":1,"body":"x","profile":{"__proto__":{"polluted":true}}}`],
    ['a __proto__ in a quote', `{"type":"message","id":"${ID}","timestamp":1,"body":"x","quote":{"id":"${ID}","author":"${AUTHOR}","__proto__":{"polluted":true}}}`],
    ['a __proto__ in a synced content', `{"type":"sync-sent","id":"${ID}","timestamp":1,"destination":"${AUTHOR}","content":{"type":"delete","id":"${ID}","timestamp":1,"targetId":"${ID}","__proto__":{"polluted":true}}}`],
    ['a __proto__ in a read entry', `{"type":"sync-read","id":"${ID}","timestamp":1,"read":[{"author":"${AUTHOR}","targetId":"${ID}","__proto__":{"polluted":true}}]}`],
    ['a constructor.prototype', `{"type":"message","id":"${ID}","timestamp":1,"body":"x","constructor":{"prototype":{"polluted":true}}}`],
    ['a __proto__ type', `{"__proto__":{"type":"message"},"id":"${ID}","timestamp":1,"body":"x"}`],
  ])('rejects %s and leaves Object.prototype alone', (_name, json) => {
    expect(decodeCode(raw(json))).toBe(ClientErrorCode.InvalidContent);
    expect(probe()).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('returns plain objects built from known fields only', () => {
    const decoded = decodeContent(raw({ ...validMessage, attachments: [validAttachment], profile: { name: 'A' } }));
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect(Object.keys(decoded).sort()).toEqual(['attachments', 'body', 'id', 'profile', 'timestamp', 'type']);
    expect(Object.hasOwn(decoded, '__proto__')).toBe(false);
  });
});

describe('content encoding refuses what decoding would refuse', () => {
  const valid: Content = { type: 'message', id: ID, timestamp: 1, body: 'x' };

  it.each<readonly [string, unknown]>([
    ['an unknown type', { ...valid, type: 'poll' }],
    ['an uppercase id', { ...valid, id: 'A'.repeat(32) }],
    ['a negative timestamp', { ...valid, timestamp: -1 }],
    ['an unknown field', { ...valid, extra: true }],
    ['an empty message', { type: 'message', id: ID, timestamp: 1 }],
    ['a too long body', { ...valid, body: 'x'.repeat(MAX_BODY_BYTES + 1) }],
    ['a lone surrogate', { ...valid, body: '\ud800' }],
    ['a null body', { ...valid, body: null }],
    ['a base64 string as key', { ...valid, attachments: [{ ...validAttachment }] }],
    ['a short key', { ...valid, attachments: [{ ...validAttachment, key: new Uint8Array(63), digest: new Uint8Array(32) }] }],
    ['a sync of a sync', { type: 'sync-sent', id: ID, timestamp: 1, destination: AUTHOR, content: { type: 'sync-read', id: ID, timestamp: 1, read: [{ author: AUTHOR, targetId: ID }] } }],
    ['a receipt without targets', { type: 'receipt', id: ID, timestamp: 1, receipt: 'read', targetIds: [] }],
    ['not an object', 'message'],
    ['null', null],
    ['a body whose JSON escaping exceeds the size limit', { ...valid, body: '\u0001'.repeat(MAX_BODY_BYTES) }],
  ])('refuses %s with INVALID_ARGUMENT', (_name, content) => {
    expect(encodeCode(content)).toBe(ClientErrorCode.InvalidArgument);
  });

  it('treats an explicitly undefined optional field as absent', () => {
    const content = { ...valid, quote: undefined, expireTimer: undefined } as unknown as Content;
    expect(decodeContent(encodeContent(content))).toEqual(valid);
  });

  it('encodes at most MAX_CONTENT_BYTES', () => {
    const big: Content = { ...valid, body: '"'.repeat(MAX_BODY_BYTES) };
    expect(encodeContent(big).length).toBeLessThanOrEqual(MAX_CONTENT_BYTES);
  });
});
