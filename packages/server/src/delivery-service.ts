/**
 * The server's MLS Delivery Service checks (@samizdat/protocol's MlsDeliveryService, RFC 9750 §5) wired to the
 * repository: a leaf's identity key must be the one its account registered, so only an account's own devices can
 * appear in a group as that account, and a group's membership is what its verified ratchet tree says.
 */
import { MlsDeliveryService, constantTimeEqual } from '@samizdat/protocol';
import { nodeMlsCryptoProvider } from '@samizdat/protocol/groups-node';
import type { CryptoProvider } from '@samizdat/protocol';
import type { Repository } from './store/repository.js';

export function groupDeliveryService(repo: Repository, crypto: CryptoProvider): MlsDeliveryService {
  return new MlsDeliveryService({
    crypto,
    mlsCryptoProvider: nodeMlsCryptoProvider,
    isTrustedIdentity: async (accountId, identityKey) => {
      const account = await repo.getAccount(accountId);
      return account !== undefined && constantTimeEqual(account.identityKey, identityKey);
    },
  });
}
