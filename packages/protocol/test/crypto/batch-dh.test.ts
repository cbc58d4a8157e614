import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/crypto/bytes.js';
import { ProtocolError } from '../../src/errors.js';
import { providers } from '../helpers.js';

// A low-order point (RFC 7748 §6.1): u = 0 gives an all-zero DH output.
const LOW_ORDER = new Uint8Array(32);

describe.each(providers)('batched X25519 (%s provider)', (_name, provider) => {
  it('x25519Many gives the same outputs as one x25519 per public key', async () => {
    const ours = await provider.x25519GenerateKeyPair();
    const peers = await Promise.all([1, 2, 3].map(() => provider.x25519GenerateKeyPair()));
    const batched = await provider.x25519Many(ours.privateKey, peers.map((p) => p.publicKey));
    const single = await Promise.all(peers.map((p) => provider.x25519(ours.privateKey, p.publicKey)));
    expect(batched.map(toHex)).toEqual(single.map(toHex));
    // ...and the peers compute the same secrets from their side.
    const mirrored = await Promise.all(peers.map((p) => provider.x25519(p.privateKey, ours.publicKey)));
    expect(batched.map(toHex)).toEqual(mirrored.map(toHex));
  });

  it('x25519GenerateAndAgree returns a consistent fresh key pair and its DH outputs', async () => {
    const peers = await Promise.all([1, 2].map(() => provider.x25519GenerateKeyPair()));
    const { keyPair, shared } = await provider.x25519GenerateAndAgree(peers.map((p) => p.publicKey));
    const again = await provider.x25519GenerateAndAgree(peers.map((p) => p.publicKey));
    expect(toHex(again.keyPair.privateKey)).not.toBe(toHex(keyPair.privateKey));
    const expected = await Promise.all(peers.map((p) => provider.x25519(p.privateKey, keyPair.publicKey)));
    expect(shared.map(toHex)).toEqual(expected.map(toHex));
    expect(toHex((await provider.x25519Many(keyPair.privateKey, [peers[0]!.publicKey]))[0]!)).toBe(toHex(shared[0]!));
  });

  it('rejects a low-order public key in a batch with INVALID_KEY, like x25519', async () => {
    const ours = await provider.x25519GenerateKeyPair();
    const good = (await provider.x25519GenerateKeyPair()).publicKey;
    for (const run of [
      () => provider.x25519Many(ours.privateKey, [good, LOW_ORDER]),
      () => provider.x25519GenerateAndAgree([good, LOW_ORDER]),
      () => provider.x25519Many(ours.privateKey, [new Uint8Array(31)]),
    ]) {
      const err = await run().catch((e: unknown) => e);
      expect(ProtocolError.is(err, 'INVALID_KEY')).toBe(true);
    }
  });
});
