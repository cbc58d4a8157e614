/** Shared test fixtures: both providers, and devices with an in-memory store and a server-like bundle source. */
import type { CryptoProvider } from '../src/crypto/provider.js';
import { ProtocolError } from '../src/errors.js';
import { NodeCryptoProvider } from '../src/crypto/node-provider.js';
import { WebCryptoProvider } from '../src/crypto/web-provider.js';
import type { IdentityKeyPair } from '../src/keys/identity.js';
import { generateIdentityKeyPair } from '../src/keys/identity.js';
import type { PreKeyBundle } from '../src/keys/bundle.js';
import type { KyberPreKey } from '../src/keys/prekeys.js';
import { generateKyberPreKey, generateOneTimePreKeys, generateSignedPreKey } from '../src/keys/prekeys.js';
import { InMemoryProtocolStore } from '../src/sessions/in-memory-store.js';
import { SessionManager } from '../src/sessions/session-manager.js';
import type { ProtocolAddress } from '../src/sessions/stores.js';

export const nodeProvider = new NodeCryptoProvider();
export const webProvider = new WebCryptoProvider();
/** Every protocol test runs against each provider. */
export const providers: ReadonlyArray<readonly [string, CryptoProvider]> = [
  ['node', nodeProvider],
  ['web', webProvider],
];

export interface TestDevice {
  readonly address: ProtocolAddress;
  readonly identity: IdentityKeyPair;
  store: InMemoryProtocolStore;
  manager: SessionManager;
  /** What a server would hand out: one one-time prekey per call while they last, one-time ML-KEM keys first. */
  bundle(): PreKeyBundle;
}

export interface DeviceOptions {
  readonly oneTimePreKeys?: number;
  readonly oneTimeKyberPreKeys?: number;
  /** Reuse an account identity (a linked device of the same account). */
  readonly identity?: IdentityKeyPair;
}

export async function makeDevice(
  provider: CryptoProvider,
  address: ProtocolAddress,
  options: DeviceOptions = {},
): Promise<TestDevice> {
  const identity = options.identity ?? (await generateIdentityKeyPair(provider));
  const store = new InMemoryProtocolStore(identity);
  const now = Date.now();
  const signed = await generateSignedPreKey(provider, identity, 1, now);
  store.signedPreKeys.set(signed.id, signed);
  const lastResort = await generateKyberPreKey(provider, identity, 1000, true, now);
  store.kyberPreKeys.set(lastResort.id, lastResort);
  const oneTimeKyber: KyberPreKey[] = [];
  for (let i = 0; i < (options.oneTimeKyberPreKeys ?? 1); i++) {
    const k = await generateKyberPreKey(provider, identity, 2000 + i, false, now);
    store.kyberPreKeys.set(k.id, k);
    oneTimeKyber.push(k);
  }
  const oneTime = await generateOneTimePreKeys(provider, 100, options.oneTimePreKeys ?? 2);
  for (const k of oneTime) store.oneTimePreKeys.set(k.id, k);
  const device: TestDevice = {
    address,
    identity,
    store,
    manager: new SessionManager(provider, store),
    bundle() {
      const otp = oneTime.shift();
      const kyber = oneTimeKyber.shift() ?? lastResort;
      return {
        identityKey: identity.publicKey,
        deviceId: address.device,
        signedPreKey: { id: signed.id, publicKey: signed.keyPair.publicKey, signature: signed.signature },
        ...(otp ? { oneTimePreKey: { id: otp.id, publicKey: otp.keyPair.publicKey } } : {}),
        kyberPreKey: { id: kyber.id, publicKey: kyber.keyPair.publicKey, signature: kyber.signature },
      };
    },
  };
  return device;
}

/** A process restart: a new store holding only what the old one had serialized, and a new manager over it. */
export function restart(provider: CryptoProvider, device: TestDevice): void {
  const old = device.store;
  const fresh = new InMemoryProtocolStore(device.identity);
  for (const [k, v] of old.sessions) fresh.sessions.set(k, v.slice());
  for (const [k, v] of old.identities) fresh.identities.set(k, v.slice());
  for (const [k, v] of old.signedPreKeys) fresh.signedPreKeys.set(k, v);
  for (const [k, v] of old.oneTimePreKeys) fresh.oneTimePreKeys.set(k, v);
  for (const [k, v] of old.kyberPreKeys) fresh.kyberPreKeys.set(k, v);
  fresh.copyKyberBaseKeysFrom(old);
  device.store = fresh;
  device.manager = new SessionManager(provider, fresh);
}

export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
export const text = (b: Uint8Array): string => new TextDecoder().decode(b);

/** Runs `fn` and returns the ProtocolError code it threw; fails the test for any other outcome. */
export function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (ProtocolError.is(err)) return err.code;
    throw err;
  }
  throw new Error('expected a ProtocolError');
}
