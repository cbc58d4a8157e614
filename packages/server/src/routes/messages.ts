/**
 * Sending and the HTTP fallback for receiving. A send carries one envelope per device of the recipient account (and,
 * for a message to oneself, per other device of the sender's account). Every copy is durably stored before the
 * sender gets 200 (send.ts, shared with the WebSocket's SEND frame); the recipient devices are then woken.
 */
import { MAX_WAIT_SECONDS } from '@samizdat/protocol';
import type { FastifyInstance } from 'fastify';
import type { Static } from '@sinclair/typebox';
import { Type } from '@sinclair/typebox';
import { MAX_SEND_COPIES } from '@samizdat/protocol';
import type { ServerContext } from '../context.js';
import { fromBase64, toBase64 } from '../http.js';
import type { DeviceWaiters } from '../bus/device-waiters.js';
import { sendMessage } from '../send.js';
import { AccountId, Base64, DeviceId, ErrorResponse, RegistrationId } from '../schemas.js';
import { toDay } from '../coarse-time.js';
import { ACCESS_KEY_HEADER } from '../sealed-sender/unidentified-access.js';

const FETCH_LIMIT = 100;
/** Sealed sends: no credentials, the recipient's access key instead (sealed-sender/unidentified-access.ts). */
export const SEALED_SEND_PATH = '/v1/sealed/messages/:accountId';

const SendBody = Type.Object(
  {
    messages: Type.Array(
      Type.Object(
        { deviceId: DeviceId, registrationId: RegistrationId, envelope: Base64('Encoded envelope', 600 * 1024) },
        { additionalProperties: false },
      ),
      { maxItems: MAX_SEND_COPIES },
    ),
  },
  { additionalProperties: false },
);

const Mismatch = Type.Object({
  code: Type.Literal('DEVICE_LIST_MISMATCH'),
  message: Type.String(),
  missingDevices: Type.Array(Type.Integer()),
  extraDevices: Type.Array(Type.Integer()),
  staleDevices: Type.Array(Type.Integer()),
});

const Queued = Type.Object({
  id: Type.String({ description: 'Server id (decimal); acknowledge with it' }),
  sourceAccountId: Type.Optional(Type.String()),
  sourceDeviceId: Type.Optional(Type.Integer()),
  envelope: Type.String(),
  receivedAt: Type.Integer(),
});

export function registerMessageRoutes(app: FastifyInstance, ctx: ServerContext, waiters: DeviceWaiters): void {
  app.put<{ Params: { accountId: string }; Body: Static<typeof SendBody> }>(
    '/v1/messages/:accountId',
    {
      bodyLimit: ctx.config.limits.maxSendBodyBytes,
      schema: {
        tags: ['messages'],
        summary: 'Send one message: an envelope for every current device of the recipient account',
        params: Type.Object({ accountId: AccountId }),
        body: SendBody,
        response: {
          200: Type.Object({ stored: Type.Integer(), ids: Type.Array(Type.String()) }),
          400: ErrorResponse,
          404: ErrorResponse,
          409: Mismatch,
          413: ErrorResponse,
          429: ErrorResponse,
          503: ErrorResponse,
        },
      },
    },
    async (request) => {
      const sender = await ctx.authenticate(request);
      const copies = request.body.messages.map((m, i) => ({
        deviceId: m.deviceId,
        registrationId: m.registrationId,
        envelope: fromBase64(m.envelope, `messages[${i}].envelope`),
      }));
      const ids = await sendMessage(ctx, sender, request.params.accountId, copies, (i) => `messages[${i}].envelope`);
      return { stored: ids.length, ids: ids.map(String) };
    },
  );

  app.put<{ Params: { accountId: string }; Body: Static<typeof SendBody> }>(
    SEALED_SEND_PATH,
    {
      bodyLimit: ctx.config.limits.maxSendBodyBytes,
      schema: {
        tags: ['messages', 'sealed sender'],
        summary: 'Send one sealed message without credentials, authorized by the recipient’s access key: an envelope for every current device of the account',
        params: Type.Object({ accountId: AccountId }),
        headers: Type.Object({ [ACCESS_KEY_HEADER]: Type.String({ description: 'the recipient’s 16-byte access key, base64' }) }),
        body: SendBody,
        response: {
          200: Type.Object({ stored: Type.Integer(), ids: Type.Array(Type.String()) }),
          400: ErrorResponse,
          401: ErrorResponse,
          404: ErrorResponse,
          409: Mismatch,
          413: ErrorResponse,
          429: ErrorResponse,
          503: ErrorResponse,
        },
      },
    },
    async (request) => {
      await ctx.unidentified.authorize(request, request.params.accountId);
      const copies = request.body.messages.map((m, i) => ({
        deviceId: m.deviceId,
        registrationId: m.registrationId,
        envelope: fromBase64(m.envelope, `messages[${i}].envelope`),
      }));
      const ids = await sendMessage(ctx, undefined, request.params.accountId, copies, (i) => `messages[${i}].envelope`);
      return { stored: ids.length, ids: ids.map(String) };
    },
  );

  app.get<{ Querystring: { wait?: number; after?: string } }>(
    '/v1/messages',
    {
      schema: {
        tags: ['messages'],
        summary: 'Fetch queued envelopes (fallback for clients without a WebSocket); long-polls up to `wait` seconds',
        querystring: Type.Object(
          {
            wait: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_WAIT_SECONDS })),
            after: Type.Optional(Type.String({ pattern: '^[0-9]{1,19}$' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ messages: Type.Array(Queued), more: Type.Boolean() }) },
      },
    },
    async (request) => {
      const device = await ctx.authenticate(request);
      const after = BigInt(request.query.after ?? '0');
      const fetch = () => ctx.repo.fetchQueue(device.accountId, device.deviceId, after, FETCH_LIMIT + 1, ctx.now());
      let queued = await fetch();
      const wait = request.query.wait ?? 0;
      if (queued.length === 0 && wait > 0) {
        const abort = new AbortController();
        request.raw.once('close', () => abort.abort());
        if (await waiters.wait(device, wait * 1000, AbortSignal.any([abort.signal, ctx.shutdown.signal]))) queued = await fetch();
      }
      await ctx.repo.touchDevice(device.accountId, device.deviceId, toDay(ctx.now()));
      const page = queued.slice(0, FETCH_LIMIT);
      ctx.metrics.pushed.inc(page.length);
      return {
        messages: page.map((q) => ({
          id: String(q.id),
          ...(q.sourceAccountId !== undefined ? { sourceAccountId: q.sourceAccountId } : {}),
          ...(q.sourceDeviceId !== undefined ? { sourceDeviceId: q.sourceDeviceId } : {}),
          envelope: toBase64(q.envelope),
          receivedAt: q.receivedAt,
        })),
        more: queued.length > FETCH_LIMIT,
      };
    },
  );

  app.post<{ Body: { ids: string[] } }>(
    '/v1/messages/ack',
    {
      schema: {
        tags: ['messages'],
        summary: 'Acknowledge envelopes: they are deleted from this device’s queue',
        body: Type.Object(
          { ids: Type.Array(Type.String({ pattern: '^[0-9]{1,19}$' }), { minItems: 1, maxItems: 1000 }) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ acknowledged: Type.Array(Type.String()), unknown: Type.Array(Type.String()) }) },
      },
    },
    async (request) => {
      const device = await ctx.authenticate(request);
      const ids = request.body.ids.map((id) => BigInt(id));
      const deleted = await ctx.repo.ack(device.accountId, device.deviceId, ids);
      ctx.metrics.messagesOut.inc(deleted.length);
      const done = new Set(deleted.map(String));
      return { acknowledged: [...done], unknown: request.body.ids.filter((id) => !done.has(String(BigInt(id)))) };
    },
  );
}
