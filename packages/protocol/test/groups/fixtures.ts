/** Group test fixtures: accounts with identity keys, devices with their own MlsEngine, a pinned-identity directory. */
import { expect } from 'vitest';
import { NodeCryptoProvider } from '../../src/crypto/node-provider.js';
import type { CryptoProvider } from '../../src/crypto/provider.js';
import { toHex } from '../../src/crypto/bytes.js';
import { ProtocolError } from '../../src/errors.js';
import type { IdentityKeyPair } from '../../src/keys/identity.js';
import { encodeIdentityKey, generateIdentityKeyPair } from '../../src/keys/identity.js';
import type { GroupState, KeyPackageBundle, MlsDeviceIdentity, MlsEngineOptions } from '../../src/groups/engine/types.js';
import { epochOf, treeHashOf } from '../../src/groups/engine/inspect.js';
import { MlsEngine } from '../../src/groups/mls-engine.js';
import { nodeMlsCryptoProvider } from '../../src/groups/node-mls-provider.js';

export const crypto = new NodeCryptoProvider();

export interface Account {
  readonly name: string;
  readonly accountId: string;
  readonly identity: IdentityKeyPair;
}

/** What every honest client pins: account id → identity key (65-byte encoding, hex). */
export class Directory {
  private readonly pinned = new Map<string, string>();
  add(account: Account): void {
    this.pinned.set(account.accountId, toHex(encodeIdentityKey(account.identity.publicKey)));
  }
  readonly isTrusted = (accountId: string, identityKey: Uint8Array): boolean =>
    this.pinned.get(accountId) === toHex(identityKey);
}

export async function makeAccount(name: string, directory?: Directory): Promise<Account> {
  const account = { name, accountId: toHex(crypto.randomBytes(16)), identity: await generateIdentityKeyPair(crypto) };
  directory?.add(account);
  return account;
}

export interface Device {
  readonly name: string;
  readonly account: Account;
  readonly deviceId: number;
  readonly engine: MlsEngine;
  readonly mls: MlsDeviceIdentity;
  state?: GroupState;
}

export async function makeDevice(
  account: Account,
  deviceId: number,
  directory: Directory,
  options: Partial<MlsEngineOptions> = {},
): Promise<Device> {
  const engine = new MlsEngine({
    crypto,
    isTrustedIdentity: directory.isTrusted,
    mlsCryptoProvider: nodeMlsCryptoProvider,
    ...options,
  });
  const mls = await engine.createDeviceIdentity(account.identity, account.accountId, deviceId);
  return { name: `${account.name}${deviceId}`, account, deviceId, engine, mls };
}

export async function keyPackage(device: Device): Promise<KeyPackageBundle> {
  const [bundle] = await device.engine.generateKeyPackages(device.mls, 1);
  if (bundle === undefined) throw new Error('no key package');
  return bundle;
}

export function stateOf(device: Device): GroupState {
  if (device.state === undefined) throw new Error(`${device.name} is not in a group`);
  return device.state;
}

/** Every device processes `message` (a commit or proposal) in order; returns nothing, updates states. */
export async function deliver(devices: readonly Device[], message: Uint8Array): Promise<void> {
  for (const device of devices) {
    const result = await device.engine.processMessage(stateOf(device), message);
    device.state = result.state;
  }
}

/** `sender` encrypts; every other device decrypts it and sees the right plaintext and sender. */
export async function talk(sender: Device, receivers: readonly Device[], text: string): Promise<Uint8Array> {
  const plaintext = new TextEncoder().encode(text);
  const { state, message } = await sender.engine.encrypt(stateOf(sender), plaintext);
  sender.state = state;
  for (const receiver of receivers) {
    if (receiver === sender) continue;
    const result = await receiver.engine.processMessage(stateOf(receiver), message);
    expect(result.kind).toBe('application');
    if (result.kind !== 'application') throw new Error('unreachable');
    expect(new TextDecoder().decode(result.plaintext)).toBe(text);
    expect(result.sender.accountId).toBe(sender.account.accountId);
    expect(result.sender.deviceId).toBe(sender.deviceId);
    receiver.state = result.state;
  }
  return message;
}

/** All devices are in the same epoch with the same tree hash. */
export function expectConverged(devices: readonly Device[]): void {
  const [first, ...rest] = devices;
  if (first === undefined) return;
  for (const d of rest) {
    expect(epochOf(stateOf(d)), d.name).toBe(epochOf(stateOf(first)));
    expect(toHex(treeHashOf(stateOf(d))), d.name).toBe(toHex(treeHashOf(stateOf(first))));
  }
}

export async function errorCode(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    if (ProtocolError.is(err)) return err.code;
    throw err;
  }
  throw new Error('expected a ProtocolError, got success');
}

/** A CryptoProvider that accepts every signature: lets a test build what a malicious client would send. */
export function laxCrypto(): CryptoProvider {
  return new Proxy(crypto, {
    get(target, property, receiver) {
      if (property === 'ed25519Verify') return async () => true;
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
