/**
 * The prekey bundle of PQXDH §3.3: what Alice fetches from the server for one of Bob's devices. The bundle is
 * server-supplied and therefore untrusted until its signatures verify against Bob's identity key
 * (`verifyPreKeyBundle`, called by PQXDH before any DH is computed).
 */
import type { CryptoProvider } from '../crypto/provider.js';
import { ProtocolError, ProtocolErrorCode } from '../errors.js';
import type { IdentityKey } from './identity.js';
import type { PreKeyId } from './prekeys.js';
import { verifyKyberPreKey, verifySignedPreKey } from './prekeys.js';

export interface PreKeyBundle {
  readonly identityKey: IdentityKey;
  readonly deviceId: number;
  readonly signedPreKey: { readonly id: PreKeyId; readonly publicKey: Uint8Array; readonly signature: Uint8Array };
  /** Absent when the server has run out of one-time curve prekeys (PQXDH §3.3 allows it). */
  readonly oneTimePreKey?: { readonly id: PreKeyId; readonly publicKey: Uint8Array };
  /** A one-time ML-KEM prekey if one is left, else the last-resort one; required (PQXDH §3.3). */
  readonly kyberPreKey: { readonly id: PreKeyId; readonly publicKey: Uint8Array; readonly signature: Uint8Array };
}

/** Throws BAD_SIGNATURE unless both prekey signatures verify against the bundle's identity key. */
export async function verifyPreKeyBundle(provider: CryptoProvider, bundle: PreKeyBundle): Promise<void> {
  const { signingKey } = bundle.identityKey;
  const [ecOk, kemOk] = await Promise.all([
    verifySignedPreKey(provider, signingKey, bundle.signedPreKey.publicKey, bundle.signedPreKey.signature),
    verifyKyberPreKey(provider, signingKey, bundle.kyberPreKey.publicKey, bundle.kyberPreKey.signature),
  ]);
  if (!ecOk) throw new ProtocolError(ProtocolErrorCode.BadSignature, 'signed prekey signature does not verify');
  if (!kemOk) throw new ProtocolError(ProtocolErrorCode.BadSignature, 'ML-KEM prekey signature does not verify');
}
