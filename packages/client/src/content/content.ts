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
import { ClientError, ClientErrorCode } from '../errors.js';
import { ContentRuleError, decoder, encoder, invalidContent, readContent, toJson } from './content-rules.js';
import type { Content } from './content-types.js';
import { CONTENT_VERSION, MAX_CONTENT_BYTES } from './content-types.js';

export * from './content-types.js';

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
