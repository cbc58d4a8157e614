/**
 * Encrypted profiles (docs/protocol.md "Profiles"; @samizdat/protocol profile-cipher.ts): the user's display name,
 * about text and avatar, stored on the server as ciphertext under the account's profile key, which travels inside
 * messages to the people and groups the user talks with. Whoever holds a contact's profile key fetches and decrypts
 * their profile; the server sees the ciphertext, its padded size, and an unauthenticated fetch by version.
 *
 * - Our profile lives in the store (kv) of the device it was set on, which puts it on the server when it changes and
 *   in the upkeep (once per version and content). The account's other devices read it from the server (the profile
 *   key is the account's) and never overwrite it with a profile of their own unless the user sets one there.
 * - The profile key changes when the user blocks someone (sealed/sealed-delivery.ts rotateProfileKey); the profile
 *   is then put on the server again under the new key's version.
 * - A contact's profile is fetched when we learn a new profile key of theirs and again when it is a day old; its
 *   name and about text go into their ContactRecord, the avatar into kv (`profile.avatar.<accountId>`).
 * - Names and about texts are what their owner chose: shown as such, never as verified identity.
 */
import { MAX_PROFILE_FIELD_BYTES, PROFILE_FIELDS, decryptProfileField, encryptProfileField, profileVersion, toHex } from '@samizdat/protocol';
import type { CryptoProvider, ProfileField } from '@samizdat/protocol';
import { ClientError, ClientErrorCode } from '../errors.js';
import type { Profile } from '../content/content-types.js';
import type { ClientStore, ContactRecord } from '../storage/store.js';
import { fromBase64, toBase64 } from '../transport/base64.js';
import type { EncryptedProfileFields, HttpApi } from '../transport/http-api.js';

/** The user's own profile. */
export interface OwnProfile {
  readonly name?: string;
  readonly about?: string;
  readonly avatar?: Uint8Array;
}

/** A change to it: a value sets a field, null clears it, a missing key keeps it. */
export type ProfileChange = { readonly [K in keyof OwnProfile]?: OwnProfile[K] | null };

export interface ProfilesHost {
  readonly store: ClientStore;
  readonly crypto: CryptoProvider;
  readonly api: Pick<HttpApi, 'putProfile' | 'getProfile'>;
  accountId(): string;
  profileKey(): Promise<Uint8Array>;
  now(): number;
}

const KV = { own: 'profile.own', published: 'profile.published', avatar: (accountId: string) => `profile.avatar.${accountId}` } as const;
/** Characters of a name and an about text (the protocol's byte limits hold any such text in UTF-8). */
export const MAX_PROFILE_NAME = 100;
export const MAX_PROFILE_ABOUT = 500;
/** A contact's profile is fetched again after this long. */
export const PROFILE_REFRESH_MS = 24 * 3600 * 1000;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

function checkText(value: unknown, what: string, max: number): string {
  if (typeof value !== 'string') throw new ClientError(ClientErrorCode.InvalidArgument, `the ${what} is text`);
  const text = value.trim();
  if ([...text].length > max) throw new ClientError(ClientErrorCode.InvalidArgument, `the ${what} is at most ${max} characters`);
  // eslint-disable-next-line no-control-regex -- control characters are what is refused
  if (/[\u0000-\u0008\u000b-\u001f\u007f]/.test(text)) throw new ClientError(ClientErrorCode.InvalidArgument, `the ${what} holds control characters`);
  return text;
}

/**
 * What a content from `accountId` says about their profile (a 1:1 message or a group message): a new profile key, or
 * a `profileUpdated` we have not seen, is staged into `contactWrites` (the record they already have there, else the
 * stored one). True when their profile should be fetched once that is stored.
 */
export async function stageProfileKey(
  store: ClientStore,
  contactWrites: ContactRecord[],
  accountId: string,
  profile: Profile | undefined,
): Promise<boolean> {
  const profileKey = profile?.profileKey;
  if (!profileKey) return false;
  const i = contactWrites.findIndex((c) => c.accountId === accountId);
  const current = i >= 0 ? contactWrites[i] : await store.getContact(accountId);
  const encoded = toBase64(profileKey);
  const updated = profile.profileUpdated;
  if (current?.profileKey === encoded && (updated === undefined || current.profileUpdated === updated)) return false;
  const next: ContactRecord = { verified: false, expireTimer: 0, ...current, accountId, profileKey: encoded, ...(updated !== undefined ? { profileUpdated: updated } : {}) };
  if (i >= 0) contactWrites[i] = next;
  else contactWrites.push(next);
  return true;
}

export class Profiles {
  constructor(private readonly host: ProfilesHost) {}

  /** Our profile: as set on this device, else as another device of ours put it on the server ({} if none). */
  async own(): Promise<OwnProfile> {
    const stored = await this.host.store.getKv(KV.own);
    if (stored === undefined) return this.fromServer();
    try {
      const parsed = JSON.parse(stored) as { name?: unknown; about?: unknown; avatar?: unknown };
      const avatar = typeof parsed.avatar === 'string' ? fromBase64(parsed.avatar) : undefined;
      return {
        ...(typeof parsed.name === 'string' ? { name: parsed.name } : {}),
        ...(typeof parsed.about === 'string' ? { about: parsed.about } : {}),
        ...(avatar ? { avatar } : {}),
      };
    } catch {
      return {};
    }
  }

  /** Changes our profile here, then on the server (a failure there is retried by the upkeep). */
  async set(change: ProfileChange): Promise<OwnProfile> {
    const current = await this.own();
    const next: { name?: string; about?: string; avatar?: Uint8Array } = { ...current };
    if (change.name !== undefined) {
      const name = change.name === null ? '' : checkText(change.name, 'name', MAX_PROFILE_NAME);
      if (name === '') delete next.name;
      else next.name = name;
    }
    if (change.about !== undefined) {
      const about = change.about === null ? '' : checkText(change.about, 'about text', MAX_PROFILE_ABOUT);
      if (about === '') delete next.about;
      else next.about = about;
    }
    if (change.avatar !== undefined) {
      if (change.avatar === null) delete next.avatar;
      else if (!(change.avatar instanceof Uint8Array) || change.avatar.length === 0) throw new ClientError(ClientErrorCode.InvalidArgument, 'the avatar is image bytes');
      else if (change.avatar.length > MAX_PROFILE_FIELD_BYTES.avatar) {
        throw new ClientError(ClientErrorCode.InvalidArgument, `the avatar is at most ${MAX_PROFILE_FIELD_BYTES.avatar / 1024} KiB`);
      } else next.avatar = change.avatar;
    }
    const json = JSON.stringify({ ...next, ...(next.avatar ? { avatar: toBase64(next.avatar) } : {}), updatedAt: this.host.now() });
    await this.host.store.write((tx) => tx.putKv(KV.own, json));
    await this.publish();
    return next;
  }

  /** When the profile set on this device last changed (ms), which our messages announce; undefined if never here. */
  async updatedAt(): Promise<number | undefined> {
    const stored = await this.host.store.getKv(KV.own);
    if (stored === undefined) return undefined;
    try {
      const { updatedAt } = JSON.parse(stored) as { updatedAt?: unknown };
      return typeof updatedAt === 'number' && Number.isSafeInteger(updatedAt) && updatedAt >= 0 ? updatedAt : undefined;
    } catch {
      return undefined;
    }
  }

  /** Our profile as the server holds it, decrypted with our key (set on another device of ours). */
  private async fromServer(): Promise<OwnProfile> {
    const fields = await this.openProfile(this.host.accountId(), await this.host.profileKey()).catch(() => undefined);
    if (!fields) return {};
    return {
      ...(fields.name !== undefined ? { name: fields.name } : {}),
      ...(fields.about !== undefined ? { about: fields.about } : {}),
      ...(fields.avatar !== undefined ? { avatar: fields.avatar } : {}),
    };
  }

  /**
   * Puts the profile set on this device on the server under the current profile key's version, unless it is there
   * already; nothing when none was set here (another device of ours holds it).
   */
  async publish(): Promise<void> {
    if ((await this.host.store.getKv(KV.own)) === undefined) return;
    const own = await this.own();
    const key = await this.host.profileKey();
    const version = await profileVersion(this.host.crypto, key, this.host.accountId());
    const stamp = `${toHex(version)}:${toHex(await this.host.crypto.sha256(encoder.encode((await this.host.store.getKv(KV.own)) ?? '')))}`;
    if ((await this.host.store.getKv(KV.published)) === stamp) return;
    await this.host.api.putProfile(version, await this.encrypt(own, version));
    await this.host.store.write((tx) => tx.putKv(KV.published, stamp));
  }

  private async encrypt(profile: OwnProfile, version: Uint8Array): Promise<EncryptedProfileFields> {
    const key = await this.host.profileKey();
    const values: { [K in ProfileField]?: Uint8Array } = {
      ...(profile.name !== undefined ? { name: encoder.encode(profile.name) } : {}),
      ...(profile.about !== undefined ? { about: encoder.encode(profile.about) } : {}),
      ...(profile.avatar !== undefined ? { avatar: profile.avatar } : {}),
    };
    const out: { [K in ProfileField]?: Uint8Array } = {};
    for (const field of PROFILE_FIELDS) {
      const value = values[field];
      if (value === undefined) continue;
      try {
        out[field] = await encryptProfileField(this.host.crypto, key, version, field, value);
      } catch (err) {
        throw new ClientError(ClientErrorCode.InvalidArgument, err instanceof Error ? err.message : `the profile ${field} cannot be stored`);
      }
    }
    return out;
  }

  /**
   * Fetches and decrypts a contact's profile with the profile key they sent us; their ContactRecord gets the name and
   * about text (or loses them when the profile no longer has them), kv the avatar. Nothing changes without their
   * key, or when the server has no profile of that version (they have not set one, or changed key since — what we
   * last saw stays, as in Signal). A field that does not decrypt is dropped (the server may have swapped or damaged
   * it).
   */
  async fetch(accountId: string): Promise<ContactRecord | undefined> {
    const contact = await this.host.store.getContact(accountId);
    const key = contact?.profileKey !== undefined ? fromBase64(contact.profileKey) : undefined;
    if (!contact || !key) return contact;
    const opened = await this.openProfile(accountId, key);
    if (opened === undefined) {
      const latest = (await this.host.store.getContact(accountId)) ?? contact;
      const next = { ...latest, profileFetchedAt: this.host.now() };
      await this.host.store.write((tx) => tx.putContact(next));
      return next;
    }
    const { name, about, avatar } = opened;
    // Read again: the contact may have changed while the profile was fetched.
    const latest = (await this.host.store.getContact(accountId)) ?? contact;
    if (latest.profileKey !== contact.profileKey) return latest;
    const { name: _oldName, about: _oldAbout, avatarHash: _oldAvatar, ...rest } = latest;
    const next: ContactRecord = {
      ...rest,
      ...(name !== undefined ? { name } : {}),
      ...(about !== undefined ? { about } : {}),
      ...(avatar !== undefined ? { avatarHash: toHex(await this.host.crypto.sha256(avatar)) } : {}),
      profileFetchedAt: this.host.now(),
    };
    await this.host.store.write((tx) => {
      tx.putContact(next);
      tx.putKv(KV.avatar(accountId), avatar ? toBase64(avatar) : undefined);
    });
    return next;
  }

  /**
   * The profile of `accountId` under `key`, decrypted: undefined when the server has none of that version; a field
   * that does not decrypt, or is not text where text belongs, is left out (the server may have swapped or damaged it).
   */
  private async openProfile(accountId: string, key: Uint8Array): Promise<OwnProfile | undefined> {
    const version = await profileVersion(this.host.crypto, key, accountId);
    const fields = await this.host.api.getProfile(accountId, version);
    if (fields === undefined) return undefined;
    const open = async (field: ProfileField): Promise<Uint8Array | undefined> => {
      const sealed = fields[field];
      if (!sealed) return undefined;
      try {
        return await decryptProfileField(this.host.crypto, key, version, field, sealed);
      } catch {
        return undefined;
      }
    };
    const text = (bytes: Uint8Array | undefined, max: number) => {
      if (!bytes) return undefined;
      try {
        const value = decoder.decode(bytes);
        return [...value].length <= max ? value : undefined;
      } catch {
        return undefined;
      }
    };
    const name = text(await open('name'), MAX_PROFILE_NAME);
    const about = text(await open('about'), MAX_PROFILE_ABOUT);
    const avatar = await open('avatar');
    return { ...(name !== undefined ? { name } : {}), ...(about !== undefined ? { about } : {}), ...(avatar !== undefined ? { avatar } : {}) };
  }

  /** A contact's avatar as their profile last gave it. */
  async avatarOf(accountId: string): Promise<Uint8Array | undefined> {
    const stored = await this.host.store.getKv(KV.avatar(accountId));
    return stored === undefined ? undefined : fromBase64(stored);
  }

  /** The upkeep: our profile on the server, and contacts' profiles fetched again once a day old. */
  async refresh(): Promise<void> {
    await this.publish();
    const now = this.host.now();
    for (const contact of await this.host.store.listContacts()) {
      if (contact.profileKey === undefined || contact.blocked) continue;
      if (contact.profileFetchedAt !== undefined && now - contact.profileFetchedAt < PROFILE_REFRESH_MS) continue;
      await this.fetch(contact.accountId).catch(() => undefined);
    }
  }
}
