/**
 * Linked devices. Linking is end-to-end encrypted: the new device opens /v1/provisioning/websocket and shows its
 * provisioning address and an ephemeral public key (QR or code); the existing device asks the server for a one-use
 * link code, encrypts { identity key pair, account id, link code } to the ephemeral key and PUTs the blob to
 * /v1/provisioning/:address; the server only relays it. The new device then registers itself with the link code.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Static } from '@sinclair/typebox';
import { Type } from '@sinclair/typebox';
import type { ServerContext } from '../context.js';
import { ApiError } from '../errors.js';
import { fromBase64, toBase64 } from '../http.js';
import { hashSecret } from '../auth.js';
import { RepositoryError } from '../store/repository.js';
import { AccountId, Base64, DeviceId, DeviceKeys, ErrorResponse } from '../schemas.js';
import { decodeAndVerifyKeys, storeKeys } from './keys.js';
import { MAX_PROVISIONING_BODY_BYTES } from '@samizdat/protocol';
import { toHour } from '../coarse-time.js';

const LINK_CODE_TTL_MS = 10 * 60 * 1000;

const LinkBody = Type.Object(
  { code: Type.String({ pattern: '^[A-Za-z0-9_-]{22,64}$' }), ...DeviceKeys },
  { additionalProperties: false },
);

const DeviceView = Type.Object({
  deviceId: Type.Integer(),
  registrationId: Type.Integer(),
  name: Type.String(),
  createdAt: Type.Integer(),
  lastSeenAt: Type.Integer(),
});

function codeHash(code: string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(code).digest());
}

export function registerDeviceRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post(
    '/v1/devices/link-code',
    {
      schema: {
        tags: ['devices'],
        summary: 'A one-use code (10 minutes) that lets a new device join this account',
        response: { 200: Type.Object({ code: Type.String(), expiresAt: Type.Integer() }) },
      },
    },
    async (request) => {
      const device = await ctx.authenticate(request);
      const code = randomBytes(24).toString('base64url');
      const expiresAt = ctx.now() + LINK_CODE_TTL_MS;
      await ctx.repo.createLinkCode(device.accountId, codeHash(code), expiresAt);
      return { code, expiresAt };
    },
  );

  app.post<{ Body: Static<typeof LinkBody> }>(
    '/v1/devices/link',
    {
      schema: {
        tags: ['devices'],
        summary: 'Register a new device of an existing account with a link code',
        body: LinkBody,
        response: {
          200: Type.Object({ accountId: AccountId, deviceId: Type.Integer() }),
          400: ErrorResponse,
          403: ErrorResponse,
          409: ErrorResponse,
        },
      },
    },
    async (request) => {
      const { body } = request;
      const accountId = await ctx.repo.consumeLinkCode(codeHash(body.code), ctx.now());
      if (!accountId) throw new ApiError('LINK_CODE_INVALID');
      const account = await ctx.repo.getAccount(accountId);
      if (!account) throw new ApiError('LINK_CODE_INVALID');
      const keys = await decodeAndVerifyKeys(ctx, account.identityKey, body);
      let deviceId: number;
      try {
        deviceId = await ctx.repo.addDevice(
          accountId,
          {
            registrationId: body.registrationId,
            authHash: await hashSecret(body.password),
            encryptedName: body.name ? fromBase64(body.name, 'name') : new Uint8Array(0),
            createdAt: toHour(ctx.now()),
          },
          ctx.config.limits.maxDevicesPerAccount,
        );
      } catch (err) {
        if (err instanceof RepositoryError && err.code === 'TOO_MANY_DEVICES') throw new ApiError('TOO_MANY_DEVICES');
        throw err;
      }
      // Sends through this node must list the new device from now on.
      ctx.forgetDeviceList(accountId);
      await storeKeys(ctx, accountId, deviceId, keys);
      return { accountId, deviceId };
    },
  );

  app.get(
    '/v1/devices',
    { schema: { tags: ['devices'], summary: 'Devices of the authenticated account', response: { 200: Type.Object({ devices: Type.Array(DeviceView) }) } } },
    async (request) => {
      const device = await ctx.authenticate(request);
      const devices = await ctx.repo.listDevices(device.accountId);
      return {
        devices: devices.map((d) => ({
          deviceId: d.deviceId,
          registrationId: d.registrationId,
          name: toBase64(d.encryptedName),
          createdAt: d.createdAt,
          lastSeenAt: d.lastSeenAt,
        })),
      };
    },
  );

  app.delete<{ Params: { deviceId: number } }>(
    '/v1/devices/:deviceId',
    {
      schema: {
        tags: ['devices'],
        summary: 'Remove a device of the authenticated account (its keys and queue go with it)',
        params: Type.Object({ deviceId: DeviceId }),
        response: { 204: Type.Null(), 404: ErrorResponse },
      },
    },
    async (request, reply) => {
      const device = await ctx.authenticate(request);
      const { deviceId } = request.params;
      if (!(await ctx.repo.removeDevice(device.accountId, deviceId))) throw new ApiError('DEVICE_NOT_FOUND');
      ctx.forgetDevice(device.accountId, deviceId);
      ctx.bus.publishRemoved({ accountId: device.accountId, deviceId });
      return reply.code(204).send();
    },
  );

  app.put<{ Params: { address: string }; Body: { body: string } }>(
    '/v1/provisioning/:address',
    {
      bodyLimit: 2 * MAX_PROVISIONING_BODY_BYTES,
      schema: {
        tags: ['devices'],
        summary: 'Relay an end-to-end encrypted provisioning message to a new device’s provisioning socket',
        params: Type.Object({ address: Type.String({ pattern: '^[A-Za-z0-9_-]{43}$' }) }),
        body: Type.Object({ body: Base64('Encrypted provisioning message', 2 * MAX_PROVISIONING_BODY_BYTES) }, { additionalProperties: false }),
        response: { 204: Type.Null(), 400: ErrorResponse },
      },
    },
    async (request, reply) => {
      await ctx.authenticate(request);
      const body = fromBase64(request.body.body, 'body');
      if (body.length > MAX_PROVISIONING_BODY_BYTES) throw new ApiError('PAYLOAD_TOO_LARGE');
      ctx.bus.publishProvisioning(request.params.address, body);
      return reply.code(204).send();
    },
  );
}
