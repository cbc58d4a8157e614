import type { CryptoProvider } from '../../src/crypto/provider.js';
import { concatBytes } from '../../src/crypto/bytes.js';
import { encodeIdentityKey, generateIdentityKeyPair } from '../../src/keys/identity.js';
import { initializeAsInitiator, initializeAsResponder, ratchetDecrypt, ratchetEncrypt } from '../../src/ratchet/double-ratchet.js';
import type { SessionState } from '../../src/ratchet/session-state.js';
import { decodeRatchetMessage } from '../../src/wire/ratchet-message.js';

/** Two fresh Double Ratchet states as PQXDH would leave them (random SK, real identity-key AD). */
export async function ratchetPair(provider: CryptoProvider): Promise<{ alice: SessionState; bob: SessionState }> {
  const [ika, ikb] = [await generateIdentityKeyPair(provider), await generateIdentityKeyPair(provider)];
  const sk = provider.randomBytes(32);
  const ad = concatBytes(encodeIdentityKey(ika.publicKey), encodeIdentityKey(ikb.publicKey));
  const spk = await provider.x25519GenerateKeyPair();
  const baseKey = (await provider.x25519GenerateKeyPair()).publicKey;
  const alice = await initializeAsInitiator(provider, {
    sharedSecret: sk.slice(),
    associatedData: ad,
    theirRatchetKey: spk.publicKey,
    baseKey,
    pendingPreKey: { signedPreKeyId: 1, oneTimePreKeyId: undefined, kyberPreKeyId: 1, kemCiphertext: new Uint8Array(1568) },
  });
  const bob = initializeAsResponder({ sharedSecret: sk.slice(), associatedData: ad, ourRatchetKey: spk, baseKey, initialMessageDigest: new Uint8Array(32) });
  return { alice, bob };
}

export interface Party {
  state: SessionState;
}

export async function send(provider: CryptoProvider, party: Party, text: string): Promise<Uint8Array> {
  const { state, message } = await ratchetEncrypt(provider, party.state, new TextEncoder().encode(text));
  party.state = state;
  return message;
}

export async function receive(provider: CryptoProvider, party: Party, message: Uint8Array): Promise<string> {
  const { state, plaintext } = await ratchetDecrypt(provider, party.state, decodeRatchetMessage(message));
  party.state = state;
  return new TextDecoder().decode(plaintext);
}
