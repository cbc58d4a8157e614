/**
 * Sends, whichever way they came: a 1:1 send (PUT /v1/messages/:accountId or a SEND frame on /v1/websocket) checks
 * the device list, validates every envelope, stores every copy durably in one write, then wakes the recipient
 * devices; a group send (PUT /v1/groups/:groupId/messages or a GROUP_SEND frame) checks membership and fans one
 * envelope out to the group's other member devices the same way. Envelopes are opaque ciphertext: the server only
 * checks that they decode as envelopes of the right type and fit the size limit.
 */
import { EnvelopeType, decodeEnvelope } from '@samizdat/protocol';
import type { AuthenticatedDevice, ServerContext } from './context.js';
import { ApiError } from './errors.js';
import type { DeviceRecord, NewEnvelope, StoredGroupEnvelope } from './store/repository.js';
import { RepositoryError, memberKey } from './store/repository.js';

export interface IncomingCopy {
  readonly deviceId: number;
  readonly registrationId: number;
  readonly envelope: Uint8Array;
}

/** Why a send with these devices (id → registration id) does not fit the account's `devices`, if it does not. */
function deviceListProblem(
  devices: readonly DeviceRecord[],
  accountId: string,
  sender: AuthenticatedDevice | undefined,
  given: ReadonlyMap<number, number>,
): ApiError | undefined {
  if (devices.length === 0) return new ApiError('ACCOUNT_NOT_FOUND');
  // The sender's own device never receives its own copy (a sealed send has no known sender: every device does).
  const expected = devices.filter((d) => !(sender !== undefined && accountId === sender.accountId && d.deviceId === sender.deviceId));
  if (expected.length === given.size && expected.every((d) => given.get(d.deviceId) === d.registrationId)) return undefined;
  const expectedIds = new Set(expected.map((d) => d.deviceId));
  const missingDevices = expected.filter((d) => !given.has(d.deviceId)).map((d) => d.deviceId);
  const extraDevices = [...given.keys()].filter((id) => !expectedIds.has(id));
  const staleDevices = expected
    .filter((d) => given.has(d.deviceId) && given.get(d.deviceId) !== d.registrationId)
    .map((d) => d.deviceId);
  return new ApiError('DEVICE_LIST_MISMATCH', undefined, { missingDevices, extraDevices, staleDevices });
}

/**
 * Stores one message for every current device of `accountId` (minus the sender's own device) and wakes them; resolves
 * with the server ids in the order of `copies` once every copy is durably stored. No copies is allowed only for the
 * sender's own account (a device that knows of no other device of its account has that checked). Throws ApiError: BAD_REQUEST (a
 * device twice), ACCOUNT_NOT_FOUND, DEVICE_LIST_MISMATCH (with missing/extra/stale lists), ENVELOPE_TOO_LARGE,
 * INVALID_ENVELOPE, QUEUE_FULL, SHUTTING_DOWN. `where(i)` names copy i in error messages.
 *
 * `sender` undefined is a sealed send (unidentified delivery, already authorized by the recipient's access key):
 * every copy must be a SealedSender envelope, and the stored rows name no sender (docs/threat-model.md).
 */
export async function sendMessage(
  ctx: ServerContext,
  sender: AuthenticatedDevice | undefined,
  accountId: string,
  copies: readonly IncomingCopy[],
  where: (i: number) => string,
): Promise<bigint[]> {
  if (ctx.closing) throw new ApiError('SHUTTING_DOWN');
  // Only a sync copy to one's own account may carry no envelope: it says "I know of no other device of mine", and is
  // answered DEVICE_LIST_MISMATCH if there is one (a device linked since), like any send that misses a device.
  if (copies.length === 0 && accountId !== sender?.accountId) {
    throw new ApiError('BAD_REQUEST', 'a send to another account carries at least one envelope');
  }
  const given = new Map<number, number>();
  for (const copy of copies) {
    if (given.has(copy.deviceId)) throw new ApiError('BAD_REQUEST', `device ${copy.deviceId} appears twice`);
    given.set(copy.deviceId, copy.registrationId);
  }
  // The cached device list is exact on a single node (every link and removal goes through this process); with
  // several nodes (NATS) a device linked on another node would be missed until the cache expired, so read fresh.
  const devices = await ctx.listDevices(accountId, ctx.config.natsUrl !== undefined);
  // Empty lists are never cached: this one was read just now.
  if (devices.length === 0) throw new ApiError('ACCOUNT_NOT_FOUND');
  // The cached list may be up to a second behind links on other nodes: refusals are confirmed with a fresh one.
  if (deviceListProblem(devices, accountId, sender, given)) {
    const confirmed = deviceListProblem(await ctx.listDevices(accountId, true), accountId, sender, given);
    if (confirmed) throw confirmed;
  }
  if (copies.length === 0) return [];
  const now = ctx.now();
  const expiresAt = now + ctx.config.limits.maxQueueAgeMs;
  const rows: NewEnvelope[] = copies.map((copy, i) => {
    if (copy.envelope.length > ctx.config.limits.maxEnvelopeBytes) throw new ApiError('ENVELOPE_TOO_LARGE');
    let type: EnvelopeType;
    try {
      type = decodeEnvelope(copy.envelope).type;
    } catch {
      throw new ApiError('INVALID_ENVELOPE', `${where(i)} is not a valid envelope`);
    }
    if (sender === undefined && type !== EnvelopeType.SealedSender) throw new ApiError('INVALID_ENVELOPE', `${where(i)} must be a SealedSender envelope`);
    return {
      accountId,
      deviceId: copy.deviceId,
      sourceAccountId: sender?.accountId,
      sourceDeviceId: sender?.deviceId,
      envelope: copy.envelope,
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
  // The stored rows go with the wake-up: a local connection that has read its whole queue pushes them as they are
  // instead of reading them back (a bus between nodes drops them and the connection reads the queue).
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
  return ids;
}

/** `bytes` if it is an envelope of `type` within the group envelope limit; INVALID_ENVELOPE / ENVELOPE_TOO_LARGE. */
export function checkGroupEnvelope(ctx: ServerContext, bytes: Uint8Array, field: string, type: EnvelopeType): Uint8Array {
  if (bytes.length > ctx.config.limits.maxGroupEnvelopeBytes) throw new ApiError('ENVELOPE_TOO_LARGE');
  let decoded;
  try {
    decoded = decodeEnvelope(bytes);
  } catch {
    throw new ApiError('INVALID_ENVELOPE', `${field} is not a valid envelope`);
  }
  if (decoded.type !== type) throw new ApiError('INVALID_ENVELOPE', `${field} must be a ${type === EnvelopeType.GroupWelcome ? 'GroupWelcome' : 'GroupMessage'} envelope`);
  return bytes;
}

/** Counts stored group copies and wakes their devices, each with its stored row (as sendMessage does). */
export function wakeGroup(ctx: ServerContext, stored: readonly StoredGroupEnvelope[], sender: AuthenticatedDevice | undefined, receivedAt: number): void {
  ctx.metrics.messagesIn.inc(stored.length);
  for (const s of stored) {
    ctx.bus.publishQueued({ accountId: s.accountId, deviceId: s.deviceId }, [
      { id: s.id, sourceAccountId: sender?.accountId, sourceDeviceId: sender?.deviceId, envelope: s.envelope, receivedAt },
    ]);
  }
}

/**
 * Stores one GroupMessage envelope for every other member device of `groupId` and wakes them; resolves with how many
 * copies were stored, once all are durable. Throws ApiError: SHUTTING_DOWN, GROUP_NOT_FOUND, NOT_A_GROUP_MEMBER,
 * ENVELOPE_TOO_LARGE, INVALID_ENVELOPE. `sender` undefined is a sealed group send (already let in by the epoch's group
 * send key): stored for every member device, the sender's own too, naming nobody.
 */
export async function sendGroupMessage(ctx: ServerContext, sender: AuthenticatedDevice | undefined, groupId: string, envelope: Uint8Array): Promise<number> {
  if (ctx.closing) throw new ApiError('SHUTTING_DOWN');
  if (sender !== undefined) {
    const group = await ctx.repo.getGroup(groupId);
    if (!group) throw new ApiError('GROUP_NOT_FOUND');
    if (!group.members.some((m) => memberKey(m) === memberKey(sender))) throw new ApiError('NOT_A_GROUP_MEMBER');
  }
  checkGroupEnvelope(ctx, envelope, 'envelope', EnvelopeType.GroupMessage);
  const now = ctx.now();
  const { maxQueueAgeMs, maxQueueDepth } = ctx.config.limits;
  const stored = await ctx.repo.fanOutGroup(groupId, sender, envelope, now, now + maxQueueAgeMs, maxQueueDepth);
  wakeGroup(ctx, stored, sender, now);
  return stored.length;
}
