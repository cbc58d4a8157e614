/**
 * Groups: MLS groups (RFC 9420) of devices, through @samizdat/protocol's MlsEngine, with the server as the Delivery
 * Service (docs/api.md "Groups"). A group is also a conversation: its id (64 hex characters) is the conversation id,
 * and group messages carry the same content as 1:1 ones (docs/wire-format.md), so history, receipts, edits,
 * reactions and timers work the same way.
 *
 * - Every device of every member account is a leaf, so a user's devices all read the group without sync copies.
 * - Commits go to the server for the group's current epoch. If another member's commit won that epoch (409
 *   STALE_EPOCH), this device processes the winner's commit from its queue and makes its change again on top.
 * - The group's name and admins travel inside the group (`group-update` content); the server never sees them.
 *   Admins are enforced by the members' clients: only admins are offered to add or remove, and a membership change
 *   committed by a non-admin is recorded in the conversation as such (the MLS group itself cannot refuse it).
 * - A new device of a member account joins the account's groups by external commit (RFC 9420 §12.4.3.2), and the
 *   account's other devices then re-send the group's settings so the new device learns the name.
 * - Every device makes an update commit at least weekly (post-compromise security, RFC 9420 §16.6).
 * - Application messages (and proposals) are sealed (docs/protocol.md "Group send keys"): submitted with no
 *   credentials, let in by the epoch's group send key (an MLS exporter secret); every commit this device makes
 *   registers the new epoch's key hash. The server stores them for every member device, this one's too, naming
 *   nobody: this device knows its own by their hash (GroupRecord.sentEnvelopes) and drops them. A send refused with
 *   INVALID_GROUP_SEND_KEY means the group moved on (this device catches up, then encrypts again in the new epoch) or
 *   its epoch has no key registered (this device makes an update commit, which registers one).
 * - A group whose stored state says its epoch's secret tree may be derived from zeros (`needsRekey`: stored by a build
 *   with the broken ts-mls patch, docs/protocol.md "Secret trees derived from zeros") gets an update commit on the
 *   next `maintain()` and before anything is encrypted in it; a commit by another member that wins the epoch does
 *   as well.
 */
import { GROUP_ID_PATTERN } from '@samizdat/protocol';
import {
  EnvelopeType,
  MlsEngine,
  constantTimeEqual,
  decodeMlsDeviceIdentity,
  encodeEnvelope,
  encodeMlsDeviceIdentity,
  groupIdOf,
  inspectMessage,
  membersOfGroup,
  needsRekey,
  toHex,
} from '@samizdat/protocol';
import type { CommitResult, GroupState, MlsDeviceIdentity } from '@samizdat/protocol';
import type { Content } from '../content/content.js';
import { encodeContent, newMessageId } from '../content/content.js';
import { ClientError, ClientErrorCode } from '../errors.js';
import type { GroupRecord } from '../storage/store.js';
import { staleEpochOf } from '../transport/http-api.js';
import { fromBase64, toBase64 } from '../transport/base64.js';
import { groupNotice, membersNotice, settingsNotice, withSettings } from './group-notices.js';
import { GroupReceiver } from './group-receiver.js';
import type { GroupHost } from './group-host.js';

export { GROUP_ID_PATTERN } from '@samizdat/protocol';
/** One-use key packages kept on the server; refilled below the threshold. */
export const KEY_PACKAGE_BATCH = 20;
export const KEY_PACKAGE_REFILL_BELOW = 5;
/** Each device refreshes its leaf at least this often (post-compromise security). */
export const SELF_UPDATE_AFTER_MS = 7 * 24 * 3600 * 1000;
const COMMIT_ATTEMPTS = 5;
const CATCH_UP_TIMEOUT_MS = 15_000;
const IDENTITY_KV = 'mls.identity';
/** How many of its own sealed group messages a group remembers until they come back from the server. */
export const MAX_SENT_ENVELOPES = 500;
const JOINED_KV = 'mls.joinedAccountGroups';

/** What the group manager needs from its Client. */
export type { GroupHost } from './group-host.js';

export interface GroupView {
  readonly groupId: string;
  readonly name: string | undefined;
  readonly epoch: number;
  readonly admins: readonly string[];
  readonly active: boolean;
  readonly expireTimer: number;
  /** Member devices, by account. */
  readonly members: readonly { readonly accountId: string; readonly devices: readonly number[] }[];
}

export class GroupManager {
  readonly engine: MlsEngine;
  private device: MlsDeviceIdentity | undefined;
  private readonly receiver: GroupReceiver;

  constructor(
    private readonly host: GroupHost,
    engineOptions: { mlsCryptoProvider?: ConstructorParameters<typeof MlsEngine>[0]['mlsCryptoProvider'] } = {},
  ) {
    this.engine = new MlsEngine({
      crypto: host.crypto,
      isTrustedIdentity: (accountId, identityKey) => this.isTrusted(accountId, identityKey),
      ...(engineOptions.mlsCryptoProvider ? { mlsCryptoProvider: engineOptions.mlsCryptoProvider } : {}),
    });
    this.receiver = new GroupReceiver(host, this.engine, {
      leave: (groupId) => this.leave(groupId),
      selfUpdate: (groupId) => this.selfUpdate(groupId),
      sendContent: (groupId, content, applyLocally) => this.sendContent(groupId, content, applyLocally),
      currentSettings: (group) => this.currentSettings(group),
    });
  }

  // ---- identity and key packages ----

  /**
   * Trust on first use, shared with 1:1 sessions: the identity key pinned for the account (from a session or an
   * earlier group), else the one the server publishes for it, pinned now. A member whose credential carries any
   * other key is refused.
   */
  private async isTrusted(accountId: string, identityKey: Uint8Array): Promise<boolean> {
    const store = this.host.store;
    const pinned = await store.getIdentity(accountId);
    if (pinned) return constantTimeEqual(pinned, identityKey);
    const published = (await this.host.api.getAccount(accountId)).identityKey;
    await store.write((tx) => tx.putIdentity(accountId, published));
    return constantTimeEqual(published, identityKey);
  }

  /** This device's MLS identity (signature key bound to the account identity), created on first use. */
  private async deviceIdentity(): Promise<MlsDeviceIdentity> {
    if (this.device) return this.device;
    const stored = await this.host.store.getKv(IDENTITY_KV);
    const bytes = stored === undefined ? undefined : fromBase64(stored);
    if (bytes) {
      this.device = decodeMlsDeviceIdentity(bytes);
      return this.device;
    }
    const account = this.host.account();
    const device = await this.engine.createDeviceIdentity(this.host.identity, account.accountId, account.deviceId);
    await this.host.store.write((tx) => tx.putKv(IDENTITY_KV, toBase64(encodeMlsDeviceIdentity(device))));
    this.device = device;
    return device;
  }

  /** Keeps one-use key packages (and a last-resort one) on the server so that others can add this device. */
  async maintainKeyPackages(): Promise<void> {
    const device = await this.deviceIdentity();
    const count = await this.host.api.keyPackageCount();
    const first = (await this.host.store.listKeyPackageRefs()).length === 0;
    if (count >= KEY_PACKAGE_REFILL_BELOW && !first) return;
    const bundles = await this.engine.generateKeyPackages(device, KEY_PACKAGE_BATCH);
    const lastResort = first ? await this.engine.generateLastResortKeyPackage(device) : undefined;
    const all = lastResort ? [...bundles, lastResort] : bundles;
    // Private halves first: a package the server hands out must be answerable here.
    await this.host.store.write((tx) => all.forEach((b) => tx.putKeyPackageBundle(toHex(b.ref), b.privateKeyPackage)));
    await this.host.api.uploadKeyPackages(
      bundles.map((b) => b.publicKeyPackage),
      lastResort?.publicKeyPackage,
    );
  }

  // ---- reading ----

  async list(): Promise<GroupView[]> {
    return Promise.all((await this.host.store.listGroups()).map((g) => this.view(g)));
  }

  /** A group by id or (case-insensitive) name; INVALID_ARGUMENT if none or several match. */
  async find(nameOrId: string): Promise<GroupRecord> {
    const store = this.host.store;
    if (GROUP_ID_PATTERN.test(nameOrId)) {
      const group = await store.getGroup(nameOrId);
      if (group) return group;
    }
    const matches = (await store.listGroups()).filter((g) => g.name?.toLowerCase() === nameOrId.toLowerCase() || g.groupId.startsWith(nameOrId));
    const active = matches.filter((g) => g.active);
    const chosen = active.length > 0 ? active : matches;
    if (chosen.length === 1) return chosen[0] as GroupRecord;
    throw new ClientError(ClientErrorCode.InvalidArgument, chosen.length === 0 ? `no group called "${nameOrId}"` : `several groups match "${nameOrId}": use its id`);
  }

  view(group: GroupRecord): GroupView {
    const members = new Map<string, number[]>();
    if (group.active) {
      for (const m of membersOfGroup(this.engine.decodeGroupState(group.state))) {
        members.set(m.accountId, [...(members.get(m.accountId) ?? []), m.deviceId].sort((a, b) => a - b));
      }
    }
    return {
      groupId: group.groupId,
      name: group.name,
      epoch: group.epoch,
      admins: group.admins,
      active: group.active,
      expireTimer: group.expireTimer,
      members: [...members].map(([accountId, devices]) => ({ accountId, devices })),
    };
  }

  // ---- changing membership ----

  /** Creates a group named `name` with this account (all its devices) and `peers` (all their devices); we are admin. */
  async create(name: string, peers: readonly string[]): Promise<GroupRecord> {
    const me = this.host.account().accountId;
    const accounts = [...new Set(await this.host.accountsOf(peers))].filter((a) => a !== me);
    const device = await this.deviceIdentity();
    const record = await this.host.queue.run(async () => {
      const state = await this.engine.createGroup(device);
      const groupId = toHex(groupIdOf(state));
      await this.host.api.createGroup(groupId, 0, await this.engine.exportGroupInfo(state), await this.sendKeyHash(state));
      const now = this.host.now();
      const group: GroupRecord = { groupId, state: this.engine.encodeGroupState(state), epoch: 0, name, admins: [me], expireTimer: 0, createdAt: now, active: true, updatedAt: now };
      const notice = groupNotice(this.host, groupId, this.host.account(), now, 'group-updated', JSON.stringify({ name, admins: [me] }));
      await this.host.store.write((tx) => {
        tx.putGroup(group);
        tx.putMessage(notice);
      });
      this.host.events.emit('message', notice);
      return group;
    });
    // Our other devices and the members, in one commit; then the settings, inside the group.
    await this.addAccounts(record.groupId, [me, ...accounts], true);
    await this.sendContent(record.groupId, { type: 'group-update', id: newMessageId(), timestamp: this.host.now(), name, admins: [me] });
    return (await this.host.store.getGroup(record.groupId)) as GroupRecord;
  }

  /**
   * Adds every device of each peer (admins only), then sends the group's settings (name, admins, timer) into the
   * group: they travel only inside it, so the new members learn them this way.
   */
  async add(nameOrId: string, peers: readonly string[]): Promise<void> {
    const group = await this.find(nameOrId);
    this.requireAdmin(group);
    await this.addAccounts(group.groupId, await this.host.accountsOf(peers), false);
    const now = (await this.host.store.getGroup(group.groupId)) as GroupRecord;
    await this.sendContent(now.groupId, this.currentSettings(now), false);
    if (now.expireTimer > 0) await this.sendContent(now.groupId, { type: 'timer', id: newMessageId(), timestamp: this.host.now(), expireTimer: now.expireTimer }, false);
  }

  /** The group's settings as they stand, for members who just joined (`current`: not a change). */
  private currentSettings(group: GroupRecord): Content {
    return { type: 'group-update', id: newMessageId(), timestamp: this.host.now(), ...(group.name !== undefined ? { name: group.name } : {}), admins: [...group.admins], current: true };
  }

  private async addAccounts(groupId: string, accountIds: readonly string[], allowEmpty: boolean): Promise<void> {
    const me = this.host.account();
    const claimed = (await this.host.api.claimKeyPackages([...new Set(accountIds)])).filter(
      (k) => !(k.accountId === me.accountId && k.deviceId === me.deviceId),
    );
    await this.commit(groupId, async (group, state) => {
      const present = new Set(membersOfGroup(state).map((m) => `${m.accountId}.${m.deviceId}`));
      const fresh = claimed.filter((k) => !present.has(`${k.accountId}.${k.deviceId}`));
      if (fresh.length === 0) {
        if (allowEmpty) return undefined;
        throw new ClientError(ClientErrorCode.InvalidArgument, 'nobody to add: they are members already, or have no device that can join groups yet');
      }
      return this.engine.addMembers(state, fresh.map((k) => k.keyPackage));
    });
  }

  /** Removes every device of each peer (admins only). */
  async remove(nameOrId: string, peers: readonly string[]): Promise<void> {
    const group = await this.find(nameOrId);
    this.requireAdmin(group);
    const accounts = new Set(await this.host.accountsOf(peers));
    if (accounts.has(this.host.account().accountId)) throw new ClientError(ClientErrorCode.InvalidArgument, 'to leave a group, use leave');
    await this.commit(group.groupId, async (_g, state) => {
      const devices = membersOfGroup(state).filter((m) => accounts.has(m.accountId));
      if (devices.length === 0) throw new ClientError(ClientErrorCode.InvalidArgument, 'none of them is a member');
      return this.engine.removeMembers(state, devices);
    });
  }

  /**
   * Leaves with the whole account, as a messenger user expects: MLS has no self-removing commit (RFC 9420 §12.4), so
   * this device proposes the removal of its own leaf and of every other leaf of the account, and an admin's device
   * commits them on receipt (the other members then record that we left, not that someone removed us). This device
   * stops sending at once; the account's other devices stop when the commit reaches them.
   */
  async leave(nameOrId: string, attempt = 1): Promise<void> {
    const group = await this.find(nameOrId);
    if (!group.active) return;
    if (attempt > COMMIT_ATTEMPTS) throw new ClientError(ClientErrorCode.Timeout, 'the group kept changing; try again');
    // The Remove proposals are PrivateMessages: like any message, only in an epoch with a sound secret tree.
    const left = await this.inSoundEpoch(group.groupId, async (current, before) => {
      const me = this.host.account();
      const own = await this.engine.leave(before);
      let state = own.state;
      const proposals = [own.proposal];
      for (const other of membersOfGroup(before).filter((m) => m.accountId === me.accountId && m.deviceId !== me.deviceId)) {
        const more = await this.engine.proposeRemoval(state, other);
        state = more.state;
        proposals.push(...more.proposals);
      }
      let sent = current;
      for (const p of proposals) {
        sent = await this.rememberSent(sent, p);
        if (await this.postSealed(group.groupId, before, p)) return false;
      }
      const notice = groupNotice(this.host, group.groupId, me, this.host.now(), 'group-members', JSON.stringify({ added: [], removed: [], left: [me.accountId], byAdmin: true }));
      await this.host.store.write((tx) => {
        tx.putGroup({ ...sent, state: this.engine.encodeGroupState(state), active: false });
        tx.putMessage(notice);
      });
      this.host.events.emit('message', notice);
      return true;
    });
    if (!left) {
      await this.resolveSendKey(group.groupId);
      return this.leave(nameOrId, attempt + 1);
    }
  }

  /** Renames the group (inside MLS: the server never sees the name). */
  async rename(nameOrId: string, name: string): Promise<void> {
    const group = await this.find(nameOrId);
    await this.sendContent(group.groupId, { type: 'group-update', id: newMessageId(), timestamp: this.host.now(), name });
  }

  /** Sets who may add and remove members (admins only; sent inside the group). */
  async setAdmins(nameOrId: string, peers: readonly string[]): Promise<void> {
    const group = await this.find(nameOrId);
    this.requireAdmin(group);
    const admins = [...new Set(await this.host.accountsOf(peers))];
    if (admins.length === 0) throw new ClientError(ClientErrorCode.InvalidArgument, 'a group needs at least one admin');
    await this.sendContent(group.groupId, { type: 'group-update', id: newMessageId(), timestamp: this.host.now(), admins });
  }

  /** A fresh leaf and path (post-compromise security); also commits pending proposals such as a member's leave. */
  async selfUpdate(groupId: string): Promise<void> {
    await this.commit(groupId, async (_g, state) => this.engine.update(state));
  }

  /**
   * An update commit if the group's epoch may have a secret tree derived from zeros (`needsRekey`); nothing if not,
   * e.g. once another member's commit won the epoch (processing it gave this device a new, sound epoch).
   */
  private async rekey(groupId: string): Promise<void> {
    await this.commit(groupId, async (_g, state) => (needsRekey(state) ? this.engine.update(state) : undefined));
  }

  /**
   * Runs `task` in the client's queue with the group's record and state, once that state may encrypt: while its
   * epoch may have a secret tree derived from zeros, the epoch is rotated first (`rekey`, which runs through the
   * queue itself, so between queue runs) and the group read again.
   */
  private async inSoundEpoch<T>(groupId: string, task: (group: GroupRecord, state: GroupState) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.host.queue.run(async (): Promise<{ value: T } | undefined> => {
        const group = await this.host.store.getGroup(groupId);
        if (!group || !group.active) throw new ClientError(ClientErrorCode.InvalidArgument, 'this device is not in that group');
        const state = this.engine.decodeGroupState(group.state);
        if (needsRekey(state)) return undefined;
        return { value: await task(group, state) };
      });
      if (outcome) return outcome.value;
      if (attempt >= COMMIT_ATTEMPTS) throw new ClientError(ClientErrorCode.Timeout, 'the group kept changing; try again');
      await this.rekey(groupId);
    }
  }

  private requireAdmin(group: GroupRecord): void {
    if (!group.active) throw new ClientError(ClientErrorCode.InvalidArgument, 'this device is no longer in that group');
    if (group.admins.length > 0 && !group.admins.includes(this.host.account().accountId)) {
      throw new ClientError(ClientErrorCode.InvalidArgument, 'only the group admins may add or remove members');
    }
  }

  /**
   * Makes a commit with `make` and has the server order it. STALE_EPOCH: another commit won this epoch; wait until
   * this device has processed it (from its queue), then make the change again on the new state.
   */
  private async commit(groupId: string, make: (group: GroupRecord, state: GroupState) => Promise<CommitResult | undefined>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.host.queue.run(async (): Promise<{ stale?: number }> => {
        const group = await this.host.store.getGroup(groupId);
        if (!group || !group.active) throw new ClientError(ClientErrorCode.InvalidArgument, 'this device is not in that group');
        const result = await make(group, this.engine.decodeGroupState(group.state));
        if (!result) return {};
        try {
          await this.host.api.commitGroup(groupId, {
            epoch: group.epoch,
            commit: this.envelope(EnvelopeType.GroupMessage, result.commit),
            ...(result.welcome ? { welcome: this.envelope(EnvelopeType.GroupWelcome, result.welcome) } : {}),
            groupInfo: await this.engine.exportGroupInfo(result.state),
            sendKeyHash: await this.sendKeyHash(result.state),
          });
        } catch (err) {
          const stale = staleEpochOf(err);
          if (stale !== undefined) return { stale };
          throw err;
        }
        const now = this.host.now();
        const me = this.host.account();
        // The other members record the change when the commit reaches them; this device records it here.
        const before = this.engine.decodeGroupState(group.state);
        const notice = membersNotice(this.host, groupId, before, result.state, result.left, me, group.admins.length === 0 || group.admins.includes(me.accountId));
        await this.host.store.write((tx) => {
          tx.putGroup({ ...group, state: this.engine.encodeGroupState(result.state), epoch: group.epoch + 1, updatedAt: now });
          if (notice) tx.putMessage(notice);
        });
        if (notice) this.host.events.emit('message', notice);
        return {};
      });
      if (outcome.stale === undefined) return;
      if (attempt >= COMMIT_ATTEMPTS) throw new ClientError(ClientErrorCode.Timeout, 'the group kept changing; try again');
      await this.catchUp(groupId, outcome.stale);
    }
  }

  /** Waits until this device's copy of the group has reached `epoch` (its delivery queue brings the commits). */
  private async catchUp(groupId: string, epoch: number): Promise<void> {
    const deadline = Date.now() + CATCH_UP_TIMEOUT_MS;
    for (;;) {
      const group = await this.host.store.getGroup(groupId);
      if (!group || !group.active || group.epoch >= epoch) return;
      if (Date.now() > deadline) throw new ClientError(ClientErrorCode.Timeout, 'the group changed on another device and this one has not caught up; is it receiving?');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  // ---- messages ----

  /**
   * Encrypts a content for the group and hands it to the server (every other member device, ours included). With
   * `applyLocally`, what it means (an edit, a reaction, a timer, new settings) is applied here as well; a message's
   * own record is managed by the caller (Client.sendText).
   */
  async sendContent(groupId: string, content: Content, applyLocally = true): Promise<void> {
    // What the content means is applied once, on the first attempt; a later attempt only encrypts it again.
    let apply = applyLocally;
    for (let attempt = 1; ; attempt++) {
      const refused = await this.inSoundEpoch(groupId, async (group, current) => {
        const me = this.host.account();
        const updated = await this.host.profileUpdated();
        const withProfile: Content = {
          ...content,
          profile: { ...(me.username !== undefined ? { username: me.username } : {}), profileKey: await this.host.profileKey(), ...(updated !== undefined ? { profileUpdated: updated } : {}) },
        };
        const { state, message } = await this.engine.encrypt(current, encodeContent(withProfile));
        const effects = apply ? await this.host.interpret({ conversation: groupId, author: me.accountId, authorDevice: me.deviceId, group }, content) : undefined;
        const settled = withSettings(effects?.groupWrites.at(-1) ?? group, content, me.accountId);
        const notice = apply ? settingsNotice(this.host, group, settled, me, content.timestamp) : undefined;
        const remembered = await this.rememberSent(settled, message);
        // The sender's key generation advanced: stored before the message leaves, so it is never reused after a crash.
        await this.host.store.write((tx) => {
          effects?.stage(tx);
          if (notice) tx.putMessage(notice);
          tx.putGroup({ ...remembered, state: this.engine.encodeGroupState(state) });
        });
        apply = false;
        effects?.emit(this.host.events);
        if (notice) this.host.events.emit('message', notice);
        return this.postSealed(groupId, state, message);
      });
      if (!refused) return;
      if (attempt >= COMMIT_ATTEMPTS) throw new ClientError(ClientErrorCode.Timeout, 'the group kept changing; try again');
      await this.resolveSendKey(groupId);
    }
  }

  // ---- sealed group sends (docs/protocol.md "Group send keys") ----

  /** SHA-256 of the state's group send key: what a commit registers with the server. */
  private async sendKeyHash(state: GroupState): Promise<Uint8Array> {
    return this.host.crypto.sha256(await this.engine.groupSendKey(state));
  }

  /** How this device knows its own sealed group messages when the server hands them back. */
  private async sentId(message: Uint8Array): Promise<string> {
    return toHex((await this.host.crypto.sha256(message)).subarray(0, 16));
  }

  /** `group` with `message` remembered as this device's own (the oldest forgotten past MAX_SENT_ENVELOPES). */
  private async rememberSent(group: GroupRecord, message: Uint8Array): Promise<GroupRecord> {
    const sent = [...(group.sentEnvelopes ?? []), await this.sentId(message)];
    return { ...group, sentEnvelopes: sent.slice(-MAX_SENT_ENVELOPES) };
  }

  /**
   * Posts an MLS message made in `state`'s epoch, sealed: no credentials, that epoch's group send key. True when the
   * server refused the key (INVALID_GROUP_SEND_KEY: see resolveSendKey); other failures throw.
   */
  private async postSealed(groupId: string, state: GroupState, message: Uint8Array): Promise<boolean> {
    try {
      await this.host.api.sendSealedGroupMessage(groupId, await this.engine.groupSendKey(state), this.envelope(EnvelopeType.GroupMessage, message));
      return false;
    } catch (err) {
      if (ClientError.isServer(err, 'INVALID_GROUP_SEND_KEY')) return true;
      throw err;
    }
  }

  /**
   * After INVALID_GROUP_SEND_KEY (outside the queue): if the group is past this device's epoch, wait until its queue
   * has brought the commits; if not, the epoch has no key this device can use registered (a group made before
   * sealed group sends, or a committer that registered a wrong hash), and an update commit registers ours. Asking the
   * server for the epoch is an authenticated request: it tells the server that this device is about to send in the
   * group, which only this rare path does.
   */
  private async resolveSendKey(groupId: string): Promise<void> {
    const local = await this.host.store.getGroup(groupId);
    if (!local || !local.active) throw new ClientError(ClientErrorCode.InvalidArgument, 'this device is not in that group');
    const { epoch } = await this.host.api.getGroup(groupId);
    if (epoch > local.epoch) await this.catchUp(groupId, epoch);
    else await this.selfUpdate(groupId);
  }

  private envelope(type: EnvelopeType, content: Uint8Array): Uint8Array {
    return encodeEnvelope({ type, timestamp: this.host.now(), content });
  }

  // ---- receiving (inside the client's queue) ----

  /**
   * Processes a GroupWelcome or GroupMessage envelope's content (group-receiver.ts); returns follow-up work to run
   * outside the queue. Who sent it is read from MLS (signatures), never from the server's envelope metadata.
   */
  async receive(type: EnvelopeType, content: Uint8Array, sentAt: number): Promise<(() => Promise<void>)[]> {
    if (type === EnvelopeType.GroupMessage && (await this.isOwnSent(content))) return [];
    return this.receiver.receive(type, content, sentAt);
  }

  /** A sealed message of ours the server handed back (it stores them for every member device): forgotten and dropped. */
  private async isOwnSent(content: Uint8Array): Promise<boolean> {
    let groupId: string;
    try {
      const info = inspectMessage(content);
      if (!('groupId' in info)) return false;
      groupId = toHex(info.groupId);
    } catch {
      return false; // The receiver reports what does not decode.
    }
    const group = await this.host.store.getGroup(groupId);
    const id = await this.sentId(content);
    if (!group?.sentEnvelopes?.includes(id)) return false;
    await this.host.store.write((tx) => tx.putGroup({ ...group, sentEnvelopes: (group.sentEnvelopes ?? []).filter((s) => s !== id) }));
    return true;
  }

  // ---- upkeep ----

  /**
   * A new device joins its account's groups by external commit; key packages are topped up; groups whose epoch may
   * have a secret tree derived from zeros get an update commit, then those whose leaf is older than a week.
   */
  async maintain(): Promise<void> {
    await this.maintainKeyPackages();
    await this.joinAccountGroups();
    await this.removeGoneDevices();
    for (const group of await this.host.store.listGroups()) {
      if (group.active && this.storedNeedsRekey(group)) await this.rekey(group.groupId).catch(() => undefined);
    }
    const now = this.host.now();
    for (const group of await this.host.store.listGroups()) {
      if (group.active && now - group.updatedAt > SELF_UPDATE_AFTER_MS) await this.selfUpdate(group.groupId).catch(() => undefined);
    }
  }

  private storedNeedsRekey(group: GroupRecord): boolean {
    try {
      return needsRekey(this.engine.decodeGroupState(group.state));
    } catch {
      return false; // An unreadable state cannot send either.
    }
  }

  /**
   * Removes from every group the leaves of this account's devices that the account no longer has (removed with
   * `Client.removeDevice`, here or on another device): otherwise they stay members that nobody can reach, counted in
   * Group info. Any device of the account may do it; a commit that loses the epoch is made again on the new state,
   * where there may be nothing left to remove. Trust: the device list comes from the server, which could only make us
   * drop our own devices' leaves, as it can already stop delivering to them.
   */
  async removeGoneDevices(): Promise<void> {
    const me = this.host.account();
    const current = new Set((await this.host.api.listDevices()).map((d) => d.deviceId));
    if (!current.has(me.deviceId)) return; // This device itself is gone: nothing it commits would be delivered.
    const gone = (state: GroupState) => membersOfGroup(state).filter((m) => m.accountId === me.accountId && !current.has(m.deviceId));
    for (const group of await this.host.store.listGroups()) {
      if (!group.active || gone(this.engine.decodeGroupState(group.state)).length === 0) continue;
      await this.commit(group.groupId, async (_g, state) => {
        const stale = gone(state);
        return stale.length === 0 ? undefined : this.engine.removeMembers(state, stale);
      });
    }
  }

  /** Joins (by external commit) every group of this account that this device is not in yet. Runs once per device. */
  async joinAccountGroups(): Promise<void> {
    const store = this.host.store;
    if ((await store.getKv(JOINED_KV)) !== undefined) return;
    const device = await this.deviceIdentity();
    for (const { groupId } of await this.host.api.listGroups()) {
      if (await store.getGroup(groupId)) continue;
      for (let attempt = 1; attempt <= COMMIT_ATTEMPTS; attempt++) {
        const info = await this.host.api.getGroup(groupId);
        const { state, commit } = await this.engine.joinExternal(device, info.groupInfo);
        try {
          await this.host.queue.run(async () => {
            // Before the commit can reach anyone: the line goes before what the other devices send on seeing it.
            const joinedAt = this.host.now();
            await this.host.api.commitGroup(groupId, {
              epoch: info.epoch,
              commit: this.envelope(EnvelopeType.GroupMessage, commit),
              groupInfo: await this.engine.exportGroupInfo(state),
              sendKeyHash: await this.sendKeyHash(state),
            });
            const now = this.host.now();
            const me = this.host.account();
            // What this device does not have, said plainly (the group's earlier messages stay on the other devices).
            const notice = groupNotice(this.host, groupId, me, joinedAt, 'history-unavailable', JSON.stringify({ since: joinedAt }));
            await store.write((tx) => {
              // Our own other devices send the settings when they see this one join; until then we trust only them.
              tx.putGroup({ groupId, state: this.engine.encodeGroupState(state), epoch: info.epoch + 1, admins: [me.accountId], expireTimer: 0, createdAt: now, active: true, updatedAt: now });
              tx.putMessage(notice);
            });
            this.host.events.emit('message', notice);
          });
          break;
        } catch (err) {
          if (staleEpochOf(err) === undefined || attempt === COMMIT_ATTEMPTS) throw err;
        }
      }
    }
    await store.write((tx) => tx.putKv(JOINED_KV, String(this.host.now())));
  }
}

