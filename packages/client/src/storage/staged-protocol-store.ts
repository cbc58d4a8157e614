/**
 * The protocol's store interface over a ClientStore, with every write held back: reads see the staged writes first,
 * and `flush(tx)` hands them to one atomic batch together with whatever the caller stores alongside (the decrypted
 * message, its de-duplication mark). One instance serves one operation — a decrypt or an encrypt — and is then
 * flushed or dropped: dropping it leaves the stored state exactly as it was (a failed decrypt changes nothing).
 */
import { addressKey, constantTimeEqual, decodeIdentityKeyPair } from '@samizdat/protocol';
import type {
  IdentityDirection,
  IdentityKeyPair,
  KyberPreKey,
  OneTimePreKey,
  PreKeyId,
  ProtocolAddress,
  ProtocolStore,
  SignedPreKey,
} from '@samizdat/protocol';
import type { ClientStore, StoreTx } from './store.js';

export interface IdentityChange {
  readonly account: string;
  /** Whether a different key had been pinned before (false: first contact). */
  readonly replaced: boolean;
}

export class StagedProtocolStore implements ProtocolStore {
  private readonly sessions = new Map<string, { address: ProtocolAddress; record: Uint8Array | undefined }>();
  private readonly identities = new Map<string, Uint8Array>();
  private readonly removedOneTime = new Set<PreKeyId>();
  private readonly kyberUsed: { id: PreKeyId; baseKey: Uint8Array; lastResort: boolean }[] = [];
  /** Identity keys pinned for the first time or replaced during this operation. */
  readonly identityChanges: IdentityChange[] = [];

  constructor(
    private readonly store: ClientStore,
    private readonly identity: IdentityKeyPair,
  ) {}

  /** Reads the account identity from the store. */
  static async open(store: ClientStore, identityKeyPair: Uint8Array): Promise<StagedProtocolStore> {
    return new StagedProtocolStore(store, decodeIdentityKeyPair(identityKeyPair));
  }

  get hasWrites(): boolean {
    return this.sessions.size > 0 || this.identities.size > 0 || this.removedOneTime.size > 0 || this.kyberUsed.length > 0;
  }

  async getIdentityKeyPair(): Promise<IdentityKeyPair> {
    return this.identity;
  }

  /**
   * Messages keep flowing after a contact's identity key changes (Signal's default): the change is recorded in
   * `identityChanges` so that the client warns the user and clears the verified mark.
   */
  async isTrustedIdentity(_account: string, _identityKey: Uint8Array, _direction: IdentityDirection): Promise<boolean> {
    return true;
  }

  async saveIdentity(account: string, identityKey: Uint8Array): Promise<boolean> {
    const known = this.identities.get(account) ?? (await this.store.getIdentity(account));
    const replaced = known !== undefined && !constantTimeEqual(known, identityKey);
    if (known === undefined || replaced) {
      this.identities.set(account, identityKey.slice());
      this.identityChanges.push({ account, replaced });
    }
    return replaced;
  }

  async loadSession(address: ProtocolAddress): Promise<Uint8Array | undefined> {
    const staged = this.sessions.get(addressKey(address));
    return staged ? staged.record : this.store.loadSession(address);
  }

  async storeSession(address: ProtocolAddress, record: Uint8Array): Promise<void> {
    this.sessions.set(addressKey(address), { address, record: record.slice() });
  }

  async deleteSession(address: ProtocolAddress): Promise<void> {
    this.sessions.set(addressKey(address), { address, record: undefined });
  }

  async listSessionDevices(account: string): Promise<number[]> {
    const devices = new Set(await this.store.listSessionDevices(account));
    for (const { address, record } of this.sessions.values()) {
      if (address.account !== account) continue;
      if (record) devices.add(address.device);
      else devices.delete(address.device);
    }
    return [...devices].sort((a, b) => a - b);
  }

  loadSignedPreKey(id: PreKeyId): Promise<SignedPreKey | undefined> {
    return this.store.getSignedPreKey(id);
  }

  async loadOneTimePreKey(id: PreKeyId): Promise<OneTimePreKey | undefined> {
    return this.removedOneTime.has(id) ? undefined : this.store.getOneTimePreKey(id);
  }

  async removeOneTimePreKey(id: PreKeyId): Promise<void> {
    this.removedOneTime.add(id);
  }

  async loadKyberPreKey(id: PreKeyId): Promise<KyberPreKey | undefined> {
    if (this.kyberUsed.some((k) => k.id === id && !k.lastResort)) return undefined;
    return this.store.getKyberPreKey(id);
  }

  async hasKyberBaseKey(id: PreKeyId, baseKey: Uint8Array): Promise<boolean> {
    if (this.kyberUsed.some((k) => k.id === id && constantTimeEqual(k.baseKey, baseKey))) return true;
    return this.store.hasKyberBaseKey(id, baseKey);
  }

  async markKyberPreKeyUsed(id: PreKeyId, baseKey: Uint8Array): Promise<void> {
    const key = await this.store.getKyberPreKey(id);
    this.kyberUsed.push({ id, baseKey: baseKey.slice(), lastResort: key?.lastResort ?? false });
  }

  /** Writes everything staged into `tx` (call inside ClientStore.write). */
  flush(tx: StoreTx): void {
    for (const { address, record } of this.sessions.values()) tx.putSession(address, record);
    for (const [account, key] of this.identities) tx.putIdentity(account, key);
    for (const id of this.removedOneTime) tx.removeOneTimePreKey(id);
    for (const { id, baseKey, lastResort } of this.kyberUsed) {
      if (lastResort) tx.addKyberBaseKey(id, baseKey);
      else tx.removeKyberPreKey(id);
    }
  }
}
