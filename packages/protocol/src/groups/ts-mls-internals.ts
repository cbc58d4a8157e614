/**
 * Every ts-mls module we import from past its public index (`ts-mls`), in one place: a ts-mls upgrade starts here.
 * ts-mls's export map (`./*.js` → `dist/src/*.js`) makes its compiled modules reachable, but they are not its API:
 * names, signatures and behaviour may change in any release (on ts-mls `main`, the 2.0 line, proposal validation
 * already lives in `src/validation.ts`: patches/README.md §3). Everything else in src/groups — types included — comes
 * from `ts-mls` itself; nothing in src/groups imports `ts-mls/…` but this file.
 * (Tests reach into ts-mls on their own, to pin our patch and the vectors: test/groups/ts-mls-patch.test.ts,
 * secret-tree-keying.test.ts, mls-vectors.test.ts, and the test/upstream/ shims.)
 *
 * On an upgrade, for each group below: does the name still exist, does it still do what its user relies on (noted
 * there), and does patches/ts-mls+<version>.patch still apply? The patch changes clientState.js, secretTree.js,
 * messageProtection.js, treeHash.js and updatePath.js among these (patches/README.md).
 */

/**
 * ts-mls's error classes (its index exports none). mls-common.ts `toProtocolError` maps them onto ProtocolError codes;
 * the node:crypto provider (./node-provider/) throws CryptoError, as ts-mls's own providers do, so that its failures
 * are ts-mls failures to every caller.
 */
export { CodecError, CryptoError, CryptoVerificationError, MlsError, UsageError } from 'ts-mls/mlsError.js';

/**
 * Stored group state (./group-state-codec.ts). The index offers only `encodeGroupState`, which writes the whole
 * ratchet tree once per retained epoch; we write it once, so we need the state encoding without the tree, and the
 * encodings of its parts: GroupContext (RFC 9420 §8.1), the ratchet tree and its nodes (the ratchet_tree extension's
 * encoding, §12.4.3.3), and the secret tree (§9; our patch made it lazy and changed its encoding, patches/README.md §5).
 * `encode` turns ts-mls's buffer encoders (secretTreeEncoder) into a function to bytes.
 */
export { decodeGroupStateWithoutTree, encodeGroupStateWithoutTree } from 'ts-mls/clientState.js';
export { decodeGroupContext, encodeGroupContext } from 'ts-mls/groupContext.js';
export { decodeNode, decodeRatchetTree, encodeNode, encodeRatchetTree } from 'ts-mls/ratchetTree.js';
export { decodeSecretTree, secretTreeEncoder } from 'ts-mls/secretTree.js';
export { encode } from 'ts-mls/codec/tlsEncoder.js';

/**
 * Joining from a Welcome (./engine/operations.ts). `joinGroup` verifies the GroupInfo's signature but does not say
 * who signed it (the inviter, RFC 9420 §12.4.3.1), so we decrypt the group secrets and GroupInfo again to read
 * `signer`. `makeKeyPackageRef` (§5.2) also names our key packages (KeyPackageBundle.ref).
 */
export { makeKeyPackageRef } from 'ts-mls/keyPackage.js';
export { decryptGroupInfo, decryptGroupSecrets } from 'ts-mls/welcome.js';

/**
 * Application messages (./engine/receive.ts). `processPrivateMessage` returns an application message's data without
 * its sender; we open the PrivateMessage ourselves (RFC 9420 §6.3, with the retained epoch's receiver data for a late
 * one) to get the sender leaf from the authenticated content. Our patch changed how it reads the secret tree (§5).
 */
export { unprotectPrivateMessage } from 'ts-mls/messageProtection.js';

/**
 * The Delivery Service's checks (./delivery-service.ts). ts-mls processes a commit only as a member, with the
 * epoch's secrets; the DS holds only the public state, so it runs ts-mls's own steps one by one: the proposals'
 * validation and application (§12.2, §12.4.2), leaf node and ratchet tree validation (§7.3, §12.4.3.1), the commit's
 * signature (§6.1), the UpdatePath's public keys (§7.5), adding and removing leaves of an external commit, the tree
 * hash (§7.8), the next GroupContext (§8.2), and the GroupInfo's ratchet tree and signature (§12.4.3, §12.4.3.3).
 */
export {
  applyProposals,
  nextEpochContext,
  throwIfDefined,
  validateLeafNodeCredentialAndKeyUniqueness,
  validateLeafNodeUpdateOrCommit,
  validateRatchetTree,
} from 'ts-mls/clientState.js';
export { verifyFramedContentSignature } from 'ts-mls/framedContent.js';
export { ratchetTreeFromExtension, verifyGroupInfoSignature } from 'ts-mls/groupInfo.js';
export { addLeafNode, removeLeafNode } from 'ts-mls/ratchetTree.js';
export { treeHashRoot } from 'ts-mls/treeHash.js';
export { nodeToLeafIndex, toLeafIndex } from 'ts-mls/treemath.js';
export { applyUpdatePath } from 'ts-mls/updatePath.js';
