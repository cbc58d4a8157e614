/**
 * What ts-mls's vendored tests (./ts-mls/) import as `src/index.js` and `src/crypto/getCiphersuiteImpl.js` in the
 * `ts-mls-default` vitest project (root vitest.config.ts): the patched ts-mls, with `getCiphersuiteImpl` defaulting to
 * `defaultMlsCryptoProvider` — ts-mls's default provider as the browser uses it (P-521 signing keys padded to 66 bytes,
 * see src/groups/default-mls-provider.ts). Everything else is ts-mls's own export.
 */
import type { Ciphersuite, CiphersuiteImpl, CryptoProvider } from 'ts-mls';
import { getCiphersuiteImpl as tsMlsGetCiphersuiteImpl } from 'ts-mls/crypto/getCiphersuiteImpl.js';
import { defaultMlsCryptoProvider } from '../../src/groups/default-mls-provider.js';

export * from 'ts-mls';

export function getCiphersuiteImpl(cs: Ciphersuite, provider: CryptoProvider = defaultMlsCryptoProvider): Promise<CiphersuiteImpl> {
  return tsMlsGetCiphersuiteImpl(cs, provider);
}
