/**
 * The official MLS interoperability vectors (github.com/mlswg/mls-implementations, as ts-mls 1.6.4 ships them; see
 * test/vectors/mls/README.md) run through both providers we ship (node:crypto, and ts-mls's default as the browser uses it), with ts-mls's own vector checks (its
 * test/test-vectors/*.test.ts at the same commit) ported here: every suite in the files (1–7) is supported by both
 * providers, so every entry runs.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import type { CiphersuiteImpl, CryptoProvider, GroupContext, PrivateKeyPackage, Hpke, Signature } from 'ts-mls';
import { getCiphersuiteImpl, joinGroup, makePskIndex, processPrivateMessage, processPublicMessage } from 'ts-mls';
import { getCiphersuiteFromId, getCiphersuiteNameFromId } from 'ts-mls/crypto/ciphersuite.js';
import type { CiphersuiteId } from 'ts-mls/crypto/ciphersuite.js';
import { signWithLabel, verifyWithLabel } from 'ts-mls/crypto/signature.js';
import { refhash } from 'ts-mls/crypto/hash.js';
import { deriveSecret, deriveTreeSecret, expandWithLabel } from 'ts-mls/crypto/kdf.js';
import { decryptWithLabel, encryptWithLabel } from 'ts-mls/crypto/hpke.js';
import { encodeGroupContext } from 'ts-mls/groupContext.js';
import { initializeEpoch, mlsExporter } from 'ts-mls/keySchedule.js';
import { expandSenderDataKey, expandSenderDataNonce } from 'ts-mls/sender.js';
import { createSecretTree, ratchetToGeneration } from 'ts-mls/secretTree.js';
import type { ReuseGuard } from 'ts-mls/sender.js';
import { leafToNodeIndex, nodeToLeafIndex, toLeafIndex, toNodeIndex } from 'ts-mls/treemath.js';
import { defaultKeyRetentionConfig } from 'ts-mls/keyRetentionConfig.js';
import { decodeAuthenticatedContent } from 'ts-mls/authenticatedContent.js';
import { createConfirmedHash, createInterimHash } from 'ts-mls/transcriptHash.js';
import { computePskSecret } from 'ts-mls/presharedkey.js';
import type { PreSharedKeyID } from 'ts-mls/presharedkey.js';
import { decodeMlsMessage } from 'ts-mls/message.js';
import { makeKeyPackageRef } from 'ts-mls/keyPackage.js';
import type { KeyPackage } from 'ts-mls/keyPackage.js';
import { verifyGroupInfoConfirmationTag, verifyGroupInfoSignature } from 'ts-mls/groupInfo.js';
import { decryptGroupInfo, decryptGroupSecrets } from 'ts-mls/welcome.js';
import { decodeRatchetTree, getHpkePublicKey, resolution } from 'ts-mls/ratchetTree.js';
import type { RatchetTree } from 'ts-mls/ratchetTree.js';
import { treeHash, treeHashRoot } from 'ts-mls/treeHash.js';
import { verifyParentHashes } from 'ts-mls/parentHash.js';
import { verifyLeafNodeSignature } from 'ts-mls/leafNode.js';
import { applyUpdatePath, createUpdatePath, decodeUpdatePath } from 'ts-mls/updatePath.js';
import { applyUpdatePathSecret } from 'ts-mls/createCommit.js';
import { getCommitSecret } from 'ts-mls/pathSecrets.js';
import type { PathSecrets } from 'ts-mls/pathSecrets.js';
import { toPrivateKeyPath } from 'ts-mls/privateKeyPath.js';
import type { PrivateKeyPath } from 'ts-mls/privateKeyPath.js';
import { unprotectPrivateMessage } from 'ts-mls/messageProtection.js';
import { unprotectPublicMessage } from 'ts-mls/messageProtectionPublic.js';
import { encodeProposal } from 'ts-mls/proposal.js';
import { encodeCommit } from 'ts-mls/commit.js';
import { defaultCapabilities } from 'ts-mls/defaultCapabilities.js';
import { nodeMlsCryptoProvider } from '../../src/groups/node-mls-provider.js';
import { defaultMlsCryptoProvider } from '../../src/groups/default-mls-provider.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- vector files are untyped JSON */
function vectors(name: string): any[] {
  return JSON.parse(readFileSync(new URL(`../vectors/mls/${name}.json`, import.meta.url), 'utf8')) as any[];
}

/** The providers we ship: node:crypto (Node) and ts-mls's default with our P-521 workaround (the browser). */
const PROVIDERS: [string, CryptoProvider][] = [
  ['node:crypto', nodeMlsCryptoProvider],
  ['default (browser)', defaultMlsCryptoProvider],
];

function implsOf(provider: CryptoProvider): (id: number) => Promise<CiphersuiteImpl> {
  const impls = new Map<number, Promise<CiphersuiteImpl>>();
  return (id) => {
    let impl = impls.get(id);
    if (impl === undefined) {
      impl = getCiphersuiteImpl(getCiphersuiteFromId(id as CiphersuiteId), provider);
      impls.set(id, impl);
    }
    return impl;
  };
}

const h = hexToBytes;

function cases(name: string): [string, any][] {
  return vectors(name).map((x, i) => [`#${i} suite ${x.cipher_suite}`, x]);
}

async function hpkeKeysMatch(publicKey: Uint8Array, privateKey: Uint8Array, hpke: Hpke): Promise<boolean> {
  const info = new TextEncoder().encode('key check');
  const { ct, enc } = await hpke.seal(await hpke.importPublicKey(publicKey), new Uint8Array([1, 2, 3]), info);
  const opened = await hpke.open(await hpke.importPrivateKey(privateKey), enc, ct, info);
  return bytesToHex(opened) === '010203';
}

async function signatureKeysMatch(publicKey: Uint8Array, privateKey: Uint8Array, s: Signature): Promise<boolean> {
  const message = new TextEncoder().encode('test');
  return s.verify(publicKey, message, await s.sign(privateKey, message));
}

function groupContext(x: any, treeHashBytes: Uint8Array): GroupContext {
  return {
    version: 'mls10',
    cipherSuite: getCiphersuiteNameFromId(x.cipher_suite as CiphersuiteId),
    groupId: h(x.group_id),
    epoch: BigInt(x.epoch),
    treeHash: treeHashBytes,
    confirmedTranscriptHash: h(x.confirmed_transcript_hash),
    extensions: [],
  };
}

describe.each(PROVIDERS)('MLS interop vectors through the %s provider', (_provider, provider) => {
  const implFor = implsOf(provider);

  it.each(cases('crypto-basics'))('crypto-basics %s', async (_name, x) => {
    const impl = await implFor(x.cipher_suite);
    expect(bytesToHex(await refhash(x.ref_hash.label, h(x.ref_hash.value), impl.hash))).toBe(x.ref_hash.out);
    expect(bytesToHex(await deriveSecret(h(x.derive_secret.secret), x.derive_secret.label, impl.kdf))).toBe(
      x.derive_secret.out,
    );
    const dts = x.derive_tree_secret;
    expect(bytesToHex(await deriveTreeSecret(h(dts.secret), dts.label, dts.generation, dts.length, impl.kdf))).toBe(
      dts.out,
    );
    const ewl = x.expand_with_label;
    expect(bytesToHex(await expandWithLabel(h(ewl.secret), ewl.label, h(ewl.context), ewl.length, impl.kdf))).toBe(
      ewl.out,
    );

    const e = x.encrypt_with_label;
    const privateKey = await impl.hpke.importPrivateKey(h(e.priv));
    const publicKey = await impl.hpke.importPublicKey(h(e.pub));
    const opened = await decryptWithLabel(privateKey, e.label, h(e.context), h(e.kem_output), h(e.ciphertext), impl.hpke);
    expect(bytesToHex(opened)).toBe(e.plaintext);
    const sealed = await encryptWithLabel(publicKey, e.label, h(e.context), h(e.plaintext), impl.hpke);
    expect(bytesToHex(await decryptWithLabel(privateKey, e.label, h(e.context), sealed.enc, sealed.ct, impl.hpke))).toBe(
      e.plaintext,
    );

    const s = x.sign_with_label;
    expect(await verifyWithLabel(h(s.pub), s.label, h(s.content), h(s.signature), impl.signature)).toBe(true);
    const signature = await signWithLabel(h(s.priv), s.label, h(s.content), impl.signature);
    expect(await verifyWithLabel(h(s.pub), s.label, h(s.content), signature, impl.signature)).toBe(true);
  });

  it.each(cases('key-schedule'))('key-schedule %s', async (_name, x) => {
    const impl = await implFor(x.cipher_suite);
    let initSecret: Uint8Array = h(x.initial_init_secret);
    for (const [index, epoch] of (x.epochs as any[]).entries()) {
      const gc = groupContext(
        { ...x, epoch: index, confirmed_transcript_hash: epoch.confirmed_transcript_hash },
        h(epoch.tree_hash),
      );
      expect(encodeGroupContext(gc)).toStrictEqual(h(epoch.group_context));
      const { keySchedule, joinerSecret, welcomeSecret, encryptionSecret } = await initializeEpoch(
        initSecret,
        h(epoch.commit_secret),
        gc,
        h(epoch.psk_secret),
        impl.kdf,
      );
      expect(joinerSecret).toStrictEqual(h(epoch.joiner_secret));
      expect(welcomeSecret).toStrictEqual(h(epoch.welcome_secret));
      expect(keySchedule.initSecret).toStrictEqual(h(epoch.init_secret));
      expect(keySchedule.senderDataSecret).toStrictEqual(h(epoch.sender_data_secret));
      expect(encryptionSecret).toStrictEqual(h(epoch.encryption_secret));
      expect(keySchedule.exporterSecret).toStrictEqual(h(epoch.exporter_secret));
      expect(keySchedule.externalSecret).toStrictEqual(h(epoch.external_secret));
      expect(keySchedule.confirmationKey).toStrictEqual(h(epoch.confirmation_key));
      expect(keySchedule.membershipKey).toStrictEqual(h(epoch.membership_key));
      expect(keySchedule.resumptionPsk).toStrictEqual(h(epoch.resumption_psk));
      expect(keySchedule.epochAuthenticator).toStrictEqual(h(epoch.epoch_authenticator));
      // external_pub = KEM.DeriveKeyPair(external_secret).public
      const { publicKey } = await impl.hpke.deriveKeyPair(h(epoch.external_secret));
      expect(await impl.hpke.exportPublicKey(publicKey)).toStrictEqual(h(epoch.external_pub));
      const exp = epoch.exporter;
      const exported = await mlsExporter(keySchedule.exporterSecret, exp.label, h(exp.context), exp.length, impl);
      expect(exported).toStrictEqual(h(exp.secret));
      initSecret = keySchedule.initSecret;
    }
  });

  it.each(cases('secret-tree'))('secret-tree %s', async (_name, x) => {
    const impl = await implFor(x.cipher_suite);
    const sd = x.sender_data;
    expect(await expandSenderDataKey(impl, h(sd.sender_data_secret), h(sd.ciphertext))).toStrictEqual(h(sd.key));
    expect(await expandSenderDataNonce(impl, h(sd.sender_data_secret), h(sd.ciphertext))).toStrictEqual(h(sd.nonce));
    // The tree is derived lazily (patches/ts-mls+1.6.4.patch §5): walk the leaves last to first, so that later
    // leaves find their secrets among the siblings stored while deriving earlier ones.
    let tree = await createSecretTree(x.leaves.length, h(x.encryption_secret), impl.kdf);
    const leaves = [...(x.leaves as any[][]).entries()].reverse();
    for (const [leafIndex, leaf] of leaves) {
      for (const gen of leaf) {
        for (const [kind, contentType] of [
          ['handshake', 'commit'],
          ['application', 'application'],
        ] as const) {
          const senderData = { leafIndex, generation: gen.generation, reuseGuard: new Uint8Array(4) as ReuseGuard };
          const out = await ratchetToGeneration(tree, senderData, contentType, defaultKeyRetentionConfig, impl);
          expect(out.generation).toBe(gen.generation);
          expect(out.key).toStrictEqual(h(gen[`${kind}_key`]));
          expect(out.nonce).toStrictEqual(h(gen[`${kind}_nonce`]));
          tree = out.newTree;
        }
      }
    }
    expect(Object.keys(tree.intermediateNodes)).toHaveLength(0);
  });

  it.each(cases('transcript-hashes'))('transcript-hashes %s', async (_name, x) => {
    const impl = await implFor(x.cipher_suite);
    const auth = decodeAuthenticatedContent(h(x.authenticated_content), 0);
    if (auth === undefined || auth[0].content.contentType !== 'commit' || auth[0].auth.contentType !== 'commit') {
      throw new Error('could not decode authenticated content');
    }
    const tag = auth[0].auth.confirmationTag;
    expect(await impl.hash.verifyMac(h(x.confirmation_key), tag, h(x.confirmed_transcript_hash_after))).toBe(true);
    const input = { wireformat: auth[0].wireformat, content: auth[0].content, signature: auth[0].auth.signature };
    const confirmed = await createConfirmedHash(h(x.interim_transcript_hash_before), input, impl.hash);
    expect(confirmed).toStrictEqual(h(x.confirmed_transcript_hash_after));
    expect(await createInterimHash(confirmed, tag, impl.hash)).toStrictEqual(h(x.interim_transcript_hash_after));
  });

  it.each(cases('psk_secret'))('psk_secret %s', async (_name, x) => {
    const impl = await implFor(x.cipher_suite);
    const psks: [PreSharedKeyID, Uint8Array][] = (x.psks as any[]).map((p) => [
      { psktype: 'external', pskId: h(p.psk_id), pskNonce: h(p.psk_nonce) },
      h(p.psk),
    ]);
    expect(bytesToHex(await computePskSecret(psks, impl))).toBe(x.psk_secret);
  });

  it.each(cases('welcome'))('welcome %s', async (_name, x) => {
    const impl = await implFor(x.cipher_suite);
    const welcome = decodeMlsMessage(h(x.welcome), 0);
    const keyPackage = decodeMlsMessage(h(x.key_package), 0);
    if (welcome?.[0].wireformat !== 'mls_welcome' || keyPackage?.[0].wireformat !== 'mls_key_package') {
      throw new Error('could not decode');
    }
    const w = welcome[0].welcome;
    const ref = await makeKeyPackageRef(keyPackage[0].keyPackage, impl.hash);
    const initKey = await impl.hpke.importPrivateKey(h(x.init_priv));
    const secrets = await decryptGroupSecrets(initKey, ref, w, impl.hpke);
    if (secrets === undefined) throw new Error('could not decrypt group secrets');
    const pskSecret = new Uint8Array(impl.kdf.size);
    const gi = await decryptGroupInfo(w, secrets.joinerSecret, pskSecret, impl);
    if (gi === undefined) throw new Error('could not decrypt group info');
    expect(await verifyGroupInfoConfirmationTag(gi, secrets.joinerSecret, pskSecret, impl)).toBe(true);
    expect(await verifyGroupInfoSignature(gi, h(x.signer_pub), impl.signature)).toBe(true);
  });

  it.each(cases('tree-validation'))('tree-validation %s', async (_name, x) => {
    const impl = await implFor(x.cipher_suite);
    const tree = decodeRatchetTree(h(x.tree), 0)?.[0];
    if (tree === undefined) throw new Error('could not decode tree');
    for (const [i, hash] of (x.tree_hashes as string[]).entries()) {
      expect(await treeHash(tree, toNodeIndex(i), impl.hash)).toStrictEqual(h(hash));
    }
    for (const [i, r] of (x.resolutions as number[][]).entries()) expect(resolution(tree, toNodeIndex(i))).toStrictEqual(r);
    expect(await verifyParentHashes(tree, impl.hash)).toBe(true);
    for (const [i, node] of tree.entries()) {
      if (node?.nodeType !== 'leaf') continue;
      const leafIndex = nodeToLeafIndex(toNodeIndex(i));
      expect(await verifyLeafNodeSignature(node.leaf, h(x.group_id), leafIndex, impl.signature)).toBe(true);
    }
  });

  it.each(cases('treekem'))(
    'treekem %s',
    async (_name, x) => {
      const impl = await implFor(x.cipher_suite);
      const tree = decodeRatchetTree(h(x.ratchet_tree), 0)?.[0];
      if (tree === undefined) throw new Error('could not decode tree');
      const gc = groupContext(x, await treeHashRoot(tree, impl.hash));
      const privatePaths: PrivateKeyPath[] = [];
      for (const leaf of x.leaves_private as any[]) {
        const secrets: PathSecrets = {};
        for (const ps of leaf.path_secrets) secrets[ps.node] = h(ps.path_secret);
        const node = tree[leafToNodeIndex(toLeafIndex(leaf.index))];
        if (node?.nodeType !== 'leaf') throw new Error('no leaf at leaf index');
        expect(await hpkeKeysMatch(node.leaf.hpkePublicKey, h(leaf.encryption_priv), impl.hpke)).toBe(true);
        for (const [nodeIndex, pathSecret] of Object.entries(secrets)) {
          const { publicKey } = await impl.hpke.deriveKeyPair(await deriveSecret(pathSecret, 'node', impl.kdf));
          expect(getHpkePublicKey(tree[Number(nodeIndex)]!)).toStrictEqual(await impl.hpke.exportPublicKey(publicKey));
        }
        const path = await toPrivateKeyPath(secrets, leaf.index, impl);
        privatePaths.push({
          ...path,
          privateKeys: { ...path.privateKeys, [leafToNodeIndex(toLeafIndex(leaf.index))]: h(leaf.encryption_priv) },
        });
      }
      for (const up of x.update_paths as any[]) {
        const updatePath = decodeUpdatePath(h(up.update_path), 0)?.[0];
        if (updatePath === undefined) throw new Error('could not decode update path');
        const updated = await applyUpdatePath(tree, toLeafIndex(up.sender), updatePath, impl.hash);
        const th = await treeHashRoot(updated, impl.hash);
        expect(th).toStrictEqual(h(up.tree_hash_after));
        const updatedGc = { ...gc, treeHash: th };
        const sender = (x.leaves_private as any[]).find((lp) => lp.index === up.sender);
        const [newTree, newPath, newSecrets] = await createUpdatePath(
          updated,
          toLeafIndex(up.sender),
          updatedGc,
          h(sender.signature_priv),
          impl,
        );
        const newCommitSecret = await deriveSecret(newSecrets[newSecrets.length - 1]!.secret, 'path', impl.kdf);
        const newGc = { ...gc, treeHash: await treeHashRoot(newTree, impl.hash), epoch: gc.epoch + 1n };
        for (const pp of privatePaths) {
          if (pp.leafIndex === up.sender) continue;
          const got = await applyUpdatePathSecret(tree, pp, toLeafIndex(up.sender), updatedGc, updatePath, [], impl);
          expect(got.pathSecret).toStrictEqual(h(up.path_secrets[pp.leafIndex]));
          expect(await getCommitSecret(tree, got.nodeIndex, got.pathSecret, impl.kdf)).toStrictEqual(
            h(up.commit_secret),
          );
          const again = await applyUpdatePathSecret(tree, pp, toLeafIndex(up.sender), newGc, newPath, [], impl);
          expect(await getCommitSecret(tree, again.nodeIndex, again.pathSecret, impl.kdf)).toStrictEqual(
            newCommitSecret,
          );
        }
      }
    },
    30_000,
  );

  it.each(cases('message-protection'))('message-protection %s', async (_name, x) => {
    const impl = await implFor(x.cipher_suite);
    const gc = groupContext(x, h(x.tree_hash));
    const tree: RatchetTree = [
      undefined,
      undefined,
      {
        nodeType: 'leaf',
        leaf: {
          leafNodeSource: 'commit',
          hpkePublicKey: new Uint8Array(),
          signaturePublicKey: new Uint8Array(),
          capabilities: defaultCapabilities(),
          parentHash: new Uint8Array(),
          extensions: [],
          signature: new Uint8Array(),
          credential: { credentialType: 'basic', identity: new Uint8Array() },
        },
      },
    ];
    for (const [field, expected] of [
      ['proposal_pub', 'proposal'],
      ['commit_pub', 'commit'],
    ] as const) {
      const message = decodeMlsMessage(h(x[field]), 0);
      if (message?.[0].wireformat !== 'mls_public_message') throw new Error('not a public message');
      const content = await unprotectPublicMessage(
        h(x.membership_key),
        gc,
        [],
        message[0].publicMessage,
        impl,
        h(x.signature_pub),
      );
      const c = content.content;
      const encoded = c.contentType === 'proposal' ? encodeProposal(c.proposal) : c.contentType === 'commit' ? encodeCommit(c.commit) : undefined;
      expect(encoded).toStrictEqual(h(x[expected]));
    }
    for (const [field, expected] of [
      ['proposal_priv', 'proposal'],
      ['commit_priv', 'commit'],
      ['application_priv', 'application'],
    ] as const) {
      const message = decodeMlsMessage(h(x[field]), 0);
      if (message?.[0].wireformat !== 'mls_private_message') throw new Error('not a private message');
      const secretTree = await createSecretTree(2, h(x.encryption_secret), impl.kdf);
      const result = await unprotectPrivateMessage(
        h(x.sender_data_secret),
        message[0].privateMessage,
        secretTree,
        tree,
        gc,
        defaultKeyRetentionConfig,
        impl,
        h(x.signature_pub),
      );
      const c = result.content.content;
      const encoded =
        c.contentType === 'proposal'
          ? encodeProposal(c.proposal)
          : c.contentType === 'commit'
            ? encodeCommit(c.commit)
            : c.applicationData;
      expect(encoded).toStrictEqual(h(x[expected]));
    }
  });

  const passive = [
    ...cases('passive-client-welcome').map(([n, x]) => [`welcome ${n}`, x] as [string, any]),
    ...cases('passive-client-handling-commit').map(([n, x]) => [`handling-commit ${n}`, x] as [string, any]),
    ...cases('passive-client-random').map(([n, x]) => [`random ${n}`, x] as [string, any]),
  ];
  it.each(passive)(
    'passive-client %s',
    async (_name, x) => {
      const impl = await implFor(x.cipher_suite);
      const kp = decodeMlsMessage(h(x.key_package), 0);
      const welcome = decodeMlsMessage(h(x.welcome), 0);
      if (kp?.[0].wireformat !== 'mls_key_package' || welcome?.[0].wireformat !== 'mls_welcome') {
        throw new Error('could not decode');
      }
      const keyPackage: KeyPackage = kp[0].keyPackage;
      expect(await hpkeKeysMatch(keyPackage.leafNode.hpkePublicKey, h(x.encryption_priv), impl.hpke)).toBe(true);
      expect(await hpkeKeysMatch(keyPackage.initKey, h(x.init_priv), impl.hpke)).toBe(true);
      expect(await signatureKeysMatch(keyPackage.leafNode.signaturePublicKey, h(x.signature_priv), impl.signature)).toBe(
        true,
      );
      const privateKeys: PrivateKeyPackage = {
        hpkePrivateKey: h(x.encryption_priv),
        initPrivateKey: h(x.init_priv),
        signaturePrivateKey: h(x.signature_priv),
      };
      const tree = x.ratchet_tree !== null ? decodeRatchetTree(h(x.ratchet_tree), 0)?.[0] : undefined;
      const psks: Record<string, Uint8Array> = {};
      for (const psk of x.external_psks as any[]) psks[Buffer.from(h(psk.psk_id)).toString('base64')] = h(psk.psk);
      let state = await joinGroup(welcome[0].welcome, keyPackage, privateKeys, makePskIndex(undefined, psks), impl, tree);
      expect(state.keySchedule.epochAuthenticator).toStrictEqual(h(x.initial_epoch_authenticator));
      for (const epoch of x.epochs as any[]) {
        for (const hex of [...epoch.proposals, epoch.commit] as string[]) {
          const message = decodeMlsMessage(h(hex), 0)?.[0];
          if (message?.wireformat === 'mls_private_message') {
            state = (await processPrivateMessage(state, message.privateMessage, makePskIndex(state, psks), impl))
              .newState;
          } else if (message?.wireformat === 'mls_public_message') {
            state = (await processPublicMessage(state, message.publicMessage, makePskIndex(state, psks), impl)).newState;
          } else {
            throw new Error('could not decode handshake message');
          }
        }
        expect(state.keySchedule.epochAuthenticator).toStrictEqual(h(epoch.epoch_authenticator));
      }
    },
    60_000,
  );
});
