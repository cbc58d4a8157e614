/**
 * The MLS Delivery Service (RFC 9420 §16.8; RFC 9750 §5): the server orders each group's handshake messages and fans
 * every group envelope out to the member devices through the same durable per-device queues as 1:1 messages.
 *
 * - A commit is accepted only for the group's current epoch; a commit made in an older epoch gets 409 STALE_EPOCH
 *   with the current epoch (the client processes the commits it has not seen, rebases, and retries). Commit, new
 *   GroupInfo, new member list and every fanned-out copy are stored in one transaction before the 200.
 * - The server keeps the latest GroupInfo (signed by the committer) so that an account's new device can join the
 *   account's groups by external commit, and per group the member devices to deliver to. It never sees group names,
 *   topics, avatars or display names: those travel inside MLS application messages.
 * - KeyPackages (RFC 9420 §10): each device uploads one-use packages and a last-resort one; claiming takes one per
 *   device of each account, atomically.
 *
 * Trust: nothing a member claims about the group is taken on its word (RFC 9750 §5; ./delivery-service.ts). A new
 * group's GroupInfo must verify as a group of the creating device alone; each commit arrives as an MLS PublicMessage
 * and is verified against the GroupInfo the server holds (sender leaf, signature, proposals, the derived tree and next
 * GroupContext, which the new GroupInfo must match). The member devices the server delivers to are read from the
 * verified tree, so a device enters a group's fan-out only through a verified Add of its own key package (or its own
 * external commit), whose credential its account's registered identity key signed. An invalid commit is refused with
 * INVALID_COMMIT and changes nothing.
 */
import type { FastifyInstance } from 'fastify';
import type { Static } from '@sinclair/typebox';
import { Type } from '@sinclair/typebox';
import { EnvelopeType, ProtocolError, ProtocolErrorCode, decodeEnvelope, toHex } from '@samizdat/protocol';
import type { PublicGroupView } from '@samizdat/protocol';
import type { ServerContext } from '../context.js';
import { ApiError, quotaError } from '../errors.js';
import { fromBase64, toBase64 } from '../http.js';
import { QuotaExceededError, StaleEpochError, memberKey, uniqueMembers } from '../store/repository.js';
import type { GroupMember, StoredGroupEnvelope } from '../store/repository.js';
import type { CommitVerifier } from '../ds/commit-verifier.js';
import { AccountId, Base64, DeviceId, ErrorResponse } from '../schemas.js';
import { checkGroupEnvelope, sendGroupMessage, wakeGroup } from '../send.js';
import { GROUP_SEND_KEY_HEADER, GROUP_SEND_KEY_LENGTH } from '../sealed-sender/group-send-access.js';

const GroupId = Type.String({ pattern: '^[0-9a-f]{64}$', description: 'MLS group id: 32 bytes as 64 lowercase hex characters' });
const Epoch = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
const Member = Type.Object({ accountId: AccountId, deviceId: DeviceId }, { additionalProperties: false });
const MAX_KEY_PACKAGES_PER_UPLOAD = 100;
const MAX_CLAIM_ACCOUNTS = 100;
const MAX_KEY_PACKAGE_BASE64 = 8 * 1024;

/** Sealed group sends: no credentials, the epoch's group send key instead (sealed-sender/group-send-access.ts). */
export const SEALED_GROUP_SEND_PATH = '/v1/sealed/groups/:groupId/messages';

const SendKeyHash = Base64("SHA-256 of the epoch's group send key (docs/protocol.md \"Group send keys\"), 32 bytes", 44);

const CreateBody = Type.Object(
  {
    groupId: GroupId,
    epoch: Epoch,
    groupInfo: Base64('GroupInfo of the new group (with its ratchet tree)', 24 * 1024 * 1024),
    sendKeyHash: Type.Optional(SendKeyHash),
  },
  { additionalProperties: false },
);

const CommitBody = Type.Object(
  {
    epoch: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'The epoch the commit was made in' }),
    commit: Base64('Encoded envelope (type GroupMessage) carrying the MLS commit as a PublicMessage', 2 * 1024 * 1024),
    welcome: Type.Optional(Base64('Encoded envelope (type GroupWelcome) for the devices the commit adds', 2 * 1024 * 1024)),
    groupInfo: Base64('GroupInfo of the new epoch (with its ratchet tree), signed by the committer', 24 * 1024 * 1024),
    sendKeyHash: Type.Optional(SendKeyHash),
  },
  { additionalProperties: false },
);

const MessageBody = Type.Object(
  { envelope: Base64('Encoded envelope (type GroupMessage) carrying an MLS application message', 2 * 1024 * 1024) },
  { additionalProperties: false },
);

const KeyPackagesBody = Type.Object(
  {
    keyPackages: Type.Array(Base64('An MLS KeyPackage (MLSMessage encoding)', MAX_KEY_PACKAGE_BASE64), { maxItems: MAX_KEY_PACKAGES_PER_UPLOAD }),
    lastResort: Type.Optional(Base64('A last-resort KeyPackage, handed out when no one-use package is left', MAX_KEY_PACKAGE_BASE64)),
  },
  { additionalProperties: false },
);

const ClaimBody = Type.Object(
  { accountIds: Type.Array(AccountId, { minItems: 1, maxItems: MAX_CLAIM_ACCOUNTS }) },
  { additionalProperties: false },
);

function sendKeyHashOf(text: string | undefined): Uint8Array | undefined {
  return text === undefined ? undefined : fromBase64(text, 'sendKeyHash', GROUP_SEND_KEY_LENGTH);
}

function groupEnvelope(ctx: ServerContext, text: string, field: string, type: EnvelopeType): Uint8Array {
  return checkGroupEnvelope(ctx, fromBase64(text, field), field, type);
}

/** The member devices of a verified group, once each (a device's leaves count once), within the size limits. */
function deliveryMembers(ctx: ServerContext, view: PublicGroupView): GroupMember[] {
  const members = uniqueMembers(view.members.map((m) => ({ accountId: m.accountId, deviceId: m.deviceId })));
  const { maxGroupDevices, maxGroupAccounts } = ctx.config.limits;
  if (members.length > maxGroupDevices || new Set(members.map((m) => m.accountId)).size > maxGroupAccounts) throw groupTooLarge(ctx);
  return members;
}

function groupTooLarge(ctx: ServerContext): ApiError {
  const { maxGroupDevices, maxGroupAccounts } = ctx.config.limits;
  return new ApiError('GROUP_TOO_LARGE', `a group holds at most ${maxGroupAccounts} accounts and ${maxGroupDevices} devices`);
}

/** Runs a Delivery Service check; what it refuses becomes `code` with the reason (never secret: public framing). */
async function verified<T>(code: 'INVALID_COMMIT' | 'INVALID_GROUP_INFO', check: () => Promise<T>): Promise<T> {
  try {
    return await check();
  } catch (err) {
    if (err instanceof ProtocolError) {
      throw new ApiError(code, err.code === ProtocolErrorCode.Decode ? 'it could not be decoded as MLS' : err.message.replace(/^MLS: /, ''));
    }
    throw err;
  }
}

/** The GroupInfo of a request, at most `max` bytes (a new group's: maxNewGroupInfoBytes; a commit's: maxGroupInfoBytes). */
function groupInfoOf(text: string, max: number): Uint8Array {
  const bytes = fromBase64(text, 'groupInfo');
  if (bytes.length === 0) throw new ApiError('BAD_REQUEST', 'groupInfo is empty');
  if (bytes.length > max) throw new ApiError('PAYLOAD_TOO_LARGE', `groupInfo is larger than the server keeps (${max} bytes)`);
  return bytes;
}


export function registerGroupRoutes(app: FastifyInstance, ctx: ServerContext, ds: CommitVerifier): void {
  // Body limits from what each route may carry (base64 in JSON, plus room for the rest of the object): a message is
  // one envelope, a commit two envelopes and a GroupInfo, a new group a GroupInfo. Authentication runs before the
  // body is read (app.ts), so only a device can make the server read one.
  const base64Length = (bytes: number) => 4 * Math.ceil(bytes / 3);
  const envelopeText = base64Length(ctx.config.limits.maxGroupEnvelopeBytes);
  const groupInfoText = base64Length(ctx.config.limits.maxGroupInfoBytes);
  const newGroupInfoText = base64Length(ctx.config.limits.maxNewGroupInfoBytes);
  const JSON_ROOM = 1024;

  app.post<{ Body: Static<typeof CreateBody> }>(
    '/v1/groups',
    {
      // A new group holds its creating device alone: its GroupInfo is a few KiB (maxNewGroupInfoBytes).
      bodyLimit: newGroupInfoText + JSON_ROOM,
      schema: {
        tags: ['groups'],
        summary: 'Register a new MLS group with this device as its only member',
        body: CreateBody,
        response: { 204: Type.Null(), 400: ErrorResponse, 401: ErrorResponse, 409: ErrorResponse, 413: ErrorResponse },
      },
    },
    async (request, reply) => {
      const device = await ctx.authenticate(request);
      const { groupId, epoch } = request.body;
      const groupInfo = groupInfoOf(request.body.groupInfo, ctx.config.limits.maxNewGroupInfoBytes);
      const { maxGroupsPerAccount } = ctx.config.limits;
      // Before the verification's work; createGroup checks again as one step with the insert, so that creations
      // running at once cannot pass the quota together.
      if ((await ctx.repo.countCreatedGroups(device.accountId)) >= maxGroupsPerAccount) {
        throw quotaError(new QuotaExceededError('groups', maxGroupsPerAccount));
      }
      const view = await verified('INVALID_GROUP_INFO', () => ds.verifyGroupInfo(groupInfo));
      const [only, ...others] = view.members;
      if (toHex(view.groupId) !== groupId) throw new ApiError('INVALID_GROUP_INFO', 'the GroupInfo is of another group id');
      if (view.epoch !== BigInt(epoch)) throw new ApiError('INVALID_GROUP_INFO', `the GroupInfo is at epoch ${view.epoch}, not ${epoch}`);
      if (only === undefined || others.length > 0 || memberKey(only) !== memberKey(device)) {
        throw new ApiError('INVALID_GROUP_INFO', 'a new group must have the creating device as its only member');
      }
      try {
        await ctx.repo.createGroup(groupId, epoch, device, groupInfo, sendKeyHashOf(request.body.sendKeyHash), ctx.now(), maxGroupsPerAccount);
      } catch (err) {
        if (err instanceof QuotaExceededError) throw quotaError(err);
        throw err;
      }
      return reply.code(204).send();
    },
  );

  app.get(
    '/v1/groups',
    {
      schema: {
        tags: ['groups'],
        summary: "Groups any device of this account is a member of (a new device joins them by external commit)",
        response: { 200: Type.Object({ groups: Type.Array(Type.Object({ groupId: GroupId, epoch: Epoch })) }) },
      },
    },
    async (request) => {
      const device = await ctx.authenticate(request);
      return { groups: await ctx.repo.listGroups(device.accountId) };
    },
  );

  app.get<{ Params: { groupId: string } }>(
    '/v1/groups/:groupId',
    {
      schema: {
        tags: ['groups'],
        summary: "A group's epoch, latest GroupInfo and member devices (for members' accounts only)",
        params: Type.Object({ groupId: GroupId }),
        response: {
          200: Type.Object({ groupId: GroupId, epoch: Epoch, groupInfo: Type.String(), members: Type.Array(Member) }),
          403: ErrorResponse,
          404: ErrorResponse,
        },
      },
    },
    async (request) => {
      const device = await ctx.authenticate(request);
      const group = await ctx.repo.getGroup(request.params.groupId);
      if (!group) throw new ApiError('GROUP_NOT_FOUND');
      if (!group.members.some((m) => m.accountId === device.accountId)) throw new ApiError('NOT_A_GROUP_MEMBER');
      return { groupId: group.groupId, epoch: group.epoch, groupInfo: toBase64(group.groupInfo), members: [...group.members] };
    },
  );

  app.post<{ Params: { groupId: string }; Body: Static<typeof CommitBody> }>(
    '/v1/groups/:groupId/commits',
    {
      bodyLimit: 2 * envelopeText + groupInfoText + JSON_ROOM,
      schema: {
        tags: ['groups'],
        summary: 'Apply a commit made in the current epoch: store it for every member device (and the Welcome for new ones)',
        params: Type.Object({ groupId: GroupId }),
        body: CommitBody,
        response: {
          200: Type.Object({ epoch: Epoch, stored: Type.Integer() }),
          400: ErrorResponse,
          403: ErrorResponse,
          404: ErrorResponse,
          409: Type.Object({ code: Type.String(), message: Type.String(), epoch: Type.Optional(Epoch) }),
        },
      },
    },
    async (request) => {
      const device = await ctx.authenticate(request);
      if (ctx.closing) throw new ApiError('SHUTTING_DOWN');
      const { groupId } = request.params;
      const body = request.body;
      const group = await ctx.repo.getGroup(groupId);
      if (!group) throw new ApiError('GROUP_NOT_FOUND');
      if (body.epoch !== group.epoch) throw new ApiError('STALE_EPOCH', undefined, { epoch: group.epoch });
      // Only a member device commits, or a new device of a member account joins by external commit (RFC 9420
      // §12.4.3.2); either way the commit's own authenticated sender must be this device.
      const isMember = group.members.some((m) => memberKey(m) === memberKey(device));
      if (!isMember && !group.members.some((m) => m.accountId === device.accountId)) throw new ApiError('NOT_A_GROUP_MEMBER');
      const commit = groupEnvelope(ctx, body.commit, 'commit', EnvelopeType.GroupMessage);
      const welcome = body.welcome === undefined ? undefined : groupEnvelope(ctx, body.welcome, 'welcome', EnvelopeType.GroupWelcome);
      const groupInfo = groupInfoOf(body.groupInfo, ctx.config.limits.maxGroupInfoBytes);
      const mls = decodeEnvelope(commit).content;
      // Before the verification, whose cost grows with the key packages added: a commit past the cap is refused at once.
      const adds = await verified('INVALID_COMMIT', async () => ds.addsOf(mls));
      if (group.members.length + adds > ctx.config.limits.maxGroupDevices) throw groupTooLarge(ctx);
      const result = await verified('INVALID_COMMIT', () => ds.verifyCommit(group.groupInfo, mls, groupInfo));
      if (memberKey(result.committer) !== memberKey(device)) throw new ApiError('INVALID_COMMIT', 'the commit is not signed by this device');
      if (result.external === isMember) {
        throw new ApiError('INVALID_COMMIT', isMember ? 'a member commits as a member, not by external join' : 'a device that is not a member joins by external commit');
      }
      const members = deliveryMembers(ctx, result.next);
      const before = new Set(group.members.map(memberKey));
      const newDevices = members.filter((m) => !before.has(memberKey(m)) && memberKey(m) !== memberKey(device));
      if (welcome !== undefined && newDevices.length === 0) throw new ApiError('INVALID_COMMIT', 'a Welcome goes with a commit that adds devices');
      if (welcome === undefined && newDevices.length > 0) throw new ApiError('INVALID_COMMIT', 'a commit that adds devices needs their Welcome');
      const now = ctx.now();
      let stored: StoredGroupEnvelope[];
      try {
        stored = await ctx.repo.commitGroup({
          groupId,
          epoch: body.epoch,
          sender: device,
          groupInfo,
          sendKeyHash: sendKeyHashOf(body.sendKeyHash),
          members,
          commit,
          welcome,
          maxQueueDepth: ctx.config.limits.maxQueueDepth,
          receivedAt: now,
          expiresAt: now + ctx.config.limits.maxQueueAgeMs,
        });
      } catch (err) {
        if (err instanceof StaleEpochError) throw new ApiError('STALE_EPOCH', undefined, { epoch: err.epoch });
        throw err;
      }
      wakeGroup(ctx, stored, device, now);
      return { epoch: body.epoch + 1, stored: stored.length };
    },
  );

  app.put<{ Params: { groupId: string }; Body: Static<typeof MessageBody> }>(
    '/v1/groups/:groupId/messages',
    {
      bodyLimit: envelopeText + JSON_ROOM,
      schema: {
        tags: ['groups'],
        summary: 'Send an MLS application message to every other member device',
        params: Type.Object({ groupId: GroupId }),
        body: MessageBody,
        response: { 200: Type.Object({ stored: Type.Integer() }), 400: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse },
      },
    },
    async (request) => {
      const device = await ctx.authenticate(request);
      const envelope = fromBase64(request.body.envelope, 'envelope');
      return { stored: await sendGroupMessage(ctx, device, request.params.groupId, envelope) };
    },
  );

  app.put<{ Params: { groupId: string }; Body: Static<typeof MessageBody> }>(
    SEALED_GROUP_SEND_PATH,
    {
      bodyLimit: envelopeText + JSON_ROOM,
      schema: {
        tags: ['groups', 'sealed sender'],
        summary: "Send an MLS application message without credentials, authorized by the epoch's group send key: stored for every member device, naming no sender",
        params: Type.Object({ groupId: GroupId }),
        headers: Type.Object({ [GROUP_SEND_KEY_HEADER]: Type.String({ description: "the group send key of the group's current epoch, 32 bytes, base64" }) }),
        body: MessageBody,
        response: { 200: Type.Object({ stored: Type.Integer() }), 400: ErrorResponse, 401: ErrorResponse, 404: ErrorResponse, 429: ErrorResponse },
      },
    },
    async (request) => {
      await ctx.groupSendAccess.authorize(request, request.params.groupId);
      const envelope = fromBase64(request.body.envelope, 'envelope');
      return { stored: await sendGroupMessage(ctx, undefined, request.params.groupId, envelope) };
    },
  );

  app.put<{ Body: Static<typeof KeyPackagesBody> }>(
    '/v1/groups/key-packages',
    {
      schema: {
        tags: ['groups'],
        summary: "Upload this device's MLS KeyPackages (one-use, and optionally a new last-resort one)",
        body: KeyPackagesBody,
        response: { 204: Type.Null(), 400: ErrorResponse, 401: ErrorResponse },
      },
    },
    async (request, reply) => {
      const device = await ctx.authenticate(request);
      const packages = request.body.keyPackages.map((k, i) => fromBase64(k, `keyPackages[${i}]`));
      const lastResort = request.body.lastResort === undefined ? undefined : fromBase64(request.body.lastResort, 'lastResort');
      if ([...packages, ...(lastResort ? [lastResort] : [])].some((k) => k.length === 0)) throw new ApiError('BAD_REQUEST', 'a key package is empty');
      await ctx.repo.keys.addKeyPackages(device.accountId, device.deviceId, packages, lastResort);
      return reply.code(204).send();
    },
  );

  app.get(
    '/v1/groups/key-packages/count',
    {
      schema: { tags: ['groups'], summary: 'One-use KeyPackages this device has left on the server', response: { 200: Type.Object({ count: Type.Integer() }) } },
    },
    async (request) => {
      const device = await ctx.authenticate(request);
      return { count: await ctx.repo.keys.countKeyPackages(device.accountId, device.deviceId) };
    },
  );

  app.post<{ Body: Static<typeof ClaimBody> }>(
    '/v1/groups/key-packages/claim',
    {
      schema: {
        tags: ['groups'],
        summary: 'Take one KeyPackage of every device of each account (to add them to a group)',
        body: ClaimBody,
        response: {
          200: Type.Object({ keyPackages: Type.Array(Type.Object({ accountId: AccountId, deviceId: Type.Integer(), keyPackage: Type.String() })) }),
          429: ErrorResponse,
        },
      },
    },
    async (request) => {
      const device = await ctx.authenticate(request);
      // Each account named costs one of its pair's budget, and one of the claimer's new-target budget when it was not
      // claimed from lately (rate-limit.ts TargetBudget): all or nothing, before anything is consumed.
      const budget = ctx.keyPackageBudget.take(device.accountId, request.body.accountIds, ctx.now());
      if (budget.kind === 'limited') {
        const what = budget.scope === 'target' ? 'of one account' : 'of accounts not claimed from lately';
        throw new ApiError('RATE_LIMITED', `too many KeyPackage claims ${what}`, { retryAfter: budget.retryAfter });
      }
      const claimed = await ctx.repo.keys.claimKeyPackages(request.body.accountIds);
      return { keyPackages: claimed.map((k) => ({ accountId: k.accountId, deviceId: k.deviceId, keyPackage: toBase64(k.keyPackage) })) };
    },
  );
}
