/**
 * The server's MLS Delivery Service checks (@samizdat/protocol's MlsDeliveryService, RFC 9750 §5) wired to the
 * repository: a leaf's identity key must be the one its account registered, so only an account's own devices can
 * appear in a group as that account, and a group's membership is what its verified ratchet tree says.
 *
 * Verifying a commit costs what the group's tree costs to decode and hash: 2.6–5 s at 10,000 members
 * (docs/benchmarks.md "Delivery service"). On the event loop that would stall every other request for as long, so
 * the server runs it on worker threads (ThreadedVerifier, `--ds-threads`, default 1); `inProcessVerifier` runs it
 * here (tests, and `--ds-threads 0`).
 */
import { MlsDeliveryService, ProtocolError, ProtocolErrorCode, constantTimeEqual } from '@samizdat/protocol';
import { nodeMlsCryptoProvider } from '@samizdat/protocol/groups-node';
import type { CryptoProvider, PublicGroupView, VerifiedCommit } from '@samizdat/protocol';
import type { Repository } from '../store/repository.js';

export interface CommitVerifier {
  /** A new group's first GroupInfo (MlsDeliveryService.verifyGroupInfo). */
  verifyGroupInfo(groupInfo: Uint8Array): Promise<PublicGroupView>;
  /** A commit against the group's current GroupInfo, with the committer's next one (MlsDeliveryService.verifyCommit). */
  verifyCommit(current: Uint8Array, commit: Uint8Array, next: Uint8Array): Promise<VerifiedCommit>;
  /** Add proposals in the commit's framing, nothing verified (cheap: runs here). */
  addsOf(commit: Uint8Array): number;
  close(): Promise<void>;
}

/** Whether `identityKey` is the one `accountId` registered. */
export function registeredIdentity(repo: Repository): (accountId: string, identityKey: Uint8Array) => Promise<boolean> {
  return async (accountId, identityKey) => {
    const account = await repo.getAccount(accountId);
    return account !== undefined && constantTimeEqual(account.identityKey, identityKey);
  };
}

/** The checks on this thread. */
export function inProcessVerifier(repo: Repository, crypto: CryptoProvider): CommitVerifier {
  const ds = new MlsDeliveryService({ crypto, mlsCryptoProvider: nodeMlsCryptoProvider, isTrustedIdentity: registeredIdentity(repo) });
  return {
    verifyGroupInfo: (groupInfo) => ds.verifyGroupInfo(groupInfo),
    verifyCommit: (current, commit, next) => ds.verifyCommit(current, commit, next),
    addsOf: (commit) => ds.addsOf(commit),
    close: async () => undefined,
  };
}

/**
 * After a worker's verification: every identity key the worker accepted on trust (it has no repository) must be the
 * one its account registered, or the whole verification fails as it would have on this thread.
 */
export async function checkIdentities(
  identities: readonly (readonly [string, Uint8Array])[],
  isRegistered: (accountId: string, identityKey: Uint8Array) => Promise<boolean>,
): Promise<void> {
  for (const [accountId, identityKey] of identities) {
    if (!(await isRegistered(accountId, identityKey))) {
      throw new ProtocolError(ProtocolErrorCode.UntrustedIdentity, 'a leaf presents an identity key its account did not register');
    }
  }
}
