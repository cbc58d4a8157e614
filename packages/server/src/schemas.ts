/** TypeBox schemas shared by routes: they validate requests and document them in the OpenAPI description. */
import { Type } from '@sinclair/typebox';
import { ACCOUNT_ID_PATTERN, MAX_DEVICE_ID, MAX_KEYS_PER_UPLOAD, MAX_REGISTRATION_ID } from '@samizdat/protocol';
import { SECRET_PATTERN } from './auth.js';

export const Base64 = (description: string, maxLength = 4096) =>
  Type.String({ description: `${description} (base64)`, maxLength, pattern: '^[A-Za-z0-9+/_-]*={0,2}$' });

export const AccountId = Type.String({ pattern: ACCOUNT_ID_PATTERN.source, description: 'Account id: 32 lowercase hex characters' });
/** Bounds of device and registration ids (@samizdat/protocol api/ids.ts), for the JSON schemas and SEND frames. */
export { MAX_DEVICE_ID, MAX_REGISTRATION_ID };
export const DeviceId = Type.Integer({ minimum: 1, maximum: MAX_DEVICE_ID });
export const KeyId = Type.Integer({ minimum: 0, maximum: 0xffffffff });
export const RegistrationId = Type.Integer({ minimum: 1, maximum: MAX_REGISTRATION_ID });

export const SignedPreKey = Type.Object(
  {
    keyId: KeyId,
    publicKey: Base64('X25519 public key, 32 bytes', 64),
    signature: Base64('Ed25519 signature by the identity key over EncodeEC(publicKey)', 128),
  },
  { additionalProperties: false },
);

export const KyberPreKey = Type.Object(
  {
    keyId: KeyId,
    publicKey: Base64('ML-KEM-1024 encapsulation key, 1568 bytes', 2200),
    signature: Base64('Ed25519 signature by the identity key over EncodeKEM(publicKey)', 128),
  },
  { additionalProperties: false },
);

export const OneTimePreKey = Type.Object(
  { keyId: KeyId, publicKey: Base64('X25519 public key, 32 bytes', 64) },
  { additionalProperties: false },
);

export { MAX_KEYS_PER_UPLOAD };

/** The keys a device uploads at registration or link time. */
export const DeviceKeys = {
  registrationId: RegistrationId,
  password: Type.String({ pattern: SECRET_PATTERN, description: 'The device auth secret (base64url, ≥128 bits)' }),
  name: Type.Optional(Base64('End-to-end encrypted device name', 512)),
  signedPreKey: SignedPreKey,
  kyberLastResortPreKey: KyberPreKey,
  oneTimePreKeys: Type.Optional(Type.Array(OneTimePreKey, { maxItems: MAX_KEYS_PER_UPLOAD })),
  kyberPreKeys: Type.Optional(Type.Array(KyberPreKey, { maxItems: MAX_KEYS_PER_UPLOAD })),
};

export const ErrorResponse = Type.Object(
  { code: Type.String(), message: Type.String() },
  { additionalProperties: true, description: 'Every error: a stable code (docs/api.md) and a human message' },
);

export const NoContent = Type.Null({ description: 'No content' });
