/** Reference ProtocolStore kept in memory (tests, benchmarks, and a model for real storage adapters). */
import { toHex } from '../crypto/bytes.js';
import type { IdentityKeyPair } from '../keys/identity.js';
import type { KyberPreKey, OneTimePreKey, PreKeyId, SignedPreKey } from '../keys/prekeys.js';
import type { IdentityDirection, ProtocolAddress, ProtocolStore } from './stores.js';
import { addressKey } from './stores.js';

export class InMemoryProtocolStore implements ProtocolStore {
  readonly sessions = new Map<string, Uint8Array>();
  readonly identities = new Map<string, Uint8Array>();
  readonly signedPreKeys = new Map<PreKeyId, SignedPreKey>();
  readonly oneTimePreKeys = new Map<PreKeyId, OneTimePreKey>();
  readonly kyberPreKeys = new Map<PreKeyId, KyberPreKey>();
  private readonly kyberBaseKeys = new Set<string>();

  constructor(
    private readonly identity: IdentityKeyPair,
    /** Policy for a changed identity key; the default trusts on first use and accepts changes (Signal's default). */
    private readonly trust: (account: string, key: Uint8Array, known: Uint8Array | undefined) => boolean = () => true,
  ) {}

  async getIdentityKeyPair(): Promise<IdentityKeyPair> {
    return this.identity;
  }

  async isTrustedIdentity(account: string, identityKey: Uint8Array, _direction: IdentityDirection): Promise<boolean> {
    return this.trust(account, identityKey, this.identities.get(account));
  }

  async saveIdentity(account: string, identityKey: Uint8Array): Promise<boolean> {
    const known = this.identities.get(account);
    this.identities.set(account, identityKey.slice());
    return known !== undefined && toHex(known) !== toHex(identityKey);
  }

  async loadSession(address: ProtocolAddress): Promise<Uint8Array | undefined> {
    return this.sessions.get(addressKey(address));
  }

  async storeSession(address: ProtocolAddress, record: Uint8Array): Promise<void> {
    this.sessions.set(addressKey(address), record);
  }

  async deleteSession(address: ProtocolAddress): Promise<void> {
    this.sessions.delete(addressKey(address));
  }

  async listSessionDevices(account: string): Promise<number[]> {
    const prefix = `${account}.`;
    const out: number[] = [];
    for (const key of this.sessions.keys()) if (key.startsWith(prefix)) out.push(Number(key.slice(prefix.length)));
    return out.sort((a, b) => a - b);
  }

  async loadSignedPreKey(id: PreKeyId): Promise<SignedPreKey | undefined> {
    return this.signedPreKeys.get(id);
  }

  async loadOneTimePreKey(id: PreKeyId): Promise<OneTimePreKey | undefined> {
    return this.oneTimePreKeys.get(id);
  }

  async removeOneTimePreKey(id: PreKeyId): Promise<void> {
    this.oneTimePreKeys.delete(id);
  }

  async loadKyberPreKey(id: PreKeyId): Promise<KyberPreKey | undefined> {
    return this.kyberPreKeys.get(id);
  }

  async hasKyberBaseKey(id: PreKeyId, baseKey: Uint8Array): Promise<boolean> {
    return this.kyberBaseKeys.has(`${id}:${toHex(baseKey)}`);
  }

  /** For tests that simulate a restart into a fresh store. */
  copyKyberBaseKeysFrom(other: InMemoryProtocolStore): void {
    for (const k of other.kyberBaseKeys) this.kyberBaseKeys.add(k);
  }

  async markKyberPreKeyUsed(id: PreKeyId, baseKey: Uint8Array): Promise<void> {
    const key = this.kyberPreKeys.get(id);
    if (!key) return;
    if (key.lastResort) this.kyberBaseKeys.add(`${id}:${toHex(baseKey)}`);
    else this.kyberPreKeys.delete(id);
  }
}
