/**
 * What ts-mls's vendored tests (./ts-mls/) import as `src/index.js` and `src/crypto/getCiphersuiteImpl.js` in the
 * `ts-mls-node` vitest project (root vitest.config.ts): the patched ts-mls, with `getCiphersuiteImpl` defaulting to our
 * node:crypto provider instead of ts-mls's default one. Everything else is ts-mls's own export.
 */
import type { Ciphersuite, CiphersuiteImpl, CryptoProvider } from 'ts-mls';
import { getCiphersuiteImpl as tsMlsGetCiphersuiteImpl } from 'ts-mls/crypto/getCiphersuiteImpl.js';
import { nodeMlsCryptoProvider } from '../../src/groups/node-mls-provider.js';

export * from 'ts-mls';

export function getCiphersuiteImpl(cs: Ciphersuite, provider: CryptoProvider = nodeMlsCryptoProvider): Promise<CiphersuiteImpl> {
  return tsMlsGetCiphersuiteImpl(cs, provider);
}
