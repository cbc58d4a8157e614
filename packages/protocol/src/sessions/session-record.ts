/**
 * All sessions with one remote device (Sesame §2.2/§3: one active session plus inactive ones kept so that messages
 * still in flight on them decrypt). Serialized as: u8 version | varint count | count × bytes(session state),
 * the active session first, then inactive ones from most to least recently active.
 */
import { ProtocolError, ProtocolErrorCode } from '../errors.js';
import type { SessionState } from '../ratchet/session-state.js';
import { decodeSessionState, encodeSessionState } from '../ratchet/session-state.js';
import { BinaryReader, BinaryWriter } from '../wire/binary.js';

export const SESSION_RECORD_VERSION = 1;
/** Inactive sessions kept per device (libsignal keeps 40 archived states). */
export const MAX_INACTIVE_SESSIONS = 40;
const MAX_SESSION_STATE_BYTES = 1 << 20;

export interface SessionRecord {
  readonly active: SessionState | undefined;
  readonly inactive: readonly SessionState[];
}

export const EMPTY_RECORD: SessionRecord = { active: undefined, inactive: [] };

export function encodeSessionRecord(record: SessionRecord): Uint8Array {
  const states = record.active ? [record.active, ...record.inactive] : [...record.inactive];
  const encoded = states.map(encodeSessionState);
  const w = new BinaryWriter(encoded.reduce((n, e) => n + e.length + 4, 8));
  w.u8(SESSION_RECORD_VERSION).bool(record.active !== undefined).varint(encoded.length);
  for (const e of encoded) w.bytes(e);
  return w.finish();
}

export function decodeSessionRecord(bytes: Uint8Array): SessionRecord {
  const r = new BinaryReader(bytes);
  if (r.u8('session record version') !== SESSION_RECORD_VERSION) {
    throw new ProtocolError(ProtocolErrorCode.UnknownVersion, 'unknown session record version');
  }
  const hasActive = r.bool('active flag');
  const count = r.varint('session count', MAX_INACTIVE_SESSIONS + 1);
  const states: SessionState[] = [];
  for (let i = 0; i < count; i++) states.push(decodeSessionState(r.bytes(MAX_SESSION_STATE_BYTES, 'session state')));
  r.end('session record');
  if (hasActive && states.length === 0) throw new ProtocolError(ProtocolErrorCode.Decode, 'active session missing');
  return hasActive ? { active: states[0], inactive: states.slice(1) } : { active: undefined, inactive: states };
}

/** Makes `state` the active session; the previous active one becomes the newest inactive one. */
export function promote(record: SessionRecord, state: SessionState, replacing?: SessionState): SessionRecord {
  const others = [record.active, ...record.inactive].filter(
    (s): s is SessionState => s !== undefined && s !== replacing,
  );
  return { active: state, inactive: others.slice(0, MAX_INACTIVE_SESSIONS) };
}

/** Keeps `state` as an inactive session (newest first), leaving the active one in place. */
export function archive(record: SessionRecord, state: SessionState, replacing?: SessionState): SessionRecord {
  const inactive = record.inactive.filter((s) => s !== replacing);
  return { active: record.active, inactive: [state, ...inactive].slice(0, MAX_INACTIVE_SESSIONS) };
}

/** Makes the active session inactive (newest first), so that the next message to the device starts a new one. */
export function retire(record: SessionRecord): SessionRecord {
  if (!record.active) return record;
  return { active: undefined, inactive: [record.active, ...record.inactive].slice(0, MAX_INACTIVE_SESSIONS) };
}

/** Replaces `old` by `next` where it stands (active or inactive). */
export function replace(record: SessionRecord, old: SessionState, next: SessionState): SessionRecord {
  if (record.active === old) return { active: next, inactive: record.inactive };
  return { active: record.active, inactive: record.inactive.map((s) => (s === old ? next : s)) };
}
