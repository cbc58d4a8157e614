import { beforeAll, describe, expect, it } from 'vitest';
import { concatBytes, fromHex } from '../../src/crypto/bytes.js';
import { ProtocolErrorCode } from '../../src/errors.js';
import { encodeIdentityKey } from '../../src/keys/identity.js';
import {
  DEVICE_CREDENTIAL_VERSION,
  decodeDeviceCredential,
  deviceCredentialSignedMessage,
  signDeviceCredential,
  verifyDeviceCredential,
} from '../../src/groups/device-credential.js';
import type { MlsDeviceIdentity } from '../../src/groups/engine/types.js';
import { epochOf, treeHashOf } from '../../src/groups/engine/inspect.js';
import type { Account, Device } from './fixtures.js';
import {
  Directory,
  crypto,
  deliver,
  errorCode,
  keyPackage,
  laxCrypto,
  makeAccount,
  makeDevice,
  stateOf,
} from './fixtures.js';

function uint32(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value);
  return out;
}

describe('device credentials', () => {
  it('round-trips and verifies a binding made by the account identity key', async () => {
    const alice = await makeAccount('alice');
    const signatureKey = crypto.randomBytes(32);
    const bytes = await signDeviceCredential(crypto, alice.identity, alice.accountId, 7, signatureKey);
    const credential = await verifyDeviceCredential(crypto, bytes, signatureKey);
    expect(credential).toEqual({
      accountId: alice.accountId,
      deviceId: 7,
      identityKey: encodeIdentityKey(alice.identity.publicKey),
    });
  });

  it('binds the MLS signature key, account and device: changing any one breaks the signature', async () => {
    const alice = await makeAccount('alice');
    const signatureKey = crypto.randomBytes(32);
    const bytes = await signDeviceCredential(crypto, alice.identity, alice.accountId, 7, signatureKey);
    expect(await errorCode(verifyDeviceCredential(crypto, bytes, crypto.randomBytes(32)))).toBe(
      ProtocolErrorCode.BadSignature,
    );
    const otherDevice = bytes.slice();
    otherDevice[1 + 16 + 3]! ^= 1;
    expect(await errorCode(verifyDeviceCredential(crypto, otherDevice, signatureKey))).toBe(
      ProtocolErrorCode.BadSignature,
    );
    const otherAccount = bytes.slice();
    otherAccount[1]! ^= 1;
    expect(await errorCode(verifyDeviceCredential(crypto, otherAccount, signatureKey))).toBe(
      ProtocolErrorCode.BadSignature,
    );
    expect(await errorCode(verifyDeviceCredential(crypto, bytes.subarray(0, 50), signatureKey))).toBe(
      ProtocolErrorCode.Decode,
    );
    expect(await errorCode(verifyDeviceCredential(crypto, concatBytes(Uint8Array.of(9), bytes.subarray(1)), signatureKey))).toBe(
      ProtocolErrorCode.UnknownVersion,
    );
  });

  it('is domain-separated from other identity-key signatures', () => {
    const message = deviceCredentialSignedMessage(new Uint8Array(32), {
      accountId: '00'.repeat(16),
      deviceId: 1,
      identityKey: new Uint8Array(65),
    });
    expect(new TextDecoder().decode(message.subarray(0, 33))).toBe('Samizdat MLS device credential v1');
    expect(message[33]).toBe(0);
  });
});

/**
 * The two forgeries: a device key signed by another account's identity key (claiming the victim's account), and the
 * victim's identity key in the credential with a signature by some other key.
 */
type Forgery = readonly [string, ProtocolErrorCode, (victim: Account, mallory: Account, sigKey: Uint8Array) => Promise<Uint8Array>];
const forgeries: readonly Forgery[] = [
  [
    "signed by another account's identity key",
    ProtocolErrorCode.UntrustedIdentity,
    (victim, mallory, sigKey) => signDeviceCredential(crypto, mallory.identity, victim.accountId, 9, sigKey),
  ],
  [
    "carrying the account's identity key with a signature by another key",
    ProtocolErrorCode.BadSignature,
    async (victim, mallory, sigKey) => {
      const identityKey = encodeIdentityKey(victim.identity.publicKey);
      const message = deviceCredentialSignedMessage(sigKey, { accountId: victim.accountId, deviceId: 9, identityKey });
      const signature = await crypto.ed25519Sign(mallory.identity.signing.privateKey, message);
      return concatBytes(
        Uint8Array.of(DEVICE_CREDENTIAL_VERSION),
        fromHex(victim.accountId),
        uint32(9),
        identityKey,
        signature,
      );
    },
  ],
];

describe.each(forgeries)('a forged device credential (%s)', (_name, code, forge) => {
  let directory: Directory;
  let alice: Account;
  let bob: Account;
  let mallory: Account;
  let honest: Device[];
  /** A member whose client skips every check (what a malicious or buggy client sends). */
  let lax: Device;
  /** The forged device: claims to be bob's device 9. */
  let forged: Device;

  async function forgedDevice(): Promise<Device> {
    const base = await makeDevice(mallory, 9, directory, { crypto: laxCrypto(), isTrustedIdentity: () => true });
    const credential = await forge(bob, mallory, base.mls.signaturePublicKey);
    const { accountId, deviceId, identityKey } = decodeDeviceCredential(credential);
    const mls: MlsDeviceIdentity = { ...base.mls, accountId, deviceId, identityKey, credential };
    return { ...base, mls, name: 'forged' };
  }

  beforeAll(async () => {
    directory = new Directory();
    alice = await makeAccount('alice', directory);
    bob = await makeAccount('bob', directory);
    mallory = await makeAccount('mallory', directory); // a real account, pinned with her own key
    honest = [await makeDevice(alice, 1, directory), await makeDevice(bob, 1, directory), await makeDevice(alice, 2, directory)];
    lax = await makeDevice(bob, 2, directory, { crypto: laxCrypto(), isTrustedIdentity: () => true });
    forged = await forgedDevice();
    const [alice1, bob1] = honest as [Device, Device];
    alice1.state = await alice1.engine.createGroup(alice1.mls);
    const bundles = [await keyPackage(bob1), await keyPackage(lax)];
    const added = await alice1.engine.addMembers(
      stateOf(alice1),
      bundles.map((b) => b.publicKeyPackage),
    );
    alice1.state = added.state;
    bob1.state = await bob1.engine.joinFromWelcome(bundles[0]!.privateKeyPackage, added.welcome!);
    lax.state = await lax.engine.joinFromWelcome(bundles[1]!.privateKeyPackage, added.welcome!);
  });

  const members = () => [honest[0]!, honest[1]!];

  it('is refused by a committer adding its key package', async () => {
    const kp = await keyPackage(forged);
    for (const d of members()) {
      expect(await errorCode(d.engine.addMembers(stateOf(d), [kp.publicKeyPackage]))).toBe(code);
    }
  });

  it('is refused by every member processing a commit that adds it, whose state stays usable', async () => {
    const kp = await keyPackage(forged);
    const { commit } = await lax.engine.addMembers(stateOf(lax), [kp.publicKeyPackage]);
    for (const d of members()) {
      const before = stateOf(d);
      expect(await errorCode(d.engine.processMessage(before, commit))).toBe(code);
      expect(epochOf(stateOf(d))).toBe(epochOf(before));
    }
    // Members still agree and can go on.
    const update = await honest[0]!.engine.update(stateOf(honest[0]!));
    honest[0]!.state = update.state;
    await deliver([honest[1]!, lax], update.commit);
    expect(treeHashOf(stateOf(honest[1]!))).toEqual(treeHashOf(stateOf(honest[0]!)));
  });

  it('is refused by every device joining from a Welcome whose tree contains it', async () => {
    const joiner = honest[2]!;
    const [kpJoiner, kpForged] = [await keyPackage(joiner), await keyPackage(forged)];
    const { welcome } = await lax.engine.addMembers(stateOf(lax), [kpJoiner.publicKeyPackage, kpForged.publicKeyPackage]);
    expect(await errorCode(joiner.engine.joinFromWelcome(kpJoiner.privateKeyPackage, welcome!))).toBe(code);
  });

  it('is refused when a forged device creates the group (the initial tree) and invites honest devices', async () => {
    const creator = await forgedDevice();
    creator.state = await creator.engine.createGroup(creator.mls);
    for (const joiner of honest) {
      const kp = await keyPackage(joiner);
      const { welcome } = await creator.engine.addMembers(stateOf(creator), [kp.publicKeyPackage]);
      expect(await errorCode(joiner.engine.joinFromWelcome(kp.privateKeyPackage, welcome!))).toBe(code);
    }
  });

  it('is refused by every member when it joins by external commit', async () => {
    const groupInfo = await honest[0]!.engine.exportGroupInfo(stateOf(honest[0]!));
    const { commit } = await forged.engine.joinExternal(forged.mls, groupInfo);
    for (const d of members()) expect(await errorCode(d.engine.processMessage(stateOf(d), commit))).toBe(code);
  });

  it('makes an external join into a group containing it fail for the honest joiner', async () => {
    const kp = await keyPackage(forged);
    const added = await lax.engine.addMembers(stateOf(lax), [kp.publicKeyPackage]);
    const groupInfo = await lax.engine.exportGroupInfo(added.state);
    const joiner = honest[2]!;
    expect(await errorCode(joiner.engine.joinExternal(joiner.mls, groupInfo))).toBe(code);
  });
});
