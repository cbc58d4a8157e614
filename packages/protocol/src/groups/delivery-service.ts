/**
 * The Delivery Service's checks (RFC 9420 §16.8 "Delivery Service Compromise", RFC 9750 §5 "Delivery Service"): a
 * server that orders a group's commits verifies each one against the group's public state it holds, and derives the
 * membership it fans out to from the verified ratchet tree, never from what the committer says.
 *
 * The public state is the group's latest GroupInfo (RFC 9420 §12.4.3) with its ratchet tree (§12.4.3.3). For a
 * commit (which must arrive as a PublicMessage, §6.2; application messages stay PrivateMessages) we check:
 * - the framing: this group, the current epoch, content type commit, every proposal by value (a DS cannot resolve
 *   references to proposals it never saw in clear), Add and Remove only (ExternalInit and Remove of the joiner's own
 *   old leaves for an external commit, §12.4.3.2);
 * - the sender: a non-blank leaf of the current tree (member commits), or the UpdatePath's new leaf (external ones);
 * - its signature over FramedContentTBS (§6.1) with that leaf's signature key. The membership tag (§6.2) is a MAC
 *   under the epoch's membership_key, which only members hold: the DS cannot check it, and the members do;
 * - each proposal as a member would (§12.2): valid key packages and leaf nodes, credentials that verify and whose
 *   identity key the caller accepts for the account (`isTrustedIdentity`: the server asks for the identity key the
 *   account registered), no removal of a blank leaf or of the committer, the UpdatePath's leaf node (§7.3);
 * - the new tree, derived here by applying the proposals and the UpdatePath's public keys to the current tree
 *   (§12.4.2, §7.5), and the next GroupContext (§8.2: epoch + 1, the new tree hash, the confirmed transcript hash over
 *   this commit's content and signature). The committer's new GroupInfo must carry exactly that GroupContext, a ratchet
 *   tree with exactly that tree hash, the commit's confirmation tag, and the committer's valid signature.
 *
 * What the DS cannot check, members do: the confirmation tag's MAC, the membership tag, the HPKE-encrypted path
 * secrets, the Welcome's contents, the GroupInfo's external_pub. A commit that passes here but fails there leaves the
 * group at an epoch members cannot reach; only a member (whose commit is then signed by it) can do that.
 */
import {
  defaultKeyPackageEqualityConfig,
  defaultKeyRetentionConfig,
  defaultPaddingConfig,
  emptyPskIndex,
  getCiphersuiteFromName,
  getCiphersuiteImpl,
} from 'ts-mls';
import type { AuthenticationService, CiphersuiteImpl, ClientConfig, ClientState, GroupInfo, CryptoProvider as MlsCryptoProvider, RatchetTree } from 'ts-mls';
import type { CryptoProvider } from '../crypto/provider.js';
import { constantTimeEqual } from '../crypto/bytes.js';
import { ProtocolError, ProtocolErrorCode } from '../errors.js';
import { defaultMlsCryptoProvider } from './default-mls-provider.js';
import { verifyDeviceCredential } from './device-credential.js';
import { basicIdentity, decodeMessage, leafAt, mapErrors, memberOf, membersOf } from './mls-common.js';
import type { GroupMember } from './mls-common.js';
import {
  addLeafNode,
  applyProposals,
  applyUpdatePath,
  encodeGroupContext,
  nextEpochContext,
  nodeToLeafIndex,
  ratchetTreeFromExtension,
  removeLeafNode,
  throwIfDefined,
  toLeafIndex,
  treeHashRoot,
  validateLeafNodeCredentialAndKeyUniqueness,
  validateLeafNodeUpdateOrCommit,
  validateRatchetTree,
  verifyFramedContentSignature,
  verifyGroupInfoSignature,
} from './ts-mls-internals.js';

/** A group as the DS sees it: its id, epoch and members (from the verified tree), and who signed its GroupInfo. */
export interface PublicGroupView {
  readonly groupId: Uint8Array;
  readonly epoch: bigint;
  readonly members: readonly GroupMember[];
  readonly signer: GroupMember;
}

/** A commit the DS verified: the group after it (its members read from the verified tree) and who made it. */
export interface VerifiedCommit {
  readonly next: PublicGroupView;
  readonly committer: GroupMember;
  /** An external commit (RFC 9420 §12.4.3.2): `committer` joined with it. */
  readonly external: boolean;
}

export interface DeliveryServiceOptions {
  /** Verifies the device credential bindings (Ed25519 with the account identity key). */
  readonly crypto: CryptoProvider;
  /** Whether `identityKey` (65-byte encoding) is the identity key `accountId` registered. */
  readonly isTrustedIdentity: (accountId: string, identityKey: Uint8Array) => boolean | Promise<boolean>;
  readonly mlsCryptoProvider?: MlsCryptoProvider;
}

function invalid(message: string): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.InvalidMessage, message);
}

function groupInfoOf(bytes: Uint8Array): GroupInfo {
  const message = decodeMessage(bytes);
  if (message.wireformat !== 'mls_group_info') throw invalid('not a GroupInfo');
  return message.groupInfo;
}

function treeOf(info: GroupInfo): RatchetTree {
  const tree = ratchetTreeFromExtension(info);
  if (tree === undefined) throw invalid('GroupInfo carries no ratchet tree');
  return tree;
}

/** Checks of group state that need no group secrets: one per server process. */
export class MlsDeliveryService {
  private readonly crypto: CryptoProvider;
  private readonly isTrustedIdentity: DeliveryServiceOptions['isTrustedIdentity'];
  private readonly mlsProvider: MlsCryptoProvider;
  private readonly impls = new Map<string, Promise<CiphersuiteImpl>>();
  private readonly clientConfig: ClientConfig;

  constructor(options: DeliveryServiceOptions) {
    this.crypto = options.crypto;
    this.isTrustedIdentity = options.isTrustedIdentity;
    this.mlsProvider = options.mlsCryptoProvider ?? defaultMlsCryptoProvider;
    const authService: AuthenticationService = {
      validateCredential: async (credential, signaturePublicKey) => {
        const device = await verifyDeviceCredential(this.crypto, basicIdentity(credential), signaturePublicKey);
        if (!(await this.isTrustedIdentity(device.accountId, device.identityKey))) {
          throw new ProtocolError(ProtocolErrorCode.UntrustedIdentity, 'a leaf presents an identity key its account did not register');
        }
        return true;
      },
    };
    this.clientConfig = {
      keyRetentionConfig: defaultKeyRetentionConfig,
      // Lifetimes are the adding member's check (as in MlsEngine): the DS accepts what members accept.
      lifetimeConfig: { maximumTotalLifetime: 2n ** 62n, validateLifetimeOnReceive: false },
      keyPackageEqualityConfig: defaultKeyPackageEqualityConfig,
      paddingConfig: defaultPaddingConfig,
      authService,
    };
  }

  private impl(info: GroupInfo): Promise<CiphersuiteImpl> {
    const suite = info.groupContext.cipherSuite;
    let impl = this.impls.get(suite);
    if (impl === undefined) {
      impl = getCiphersuiteImpl(getCiphersuiteFromName(suite), this.mlsProvider);
      this.impls.set(suite, impl);
    }
    return impl;
  }

  /**
   * A new group's first GroupInfo (RFC 9420 §11, §12.4.3): its whole ratchet tree is validated as a joiner validates
   * it (§12.4.3.1: tree hash, parent hashes, every leaf and credential), and its signature by the signer's leaf.
   */
  async verifyGroupInfo(groupInfo: Uint8Array): Promise<PublicGroupView> {
    const info = groupInfoOf(groupInfo);
    const impl = await this.impl(info);
    return mapErrors(async () => {
      const tree = treeOf(info);
      throwIfDefined(
        await validateRatchetTree(tree, info.groupContext, this.clientConfig.lifetimeConfig, this.clientConfig.authService, info.groupContext.treeHash, impl),
      );
      return this.view(info, tree, impl);
    });
  }

  /**
   * How many Add proposals (by value) `commit` carries, from its framing alone, nothing verified: lets the DS refuse
   * a commit past its size limit before it spends a verification on every added key package.
   */
  addsOf(commit: Uint8Array): number {
    const message = decodeMessage(commit);
    if (message.wireformat !== 'mls_public_message' || message.publicMessage.content.contentType !== 'commit') return 0;
    return message.publicMessage.content.commit.proposals.filter((p) => p.proposalOrRefType === 'proposal' && p.proposal.proposalType === 'add').length;
  }

  /**
   * Verifies `commit` (an MLSMessage) against the group whose current GroupInfo is `current` (stored by the DS after
   * it verified it), and `next`, the committer's GroupInfo for the epoch the commit starts. Throws ProtocolError
   * (INVALID_MESSAGE, BAD_SIGNATURE, UNTRUSTED_IDENTITY, DECODE_ERROR, WRONG_EPOCH) for anything a member would
   * refuse or the DS cannot follow; nothing is changed either way.
   */
  async verifyCommit(current: Uint8Array, commit: Uint8Array, next: Uint8Array): Promise<VerifiedCommit> {
    const info = groupInfoOf(current);
    const impl = await this.impl(info);
    const message = decodeMessage(commit);
    if (message.wireformat !== 'mls_public_message') throw invalid('a commit must reach the delivery service as a PublicMessage');
    const { content, auth } = message.publicMessage;
    const context = info.groupContext;
    if (content.contentType !== 'commit' || auth.contentType !== 'commit') throw invalid('not a commit');
    if (!constantTimeEqual(content.groupId, context.groupId)) throw invalid('commit is for another group');
    if (content.epoch !== context.epoch) {
      throw new ProtocolError(ProtocolErrorCode.WrongEpoch, `commit for epoch ${content.epoch}, group at ${context.epoch}`);
    }
    const proposals = content.commit.proposals;
    const values = proposals.map((p) => {
      if (p.proposalOrRefType !== 'proposal') throw invalid('a commit must carry its proposals by value');
      return p.proposal;
    });
    const path = content.commit.path;
    return mapErrors(async () => {
      const tree = treeOf(info);
      let committerIndex: number;
      let newTree: RatchetTree;
      let extensions = context.extensions;
      const sender = content.sender;
      // The signature first (one verification), before the proposals' work, which grows with their number.
      const signatureKey =
        sender.senderType === 'member'
          ? leafAt(tree, sender.leafIndex)?.signaturePublicKey
          : sender.senderType === 'new_member_commit'
            ? path?.leafNode.signaturePublicKey
            : undefined;
      if (signatureKey === undefined) throw invalid('commit from a sender that is neither a member nor a joiner with an UpdatePath');
      if (!(await verifyFramedContentSignature(signatureKey, 'mls_public_message', content, auth, context, impl.signature))) {
        throw new ProtocolError(ProtocolErrorCode.BadSignature, 'commit signature does not verify');
      }
      if (sender.senderType === 'member') {
        committerIndex = sender.leafIndex;
        if (values.some((p) => p.proposalType !== 'add' && p.proposalType !== 'remove')) throw invalid('a member commit may carry Add and Remove proposals only');
        // applyProposals reads only the tree, context, configuration and (for refs, none here) pending proposals.
        const publicState = {
          groupContext: context,
          ratchetTree: tree,
          unappliedProposals: {},
          clientConfig: this.clientConfig,
          privatePath: { leafIndex: committerIndex },
        } as unknown as ClientState;
        const result = await applyProposals(publicState, proposals, toLeafIndex(committerIndex), emptyPskIndex, false, impl);
        if (result.additionalResult.kind !== 'memberCommit') throw invalid('not a member commit');
        if (result.additionalResult.extensions.length > 0) extensions = result.additionalResult.extensions;
        if (result.needsUpdatePath && path === undefined) throw invalid('commit needs an UpdatePath');
        newTree = result.tree;
        if (path !== undefined) {
          throwIfDefined(await validateLeafNodeUpdateOrCommit(path.leafNode, committerIndex, context, this.clientConfig.authService, impl.signature));
          throwIfDefined(await validateLeafNodeCredentialAndKeyUniqueness(newTree, path.leafNode, committerIndex));
          newTree = await applyUpdatePath(newTree, toLeafIndex(committerIndex), path, impl.hash);
        }
      } else if (sender.senderType === 'new_member_commit') {
        if (path === undefined) throw invalid('external commit without an UpdatePath');
        if (values.filter((p) => p.proposalType === 'external_init').length !== 1) throw invalid('external commit needs exactly one ExternalInit');
        const joiner = memberOf(path.leafNode, 0);
        let base = tree;
        for (const p of values) {
          if (p.proposalType === 'external_init') continue;
          if (p.proposalType !== 'remove') throw invalid('an external commit may carry ExternalInit and Remove proposals only');
          const old = leafAt(base, p.remove.removed);
          const gone = old === undefined ? undefined : memberOf(old, p.remove.removed);
          // A resync (§12.4.3.2) removes the joiner's own old leaf, nobody else's.
          if (gone === undefined || gone.accountId !== joiner.accountId || gone.deviceId !== joiner.deviceId) throw invalid('an external commit may remove only the joiner itself');
          base = removeLeafNode(base, toLeafIndex(p.remove.removed));
        }
        const [withLeaf, nodeIndex] = addLeafNode(base, path.leafNode);
        committerIndex = nodeToLeafIndex(nodeIndex);
        throwIfDefined(await validateLeafNodeUpdateOrCommit(path.leafNode, committerIndex, context, this.clientConfig.authService, impl.signature));
        throwIfDefined(await validateLeafNodeCredentialAndKeyUniqueness(base, path.leafNode));
        newTree = await applyUpdatePath(withLeaf, toLeafIndex(committerIndex), path, impl.hash, true);
      } else {
        throw invalid('commit from a sender that is neither a member nor a joiner');
      }
      const treeHash = await treeHashRoot(newTree, impl.hash);
      const expected = await nextEpochContext({ ...context, extensions }, 'mls_public_message', content, auth.signature, treeHash, info.confirmationTag, impl.hash);
      const nextInfo = groupInfoOf(next);
      if (!constantTimeEqual(encodeGroupContext(nextInfo.groupContext), encodeGroupContext(expected))) {
        throw invalid("the new GroupInfo's group context is not the one the commit leads to");
      }
      if (!constantTimeEqual(nextInfo.confirmationTag, auth.confirmationTag)) throw invalid("the new GroupInfo's confirmation tag is not the commit's");
      const nextTree = treeOf(nextInfo);
      if (!constantTimeEqual(await treeHashRoot(nextTree, impl.hash), treeHash)) throw invalid("the new GroupInfo's ratchet tree is not the one the commit leads to");
      if (nextInfo.signer !== committerIndex) throw invalid('the new GroupInfo is not signed by the committer');
      const view = await this.view(nextInfo, nextTree, impl);
      return { next: view, committer: view.signer, external: sender.senderType === 'new_member_commit' };
    });
  }

  private async view(info: GroupInfo, tree: RatchetTree, impl: CiphersuiteImpl): Promise<PublicGroupView> {
    const leaf = leafAt(tree, info.signer);
    if (leaf === undefined) throw invalid('GroupInfo signed by a leaf that is not a member');
    if (!(await verifyGroupInfoSignature(info, leaf.signaturePublicKey, impl.signature))) {
      throw new ProtocolError(ProtocolErrorCode.BadSignature, 'GroupInfo signature does not verify');
    }
    return { groupId: info.groupContext.groupId, epoch: info.groupContext.epoch, members: membersOf(tree), signer: memberOf(leaf, info.signer) };
  }
}
