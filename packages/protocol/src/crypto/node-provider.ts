/**
 * CryptoProvider on node:crypto (OpenSSL): SHA-2, HMAC, HKDF (RFC 5869), AES-256-GCM, X25519 (RFC 7748) and
 * Ed25519 (RFC 8032). ML-KEM-1024 (FIPS 203) is @noble/post-quantum, through the same code as WebCryptoProvider, as
 * are the argument checks and their ProtocolError codes (see web-provider.ts).
 *
 * Raw 32-byte X25519 / Ed25519 keys become KeyObjects through JWK, the cheapest import Node 20 offers (measured on
 * Node 20.20 / OpenSSL 3.0: private key from JWK ≈ 22 µs against ≈ 300 µs from PKCS#8 DER; public key from JWK
 * ≈ 4.5 µs against ≈ 65 µs from SPKI DER). A JWK private key must carry the public `x`, which the interface does not
 * hand us (X25519 receives only our private key), and computing it would cost a scalar multiplication. Node ignores
 * that `x`: for an OKP private JWK it checks only that `x` is a string and builds the key from `d` alone, deriving the
 * public key (lib/internal/crypto/keys.js, getKeyObjectHandleFromJwk → initEDRaw). So we pass a placeholder `x`.
 * Measured on Node 20.20: a zero, random, empty or non-base64 `x` is accepted, and DH outputs, Ed25519 signatures
 * and the exported public key stay correct for random keys (cross-checked against @noble on hundreds of keys in
 * test/crypto/node-provider.test.ts). The constructor re-checks it once against RFC vectors, so a Node that starts
 * trusting `x` fails loudly instead of signing with a wrong public key.
 *
 * The price of JWK is that the private key passes through a base64url string, which cannot be wiped. Buffers and
 * KeyObjects holding it are not wiped by Node either; best-effort wiping is all JavaScript offers.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  hkdfSync,
  randomFillSync,
  sign,
  verify,
} from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { CryptoProvider, KeyPair } from './provider.js';
import {
  AES_GCM_TAG_LENGTH,
  ED25519_PRIVATE_KEY_LENGTH,
  ED25519_PUBLIC_KEY_LENGTH,
  ED25519_SIGNATURE_LENGTH,
  X25519_KEY_LENGTH,
} from './provider.js';
import {
  assertAesGcmArguments,
  assertByteCount,
  assertBytes,
  assertHkdfArguments,
  assertKeyLength,
  badMac,
  NobleMlKem1024,
  isAllZero,
  lowOrderX25519,
} from './web-provider.js';

type OkpCurve = 'X25519' | 'Ed25519';

/** base64url of 32 zero bytes: the `x` we hand Node with a private JWK (ignored, see the module comment). */
const PLACEHOLDER_JWK_X = 'A'.repeat(43);
/** randomFillSync fills at most 2^31 - 1 bytes per call. */
const MAX_RANDOM_FILL_BYTES = 2 ** 31 - 1;

/**
 * The y-coordinates (sign bit of x masked) of the eight Ed25519 points of small order, canonical and non-canonical
 * (p, p + 1): libsodium's blocklist. OpenSSL's cofactorless check accepts e.g. R = identity, S = 0 under the identity
 * key for any message; WebCryptoProvider (noble, strict) rejects small-order keys, and so do we, before OpenSSL.
 */
const ED25519_SMALL_ORDER_Y = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
].map((hex) => Buffer.from(hex, 'hex'));

/** Public data, so an early-exit comparison is fine. */
function isSmallOrderEd25519Key(publicKey: Uint8Array): boolean {
  return ED25519_SMALL_ORDER_Y.some((y) => {
    for (let i = 0; i < 31; i++) if (publicKey[i] !== y[i]) return false;
    return ((publicKey[31] as number) & 0x7f) === y[31];
  });
}

/**
 * The interface returns plain Uint8Arrays, as the web provider does, not Buffers (whose extra methods and, for small
 * allocations, shared pool would leak through). node:crypto's outputs own exactly-sized memory, so a view suffices.
 */
function view(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

function base64url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

/** Decodes into a fresh, exactly-sized buffer (Buffer.from(string) would use Node's shared 8 KiB pool). */
function fromBase64url(text: string | undefined, length: number): Uint8Array {
  const out = new Uint8Array(length);
  if (text === undefined || Buffer.from(out.buffer).write(text, 'base64url') !== length) {
    throw new Error('node:crypto exported an unexpected JWK');
  }
  return out;
}

function importPrivateKey(crv: OkpCurve, privateKey: Uint8Array): KeyObject {
  return createPrivateKey({ key: { kty: 'OKP', crv, d: base64url(privateKey), x: PLACEHOLDER_JWK_X }, format: 'jwk' });
}

function importPublicKey(crv: OkpCurve, publicKey: Uint8Array): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv, x: base64url(publicKey) }, format: 'jwk' });
}

/**
 * A new private key from 32 random bytes (X25519 scalar or Ed25519 seed), imported like any raw key.
 *
 * Not generateKeyPairSync: on Node 20.20, exporting (as JWK) a key made by generateKeyPairSync can deadlock the
 * process when a garbage collection runs inside the export — the key-generation job's destructor waits on a mutex
 * the main thread holds (seen under gdb in ExportJWKEdKey; 2 hangs in 3 runs of 200,000 generations). A key
 * imported from bytes has no such job behind it, and costs the same (~25 µs). Regression test:
 * test/crypto/node-provider.test.ts ("generates many keys without hanging").
 */
function freshPrivateKey(crv: OkpCurve): KeyObject {
  const seed = new Uint8Array(32);
  randomFillSync(seed);
  const key = importPrivateKey(crv, seed);
  seed.fill(0);
  return key;
}

function exportKeyPair(privateKey: KeyObject): KeyPair {
  const jwk = privateKey.export({ format: 'jwk' });
  return { publicKey: fromBase64url(jwk.x, 32), privateKey: fromBase64url(jwk.d, 32) };
}

let jwkImportChecked = false;

/**
 * Fails closed unless Node derives the public key from a private JWK's `d` and ignores its `x`, which every raw-key
 * import here relies on. Runs once per process, on RFC 7748 §6.1 (Alice) and RFC 8032 §7.1 (TEST 1) keys.
 */
function checkJwkPrivateImport(): void {
  if (jwkImportChecked) return;
  const cases: ReadonlyArray<readonly [OkpCurve, string, string]> = [
    [
      'X25519',
      '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a',
      '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a',
    ],
    [
      'Ed25519',
      '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
      'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    ],
  ];
  for (const [crv, d, x] of cases) {
    const derived = createPublicKey(importPrivateKey(crv, Buffer.from(d, 'hex'))).export({ format: 'jwk' }).x;
    if (derived !== Buffer.from(x, 'hex').toString('base64url')) {
      throw new Error(`NodeCryptoProvider: this Node does not derive the ${crv} public key from a JWK's d`);
    }
  }
  jwkImportChecked = true;
}

/** X25519 with an imported private key; INVALID_KEY for an all-zero result (RFC 7748 §6.1). */
function agree(privateKey: KeyObject, publicKey: Uint8Array): Uint8Array {
  let shared: Buffer;
  try {
    shared = diffieHellman({ privateKey, publicKey: importPublicKey('X25519', publicKey) });
  } catch {
    // OpenSSL fails the derivation when the output is all zeros (ERR_OSSL_FAILED_DURING_DERIVATION); 32-byte keys
    // always import, so that is the only failure left.
    throw lowOrderX25519();
  }
  // RFC 7748 §6.1, checked again here so that we do not depend on OpenSSL doing it.
  if (isAllZero(shared)) throw lowOrderX25519();
  return view(shared);
}

export class NodeCryptoProvider extends NobleMlKem1024 implements CryptoProvider {
  readonly name = 'node';

  constructor() {
    super();
    checkJwkPrivateImport();
  }

  randomBytes(length: number): Uint8Array {
    assertByteCount(length, Number.MAX_SAFE_INTEGER, 'random byte count');
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i += MAX_RANDOM_FILL_BYTES) {
      randomFillSync(out, i, Math.min(MAX_RANDOM_FILL_BYTES, length - i));
    }
    return out;
  }

  async sha256(data: Uint8Array): Promise<Uint8Array> {
    assertBytes(data, 'SHA-256 input');
    return view(createHash('sha256').update(data).digest());
  }

  async sha512(data: Uint8Array): Promise<Uint8Array> {
    assertBytes(data, 'SHA-512 input');
    return view(createHash('sha512').update(data).digest());
  }

  async hmacSha256(key: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
    assertBytes(key, 'HMAC key');
    assertBytes(data, 'HMAC input');
    return view(createHmac('sha256', key).update(data).digest());
  }

  async hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Promise<Uint8Array> {
    assertHkdfArguments(ikm, salt, info, length);
    // RFC 5869 §2.2: OpenSSL treats an empty salt as HashLen zero bytes.
    return new Uint8Array(hkdfSync('sha256', ikm, salt, info, length));
  }

  async aesGcmEncrypt(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    assertAesGcmArguments(key, iv, plaintext, aad);
    const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: AES_GCM_TAG_LENGTH });
    cipher.setAAD(aad);
    const body = cipher.update(plaintext);
    const rest = cipher.final(); // empty for GCM: it is a stream mode
    // One exactly-sized buffer of our own (Buffer.concat would take small outputs from Node's shared pool).
    const out = new Uint8Array(body.length + rest.length + AES_GCM_TAG_LENGTH);
    out.set(body);
    out.set(rest, body.length);
    out.set(cipher.getAuthTag(), body.length + rest.length);
    return out;
  }

  async aesGcmDecrypt(key: Uint8Array, iv: Uint8Array, ciphertext: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    assertAesGcmArguments(key, iv, ciphertext, aad);
    if (ciphertext.length < AES_GCM_TAG_LENGTH) throw badMac();
    const bodyLength = ciphertext.length - AES_GCM_TAG_LENGTH;
    const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: AES_GCM_TAG_LENGTH });
    decipher.setAAD(aad);
    decipher.setAuthTag(ciphertext.subarray(bodyLength));
    const body = decipher.update(ciphertext.subarray(0, bodyLength));
    let rest: Buffer;
    try {
      rest = decipher.final();
    } catch {
      body.fill(0); // unauthenticated plaintext never leaves
      throw badMac();
    }
    if (rest.length === 0) return view(body);
    const out = new Uint8Array(body.length + rest.length);
    out.set(body);
    out.set(rest, body.length);
    body.fill(0);
    return out;
  }

  async x25519GenerateKeyPair(): Promise<KeyPair> {
    return exportKeyPair(freshPrivateKey('X25519'));
  }

  async x25519(privateKey: Uint8Array, publicKey: Uint8Array): Promise<Uint8Array> {
    assertKeyLength(privateKey, X25519_KEY_LENGTH, 'X25519 private key');
    assertKeyLength(publicKey, X25519_KEY_LENGTH, 'X25519 public key');
    return agree(importPrivateKey('X25519', privateKey), publicKey);
  }

  async x25519Many(privateKey: Uint8Array, publicKeys: readonly Uint8Array[]): Promise<Uint8Array[]> {
    assertKeyLength(privateKey, X25519_KEY_LENGTH, 'X25519 private key');
    for (const publicKey of publicKeys) assertKeyLength(publicKey, X25519_KEY_LENGTH, 'X25519 public key');
    const key = importPrivateKey('X25519', privateKey);
    return publicKeys.map((publicKey) => agree(key, publicKey));
  }

  async x25519GenerateAndAgree(publicKeys: readonly Uint8Array[]): Promise<{ keyPair: KeyPair; shared: Uint8Array[] }> {
    for (const publicKey of publicKeys) assertKeyLength(publicKey, X25519_KEY_LENGTH, 'X25519 public key');
    const key = freshPrivateKey('X25519');
    return { keyPair: exportKeyPair(key), shared: publicKeys.map((publicKey) => agree(key, publicKey)) };
  }

  async ed25519GenerateKeyPair(): Promise<KeyPair> {
    return exportKeyPair(freshPrivateKey('Ed25519'));
  }

  async ed25519Sign(privateKey: Uint8Array, message: Uint8Array): Promise<Uint8Array> {
    assertKeyLength(privateKey, ED25519_PRIVATE_KEY_LENGTH, 'Ed25519 private key');
    assertBytes(message, 'Ed25519 message');
    return view(sign(null, message, importPrivateKey('Ed25519', privateKey)));
  }

  async ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
    if (!(publicKey instanceof Uint8Array) || publicKey.length !== ED25519_PUBLIC_KEY_LENGTH) return false;
    if (!(signature instanceof Uint8Array) || signature.length !== ED25519_SIGNATURE_LENGTH) return false;
    if (!(message instanceof Uint8Array)) return false;
    if (isSmallOrderEd25519Key(publicKey)) return false;
    try {
      return verify(null, message, importPublicKey('Ed25519', publicKey), signature);
    } catch {
      return false;
    }
  }
}
