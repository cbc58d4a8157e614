/**
 * Publishing the account's sealed-sender key (issue 16; @samizdat/protocol sealed-sender-key.ts): derived from the
 * identity key pair, so every device of the account computes the same key; signed by the identity and put on the
 * server once (the server checks the signature, and so does every sender before using it). A device records that
 * it has published it, so the upkeep after each connection asks the server nothing more.
 */
import { deriveSealedSenderKeyPair, signSealedSenderKey } from '@samizdat/protocol';
import type { CryptoProvider, IdentityKeyPair } from '@samizdat/protocol';
import type { ClientStore } from '../storage/store.js';
import type { HttpApi } from '../transport/http-api.js';

const PUBLISHED = 'sealedSender.keyPublished';

export async function publishSealedSenderKey(deps: {
  readonly store: ClientStore;
  readonly api: Pick<HttpApi, 'putSealedSenderKey'>;
  readonly crypto: CryptoProvider;
  readonly identity: IdentityKeyPair;
}): Promise<void> {
  if ((await deps.store.getKv(PUBLISHED)) === '1') return;
  const { publicKey } = await deriveSealedSenderKeyPair(deps.crypto, deps.identity);
  await deps.api.putSealedSenderKey(await signSealedSenderKey(deps.crypto, deps.identity, publicKey));
  await deps.store.write((tx) => tx.putKv(PUBLISHED, '1'));
}
