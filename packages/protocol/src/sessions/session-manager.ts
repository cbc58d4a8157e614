/**
 * Multi-device sessions in the spirit of Sesame (signal.org/docs/specifications/sesame): a user is an account with
 * several devices, a message is encrypted once per device (the recipient's devices and the sender's own other
 * devices), and the device list is kept in step with what the server says exists.
 */
import type { CryptoProvider } from '../crypto/provider.js';
import { ProtocolError, ProtocolErrorCode } from '../errors.js';
import type { PreKeyBundle } from '../keys/bundle.js';
import type { CiphertextMessage, DecryptResult } from './session-cipher.js';
import { decryptMessage, encryptMessage, processPreKeyBundle, retireSession, sessionSendingWith } from './session-cipher.js';
import { decodeSessionRecord } from './session-record.js';
import type { ProtocolAddress, ProtocolStore } from './stores.js';

export interface DeviceCiphertext {
  readonly address: ProtocolAddress;
  readonly message: CiphertextMessage;
}

/**
 * One device's view of its sessions with every other device. Calls for the same address must not interleave
 * (each reads, advances and stores that address's record); callers serialize per address, as the client does.
 */
export class SessionManager {
  constructor(
    private readonly provider: CryptoProvider,
    private readonly store: ProtocolStore,
  ) {}

  async hasSession(address: ProtocolAddress): Promise<boolean> {
    const bytes = await this.store.loadSession(address);
    return bytes !== undefined && decodeSessionRecord(bytes).active !== undefined;
  }

  /** The addresses among `addresses` that need a prekey bundle before `encryptForDevices` can run. */
  async missingSessions(addresses: readonly ProtocolAddress[]): Promise<ProtocolAddress[]> {
    const out: ProtocolAddress[] = [];
    for (const a of addresses) if (!(await this.hasSession(a))) out.push(a);
    return out;
  }

  /** Starts a session with a (new) device from its prekey bundle (PQXDH as initiator). */
  processPreKeyBundle(address: ProtocolAddress, bundle: PreKeyBundle): Promise<{ identityChanged: boolean }> {
    return processPreKeyBundle(this.provider, this.store, address, bundle);
  }

  encrypt(address: ProtocolAddress, plaintext: Uint8Array): Promise<CiphertextMessage> {
    return encryptMessage(this.provider, this.store, address, plaintext);
  }

  /**
   * Encrypts one plaintext for each device (Sesame §3.1). All-or-nothing on missing sessions: if any address has
   * no session, throws NO_SESSION before any session advances.
   */
  async encryptForDevices(addresses: readonly ProtocolAddress[], plaintext: Uint8Array): Promise<DeviceCiphertext[]> {
    const missing = await this.missingSessions(addresses);
    if (missing.length > 0) {
      throw new ProtocolError(ProtocolErrorCode.NoSession, `no session with ${missing.length} device(s)`);
    }
    const out: DeviceCiphertext[] = [];
    for (const address of addresses) out.push({ address, message: await this.encrypt(address, plaintext) });
    return out;
  }

  decrypt(address: ProtocolAddress, message: CiphertextMessage): Promise<DecryptResult> {
    return decryptMessage(this.provider, this.store, address, message);
  }

  /** The active session with `address`, by base key, if it sends with `ratchetKey` now (session-cipher.ts). */
  sessionSendingWith(address: ProtocolAddress, ratchetKey: Uint8Array): Promise<Uint8Array | undefined> {
    return sessionSendingWith(this.store, address, ratchetKey);
  }

  /** Retires the active session with `address` if it is the one named by `baseKey` (session-cipher.ts). */
  retireSession(address: ProtocolAddress, baseKey: Uint8Array): Promise<boolean> {
    return retireSession(this.store, address, baseKey);
  }

  /** Devices of `account` with which we hold a session. */
  devices(account: string): Promise<number[]> {
    return this.store.listSessionDevices(account);
  }

  /** Forgets a removed device: nothing more is encrypted to it. */
  removeDevice(address: ProtocolAddress): Promise<void> {
    return this.store.deleteSession(address);
  }

  /**
   * Brings our sessions for `account` in line with its current device list (as the server reports it, e.g. on a
   * device-list mismatch): sessions of devices no longer listed are deleted, and the listed devices that have no
   * session are returned so the caller can fetch their bundles.
   */
  async reconcileDevices(account: string, deviceIds: readonly number[]): Promise<{ removed: number[]; missing: number[] }> {
    const current = await this.devices(account);
    const wanted = new Set(deviceIds);
    const removed = current.filter((d) => !wanted.has(d));
    for (const device of removed) await this.removeDevice({ account, device });
    const missing = (await this.missingSessions(deviceIds.map((device) => ({ account, device })))).map((a) => a.device);
    return { removed, missing };
  }
}
