/**
 * Sending and the HTTP fallback for receiving. A send carries one envelope per device of the recipient account (and,
 * for a message to oneself, per other device of the sender's account). Every copy is durably stored before the
 * sender gets 200; the recipient devices are then woken through the bus. Envelopes are opaque ciphertext: the server
 * only checks that they decode as envelopes and fit the size limit.
 */
import type { FastifyInstance } from 'fastify';
import type { Static } from '@sinclair/typebox';
import { Type } from '@sinclair/typebox';
import { decodeEnvelope } from '@samizdat/protocol';
import type { AuthenticatedDevice, ServerContext } from '../context.js';
import { ApiError } from '../errors.js';
import { fromBase64, toBase64 } from '../http.js';
import type { DeviceWaiters } from '../bus/device-waiters.js';
import type { DeviceRecord, NewEnvelope } from '../store/repository.js';
import { RepositoryError } from '../store/repository.js';
import { AccountId, Base64, DeviceId, ErrorResponse, RegistrationId } from '../schemas.js';

const MAX_DEVICES_PER_SEND = 64;
const FETCH_LIMIT = 100;
const MAX_WAIT_SECONDS = 60;

const SendBody = Type.Object(
  {
    messages: Type.Array(
      Type.Object(
        { deviceId: DeviceId, registrationId: RegistrationId, envelope: Base64('Encoded envelope', 600 * 1024) },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: MAX_DEVICES_PER_SEND },
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

/** Why a send with these devices (id → registration id) does not fit the account's `devices`, if it does not. */
function deviceListProblem(
  devices: readonly DeviceRecord[],
  accountId: string,
  sender: AuthenticatedDevice,
  given: ReadonlyMap<number, number>,
): ApiError | undefined {
  if (devices.length === 0) return new ApiError('ACCOUNT_NOT_FOUND');
  // The sender's own device never receives its own copy.
  const expected = devices.filter((d) => !(accountId === sender.accountId && d.deviceId === sender.deviceId));
  const expectedIds = new Set(expected.map((d) => d.deviceId));
  const missingDevices = expected.filter((d) => !given.has(d.deviceId)).map((d) => d.deviceId);
  const extraDevices = [...given.keys()].filter((id) => !expectedIds.has(id));
  const staleDevices = expected
    .filter((d) => given.has(d.deviceId) && given.get(d.deviceId) !== d.registrationId)
    .map((d) => d.deviceId);
  if (missingDevices.length || extraDevices.length || staleDevices.length) {
    return new ApiError('DEVICE_LIST_MISMATCH', undefined, { missingDevices, extraDevices, staleDevices });
  }
  return undefined;
}

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
      if (ctx.closing) throw new ApiError('SHUTTING_DOWN');
      const { accountId } = request.params;
      const { messages } = request.body;
      // The cached device list is exact on a single node (every link and removal goes through this process); with
      // several nodes (NATS) a device linked on another node would be missed until the cache expired, so read fresh.
      const devices = await ctx.listDevices(accountId, ctx.config.natsUrl !== undefined);
      // Empty lists are never cached: this one was read just now.
      if (devices.length === 0) throw new ApiError('ACCOUNT_NOT_FOUND');
      const given = new Map<number, number>();
      for (const m of messages) {
        if (given.has(m.deviceId)) throw new ApiError('BAD_REQUEST', `device ${m.deviceId} appears twice`);
        given.set(m.deviceId, m.registrationId);
      }
      // The cached list may be up to a second behind links on other nodes: refusals are confirmed with a fresh one.
      if (deviceListProblem(devices, accountId, sender, given)) {
        const confirmed = deviceListProblem(await ctx.listDevices(accountId, true), accountId, sender, given);
        if (confirmed) throw confirmed;
      }
      const now = ctx.now();
      const expiresAt = now + ctx.config.limits.maxQueueAgeMs;
      const rows: NewEnvelope[] = messages.map((m, i) => {
        const envelope = fromBase64(m.envelope, `messages[${i}].envelope`);
        if (envelope.length > ctx.config.limits.maxEnvelopeBytes) throw new ApiError('ENVELOPE_TOO_LARGE');
        try {
          decodeEnvelope(envelope);
        } catch {
          throw new ApiError('INVALID_ENVELOPE', `messages[${i}].envelope is not a valid envelope`);
        }
        return {
          accountId,
          deviceId: m.deviceId,
          sourceAccountId: sender.accountId,
          sourceDeviceId: sender.deviceId,
          envelope,
          receivedAt: now,
          expiresAt,
        };
      });
      let ids: bigint[];
      try {
        ids = await ctx.repo.enqueue(rows, ctx.config.limits.maxQueueDepth);
      } catch (err) {
        if (err instanceof RepositoryError && err.code === 'QUEUE_FULL') throw new ApiError('QUEUE_FULL');
        if (err instanceof RepositoryError && err.code === 'DEVICE_NOT_FOUND') {
          // A device was removed between the device-list check and the write: the same answer as a stale list.
          const current = new Set((await ctx.listDevices(accountId, true)).map((d) => d.deviceId));
          const extraDevices = [...given.keys()].filter((id) => !current.has(id));
          throw new ApiError('DEVICE_LIST_MISMATCH', undefined, { missingDevices: [], extraDevices, staleDevices: [] });
        }
        throw err;
      }
      ctx.metrics.messagesIn.inc(rows.length);
      // The stored rows go with the wake-up: a local connection that has read its whole queue pushes them as they
      // are instead of reading them back (a bus between nodes drops them and the connection reads the queue).
      rows.forEach((row, i) => {
        const stored = {
          id: ids[i] as bigint,
          sourceAccountId: row.sourceAccountId,
          sourceDeviceId: row.sourceDeviceId,
          envelope: row.envelope,
          receivedAt: row.receivedAt,
        };
        ctx.bus.publishQueued({ accountId: row.accountId, deviceId: row.deviceId }, [stored]);
      });
      return { stored: rows.length, ids: ids.map(String) };
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
      await ctx.repo.touchDevice(device.accountId, device.deviceId, ctx.now());
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
