/**
 * Accounts: register (no phone number, no e-mail), optional username (stored only as a keyed hash), lookup by
 * username or id, delete. Usernames never appear in clear in the database, logs or metrics.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Static } from '@sinclair/typebox';
import { Type } from '@sinclair/typebox';
import { ACCESS_KEY_LENGTH, IDENTITY_KEY_LENGTH, ProtocolError, ProtocolErrorCode, SEALED_SENDER_KEY_LENGTH, decodeIdentityKey, verifySealedSenderKey } from '@samizdat/protocol';
import type { ServerContext } from '../context.js';
import { ApiError } from '../errors.js';
import { fromBase64, toBase64 } from '../http.js';
import { hashSecret } from '../auth.js';
import { RepositoryError } from '../store/repository.js';
import type { AccountRecord } from '../store/repository.js';
import { AccountId, Base64, DeviceKeys, ErrorResponse } from '../schemas.js';
import { decodeAndVerifyKeys, storeKeys } from './keys.js';
import { toHour } from '../coarse-time.js';

/** A published sealed-sender key: version, X-Wing public key, Ed25519 signature. */

/** Letters, digits, "_" and ".", 3–32 characters, starting with a letter; compared case-insensitively. */
const USERNAME = /^[a-z][a-z0-9_.]{2,31}$/;

export function normalizeUsername(username: string): string {
  const normalized = username.normalize('NFKC').toLowerCase();
  if (!USERNAME.test(normalized)) throw new ApiError('INVALID_USERNAME');
  return normalized;
}

export function usernameHash(ctx: ServerContext, username: string): Uint8Array {
  return new Uint8Array(createHmac('sha256', ctx.usernameKey).update(normalizeUsername(username)).digest());
}

function decodeIdentity(value: string): Uint8Array {
  const bytes = fromBase64(value, 'identityKey', IDENTITY_KEY_LENGTH);
  try {
    decodeIdentityKey(bytes);
  } catch {
    throw new ApiError('INVALID_KEY', 'identityKey is not a valid identity key encoding');
  }
  return bytes;
}

const RegisterBody = Type.Object(
  {
    identityKey: Base64('Account identity public key, 65 bytes', 128),
    username: Type.Optional(Type.String({ maxLength: 64 })),
    device: Type.Object(DeviceKeys, { additionalProperties: false }),
  },
  { additionalProperties: false },
);

const AccountView = Type.Object({
  accountId: AccountId,
  identityKey: Type.String(),
  sealedSenderKey: Type.Optional(Type.String({ description: 'the published sealed-sender key, base64; the client checks its signature' })),
  unrestrictedAccess: Type.Optional(Type.Literal(true, { description: 'the account takes sealed envelopes from anyone (any access key)' })),
});

/** What an account lookup answers: its identity key and, once published, its sealed-sender key. */
function accountView(account: AccountRecord): Static<typeof AccountView> {
  return {
    accountId: account.id,
    identityKey: toBase64(account.identityKey),
    ...(account.sealedSenderKey ? { sealedSenderKey: toBase64(account.sealedSenderKey) } : {}),
    ...(account.unrestrictedAccess ? { unrestrictedAccess: true as const } : {}),
  };
}

export function registerAccountRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post<{ Body: Static<typeof RegisterBody> }>(
    '/v1/accounts',
    {
      schema: {
        tags: ['accounts'],
        summary: 'Create an account and its first device (device 1)',
        body: RegisterBody,
        response: {
          200: Type.Object({ accountId: AccountId, deviceId: Type.Integer() }),
          400: ErrorResponse,
          409: ErrorResponse,
        },
      },
    },
    async (request) => {
      const { body } = request;
      const identityKey = decodeIdentity(body.identityKey);
      const hash = body.username === undefined ? undefined : usernameHash(ctx, body.username);
      const keys = await decodeAndVerifyKeys(ctx, identityKey, body.device);
      const accountId = randomBytes(16).toString('hex');
      const now = toHour(ctx.now());
      try {
        await ctx.repo.createAccount(
          { id: accountId, usernameHash: hash, identityKey, createdAt: now },
          {
            registrationId: body.device.registrationId,
            authHash: await hashSecret(body.device.password),
            encryptedName: body.device.name ? fromBase64(body.device.name, 'device.name') : new Uint8Array(0),
            createdAt: now,
          },
        );
      } catch (err) {
        if (err instanceof RepositoryError && err.code === 'USERNAME_TAKEN') throw new ApiError('USERNAME_TAKEN');
        throw err;
      }
      await storeKeys(ctx, accountId, 1, keys);
      return { accountId, deviceId: 1 };
    },
  );

  app.get(
    '/v1/accounts/me',
    {
      schema: {
        tags: ['accounts'],
        summary: 'The authenticated account and device',
        response: { 200: Type.Object({ accountId: AccountId, deviceId: Type.Integer(), identityKey: Type.String(), hasUsername: Type.Boolean() }) },
      },
    },
    async (request) => {
      const device = await ctx.authenticate(request);
      const account = await ctx.repo.getAccount(device.accountId);
      if (!account) throw new ApiError('UNAUTHORIZED');
      return {
        accountId: account.id,
        deviceId: device.deviceId,
        identityKey: toBase64(account.identityKey),
        hasUsername: account.usernameHash !== undefined,
      };
    },
  );

  app.put<{ Body: { username: string } }>(
    '/v1/accounts/me/username',
    {
      schema: {
        tags: ['accounts'],
        summary: 'Set the username (case-insensitive, unique)',
        body: Type.Object({ username: Type.String({ maxLength: 64 }) }, { additionalProperties: false }),
        response: { 204: Type.Null(), 400: ErrorResponse, 409: ErrorResponse },
      },
    },
    async (request, reply) => {
      const device = await ctx.authenticate(request);
      try {
        await ctx.repo.setUsernameHash(device.accountId, usernameHash(ctx, request.body.username));
      } catch (err) {
        if (err instanceof RepositoryError && err.code === 'USERNAME_TAKEN') throw new ApiError('USERNAME_TAKEN');
        throw err;
      }
      return reply.code(204).send();
    },
  );

  app.put<{ Body: { sealedSenderKey: string } }>(
    '/v1/accounts/me/sealed-sender-key',
    {
      schema: {
        tags: ['accounts', 'sealed sender'],
        summary: "Publish the account's sealed-sender key (its signature by the identity key is checked)",
        body: Type.Object({ sealedSenderKey: Base64('01 || X-Wing public key || Ed25519 signature, 1,281 bytes', 1800) }, { additionalProperties: false }),
        response: { 204: Type.Null(), 400: ErrorResponse },
      },
    },
    async (request, reply) => {
      const device = await ctx.authenticate(request);
      const account = await ctx.repo.getAccount(device.accountId);
      if (!account) throw new ApiError('UNAUTHORIZED');
      const published = fromBase64(request.body.sealedSenderKey, 'sealedSenderKey', SEALED_SENDER_KEY_LENGTH);
      try {
        await verifySealedSenderKey(ctx.crypto, decodeIdentityKey(account.identityKey), published);
      } catch (err) {
        if (ProtocolError.is(err, ProtocolErrorCode.BadSignature)) throw new ApiError('BAD_SIGNATURE', 'the sealed-sender key is not signed by the identity key');
        throw new ApiError('INVALID_KEY', 'sealedSenderKey is not a sealed-sender key encoding');
      }
      await ctx.repo.setSealedSenderKey(device.accountId, published);
      return reply.code(204).send();
    },
  );

  app.put<{ Body: { accessKey: string; unrestricted: boolean } }>(
    '/v1/accounts/me/unidentified-access',
    {
      schema: {
        tags: ['accounts', 'sealed sender'],
        summary: 'Set the access key sealed sends to this account must present, and whether anyone may send it sealed envelopes',
        body: Type.Object(
          {
            accessKey: Base64('16 bytes, derived from the profile key (docs/protocol.md "Unidentified delivery")', 32),
            unrestricted: Type.Boolean({ description: 'take sealed envelopes from anyone, with any access key' }),
          },
          { additionalProperties: false },
        ),
        response: { 204: Type.Null(), 400: ErrorResponse },
      },
    },
    async (request, reply) => {
      const device = await ctx.authenticate(request);
      const accessKey = fromBase64(request.body.accessKey, 'accessKey', ACCESS_KEY_LENGTH);
      await ctx.repo.setUnidentifiedAccess(device.accountId, accessKey, request.body.unrestricted);
      return reply.code(204).send();
    },
  );

  app.delete(
    '/v1/accounts/me/username',
    { schema: { tags: ['accounts'], summary: 'Remove the username', response: { 204: Type.Null() } } },
    async (request, reply) => {
      const device = await ctx.authenticate(request);
      await ctx.repo.setUsernameHash(device.accountId, undefined);
      return reply.code(204).send();
    },
  );

  // A POST so the username travels in the body, never in a URL that proxies or logs might keep.
  app.post<{ Body: { username: string } }>(
    '/v1/accounts/lookup',
    {
      schema: {
        tags: ['accounts'],
        summary: 'Find an account by username',
        body: Type.Object({ username: Type.String({ maxLength: 64 }) }, { additionalProperties: false }),
        response: { 200: AccountView, 400: ErrorResponse, 404: ErrorResponse, 429: ErrorResponse },
      },
    },
    async (request) => {
      const device = await ctx.authenticate(request);
      // Every lookup counts, found or not: what it limits is guessing usernames to find out who is on the server.
      const limiter = ctx.usernameLookupLimiter;
      if (!limiter.take(device.accountId, ctx.now())) {
        throw new ApiError('RATE_LIMITED', 'too many username lookups', { retryAfter: limiter.retryAfter(device.accountId) });
      }
      const account = await ctx.repo.findAccountByUsernameHash(usernameHash(ctx, request.body.username));
      if (!account) throw new ApiError('ACCOUNT_NOT_FOUND');
      return accountView(account);
    },
  );

  app.get<{ Params: { accountId: string } }>(
    '/v1/accounts/:accountId',
    {
      schema: {
        tags: ['accounts'],
        summary: 'An account’s identity key',
        params: Type.Object({ accountId: AccountId }),
        response: { 200: AccountView, 404: ErrorResponse },
      },
    },
    async (request) => {
      await ctx.authenticate(request);
      const account = await ctx.repo.getAccount(request.params.accountId);
      if (!account) throw new ApiError('ACCOUNT_NOT_FOUND');
      return accountView(account);
    },
  );

  app.delete(
    '/v1/accounts/me',
    {
      schema: {
        tags: ['accounts'],
        summary: 'Delete the account: its devices, keys, queues and attachments',
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      const device = await ctx.authenticate(request);
      const devices = await ctx.repo.listDevices(device.accountId);
      const attachments = await ctx.repo.deleteAccount(device.accountId);
      for (const id of attachments) await ctx.blobs.delete(id);
      for (const d of devices) {
        ctx.forgetDevice(device.accountId, d.deviceId);
        ctx.bus.publishRemoved({ accountId: device.accountId, deviceId: d.deviceId });
      }
      return reply.code(204).send();
    },
  );
}
