/**
 * What every engine operation works with, and the only state an engine keeps: the providers, cipher suite, clock and
 * trust callback it was made with, ts-mls's client configuration, and caches (cipher suite implementations, verified
 * credentials, decoded ratchet trees) — never a group's state.
 *
 * Every admission path runs ts-mls's AuthenticationService, which here is `verifyCredential`: the device credential
 * binding (../device-credential.ts) and the caller's `isTrustedIdentity`.
 */
import {
  defaultKeyPackageEqualityConfig,
  defaultKeyRetentionConfig,
  defaultPaddingConfig,
  getCiphersuiteFromName,
  getCiphersuiteImpl,
} from 'ts-mls';
import type { AuthenticationService, CiphersuiteImpl, ClientConfig, Credential, CryptoProvider as MlsCryptoProvider } from 'ts-mls';
import { toHex } from '../../crypto/bytes.js';
import type { CryptoProvider } from '../../crypto/provider.js';
import { ProtocolError, ProtocolErrorCode } from '../../errors.js';
import { defaultMlsCryptoProvider } from '../default-mls-provider.js';
import { verifyDeviceCredential } from '../device-credential.js';
import type { DeviceCredential } from '../device-credential.js';
import { TreeCache } from '../group-state-codec.js';
import { basicIdentity } from '../mls-common.js';
import { assertCipherSuite } from './codecs.js';
import { inner } from './group-state.js';
import { DEFAULT_GROUP_CIPHER_SUITE, KEY_PACKAGE_LIFETIME_SECONDS } from './types.js';
import type { GroupCipherSuite, GroupState, MlsEngineOptions } from './types.js';

/** Most credential checks repeat (every commit re-validates leaves); the signature result is a pure function. */
const MAX_VERIFIED_CACHE = 100_000;

export class EngineContext {
  readonly cipherSuite: GroupCipherSuite;
  readonly crypto: CryptoProvider;
  readonly now: () => number;
  readonly clientConfig: ClientConfig;
  readonly treeCache = new TreeCache();
  private readonly isTrustedIdentity: MlsEngineOptions['isTrustedIdentity'];
  private readonly mlsProvider: MlsCryptoProvider;
  private readonly impls = new Map<GroupCipherSuite, Promise<CiphersuiteImpl>>();
  private readonly verified = new Map<string, DeviceCredential>();

  constructor(options: MlsEngineOptions) {
    this.crypto = options.crypto;
    this.isTrustedIdentity = options.isTrustedIdentity;
    this.mlsProvider = options.mlsCryptoProvider ?? defaultMlsCryptoProvider;
    this.cipherSuite = options.cipherSuite ?? DEFAULT_GROUP_CIPHER_SUITE;
    assertCipherSuite(this.cipherSuite);
    this.now = options.now ?? (() => Date.now() / 1000);
    const authService: AuthenticationService = {
      validateCredential: (credential, signaturePublicKey) => this.checkMember(credential, signaturePublicKey),
    };
    this.clientConfig = {
      keyRetentionConfig: defaultKeyRetentionConfig,
      // We check lifetimes when we add a key package (ts-mls's sentByClient path), not when a commit arrives:
      // a member catching up after weeks offline must still process the adds it missed.
      lifetimeConfig: {
        maximumTotalLifetime: BigInt(KEY_PACKAGE_LIFETIME_SECONDS + 3600),
        validateLifetimeOnReceive: false,
      },
      keyPackageEqualityConfig: defaultKeyPackageEqualityConfig,
      paddingConfig: defaultPaddingConfig,
      authService,
    };
  }

  /** ts-mls's implementation of `suite` on our provider, made once. */
  impl(suite: GroupCipherSuite = this.cipherSuite): Promise<CiphersuiteImpl> {
    let impl = this.impls.get(suite);
    if (impl === undefined) {
      impl = getCiphersuiteImpl(getCiphersuiteFromName(suite), this.mlsProvider);
      this.impls.set(suite, impl);
    }
    return impl;
  }

  /** The implementation of the group's own cipher suite. */
  implFor(state: GroupState): Promise<CiphersuiteImpl> {
    return this.impl(inner(state).groupContext.cipherSuite);
  }

  /**
   * Verifies a member credential: the binding signature (BAD_SIGNATURE if the identity key inside did not sign this
   * MLS signature key, account and device) and the caller's trust in that identity key for that account
   * (UNTRUSTED_IDENTITY). Returns who the member is.
   */
  async verifyCredential(identityBytes: Uint8Array, signaturePublicKey: Uint8Array): Promise<DeviceCredential> {
    const cacheKey = `${toHex(signaturePublicKey)}:${toHex(identityBytes)}`;
    let credential = this.verified.get(cacheKey);
    if (credential === undefined) {
      credential = await verifyDeviceCredential(this.crypto, identityBytes, signaturePublicKey);
      if (this.verified.size >= MAX_VERIFIED_CACHE) this.verified.clear();
      this.verified.set(cacheKey, credential);
    }
    if (!(await this.isTrustedIdentity(credential.accountId, credential.identityKey))) {
      throw new ProtocolError(
        ProtocolErrorCode.UntrustedIdentity,
        'a group member presents an identity key this client does not trust for its account',
      );
    }
    return credential;
  }

  /**
   * ts-mls's AuthenticationService hook: runs for every leaf ts-mls admits or re-validates. Throws (rather than
   * returning false) so the caller gets our precise code, not a generic validation failure.
   */
  private async checkMember(credential: Credential, signaturePublicKey: Uint8Array): Promise<boolean> {
    await this.verifyCredential(basicIdentity(credential), signaturePublicKey);
    return true;
  }
}
