// Samizdat's adaptation of ts-mls's test/test-vectors/secretTree.test.ts (next to this file, excluded from the run):
// the original reads `tree[nodeIndex].handshake` / `.application`, the eager array of every node's ratchets that
// our patch (patches/ts-mls+1.6.4.patch §5) replaced by a lazy `{ leafWidth, intermediateNodes, leafNodes }`.
// Here each leaf's ratchets are reached the way the library reaches them, `ratchetToGeneration` (which derives the
// leaf from the nearest stored ancestor, then ratchets with `ratchetUntil` and derives key and nonce), threading
// the tree from one call to the next, so later leaves are derived from the siblings stored by earlier ones.
// The same values are compared as in the original, in the same order, with the same number of `expect`s
// (checked by `expect.assertions`): per vector the sender-data key and nonce, then for every leaf, every listed
// generation, the handshake generation, key and nonce, then the same for the application ratchet.
// The reuse guard is all zeros, so the nonce is the ratchet's nonce unmodified (RFC 9420 §6.3.1).
// See ../../README.md.
import { CiphersuiteId, CiphersuiteImpl, getCiphersuiteFromId } from "../../src/crypto/ciphersuite.js"
import { getCiphersuiteImpl } from "../../src/crypto/getCiphersuiteImpl.js"
import { hexToBytes } from "@noble/ciphers/utils.js"
import json from "../../test_vectors/secret-tree.json"
import { expandSenderDataKey, expandSenderDataNonce, ReuseGuard } from "../../src/sender.js"
import { createSecretTree, ratchetToGeneration } from "../../src/secretTree.js"
import { defaultKeyRetentionConfig } from "../../src/keyRetentionConfig.js"
import type { ExpectStatic } from "vitest"

test.concurrent.for(json.map((x, index) => [index, x] as const))(
  `secret-tree test vectors %i`,
  async ([_index, x], { expect }) => {
    // As many comparisons as the original makes: 2, then 3 per generation per ratchet.
    expect.assertions(2 + 6 * x.leaves.flat().length)
    const impl = await getCiphersuiteImpl(getCiphersuiteFromId(x.cipher_suite as CiphersuiteId))
    await testSecretTree(
      x.sender_data.sender_data_secret,
      x.sender_data.ciphertext,
      x.sender_data.key,
      x.sender_data.nonce,
      x.encryption_secret,
      x.leaves,
      impl,
      expect,
    )
  },
)

type Leaf = {
  generation: number
  handshake_key: string
  handshake_nonce: string
  application_key: string
  application_nonce: string
}

async function testSecretTree(
  senderSecret: string,
  ciphertext: string,
  key: string,
  nonce: string,
  encryptionSecret: string,
  leaves: Leaf[][],
  impl: CiphersuiteImpl,
  expect: ExpectStatic,
) {
  // key == sender_data_key(sender_data_secret, ciphertext)
  const derivedKey = await expandSenderDataKey(impl, hexToBytes(senderSecret), hexToBytes(ciphertext))
  expect(derivedKey).toStrictEqual(hexToBytes(key))

  //nonce == sender_data_nonce(sender_data_secret, ciphertext)
  const derivedNonce = await expandSenderDataNonce(impl, hexToBytes(senderSecret), hexToBytes(ciphertext))
  expect(derivedNonce).toStrictEqual(hexToBytes(nonce))

  let tree = await createSecretTree(leaves.length, hexToBytes(encryptionSecret), impl.kdf)
  const reuseGuard = new Uint8Array(4) as ReuseGuard
  for (const [index, leaf] of leaves.entries()) {
    for (const gen of leaf) {
      const senderData = { leafIndex: index, generation: gen.generation, reuseGuard }
      const ratcheted = await ratchetToGeneration(tree, senderData, "commit", defaultKeyRetentionConfig, impl)
      tree = ratcheted.newTree
      expect(ratcheted.generation).toBe(gen.generation)

      //handshake_key = handshake_ratchet_key_[i]_[generation]
      expect(ratcheted.key).toStrictEqual(hexToBytes(gen.handshake_key))

      // handshake_nonce = handshake_ratchet_nonce_[i]_[generation]
      expect(ratcheted.nonce).toStrictEqual(hexToBytes(gen.handshake_nonce))
    }

    for (const gen of leaf) {
      const senderData = { leafIndex: index, generation: gen.generation, reuseGuard }
      const ratcheted = await ratchetToGeneration(tree, senderData, "application", defaultKeyRetentionConfig, impl)
      tree = ratcheted.newTree
      expect(ratcheted.generation).toBe(gen.generation)

      // application_key = application_ratchet_key_[i]_[generation]
      expect(ratcheted.key).toStrictEqual(hexToBytes(gen.application_key))

      // application_nonce = application_ratchet_nonce_[i]_[generation]
      expect(ratcheted.nonce).toStrictEqual(hexToBytes(gen.application_nonce))
    }
  }
}
