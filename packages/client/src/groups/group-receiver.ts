/**
 * What arrives in a group, inside the client's queue: a Welcome (this device was added: it joins; the group is held
 * as a message request when the adder is someone the user does not talk with, and left at once when they are
 * blocked) and group messages (application messages, proposals, commits), each attributed from its MLS signature,
 * never from the server's envelope metadata.
 */
import {
  EnvelopeType,
  ProtocolError,
  ProtocolErrorCode,
  epochOf,
  groupIdOf,
  inspectMessage,
  membersOfGroup,
  toHex,
} from '@samizdat/protocol';
import type { DeviceAddress, GroupState, MlsEngine, ProcessedMessage } from '@samizdat/protocol';
import type { Content } from '../content/content.js';
import { decodeContent } from '../content/content.js';
import type { GroupRecord, MessageRecord } from '../storage/store.js';
import { stageProfileKey } from '../contacts/profiles.js';
import type { GroupHost } from './group-host.js';
import { groupNotice, membersNotice, settingsNotice, withSettings } from './group-notices.js';

/** What receiving does through the manager: the operations a received message can lead to. */
export interface GroupActions {
  leave(groupId: string): Promise<void>;
  selfUpdate(groupId: string): Promise<void>;
  sendContent(groupId: string, content: Content, applyLocally: boolean): Promise<void>;
  currentSettings(group: GroupRecord): Content;
}

export class GroupReceiver {
  constructor(
    private readonly host: GroupHost,
    private readonly engine: MlsEngine,
    private readonly actions: GroupActions,
  ) {}

  /**
   * Processes a GroupWelcome or GroupMessage envelope's content; returns follow-up work to run outside the queue.
   * Who sent it is read from MLS (signatures), never from the server's envelope metadata.
   */
  async receive(type: EnvelopeType, content: Uint8Array, sentAt: number): Promise<(() => Promise<void>)[]> {
    if (type === EnvelopeType.GroupWelcome) return this.receiveWelcome(content, sentAt);
    return this.receiveMessage(content);
  }

  /** `sentAt`: the envelope's timestamp, which only places the "added you" line before what the adder sent next. */
  private async receiveWelcome(welcome: Uint8Array, sentAt: number): Promise<(() => Promise<void>)[]> {
    const store = this.host.store;
    for (const ref of await store.listKeyPackageRefs()) {
      const bundle = (await store.getKeyPackageBundle(ref)) as Uint8Array;
      let state: GroupState;
      let inviter: DeviceAddress;
      try {
        ({ state, inviter } = await this.engine.joinFromWelcomeWithInviter(bundle, welcome));
      } catch (err) {
        if (err instanceof ProtocolError && err.code === ProtocolErrorCode.UntrustedIdentity) throw err;
        continue; // Not for this key package.
      }
      const groupId = toHex(groupIdOf(state));
      if (await store.getGroup(groupId)) return []; // A redelivered Welcome.
      const now = this.host.now();
      const me = this.host.account();
      // Who added us is the GroupInfo's signer, never the envelope's claimed sender. Someone the user does not talk
      // with makes the group a message request; someone they blocked makes this device leave at once, unannounced.
      const standing = inviter.accountId === me.accountId ? 'accepted' : await this.host.stateOf(inviter.accountId);
      // Until the group's settings arrive (inside the group), the inviter is taken as its admin.
      const group: GroupRecord = {
        groupId,
        state: this.engine.encodeGroupState(state),
        epoch: Number(epochOf(state)),
        admins: [inviter.accountId],
        expireTimer: 0,
        createdAt: now,
        active: true,
        updatedAt: now,
        addedBy: inviter.accountId,
        ...(standing === 'accepted' ? {} : { request: true }),
      };
      const lastResort = this.engine.decodeKeyPackageBundle(bundle).lastResort;
      if (standing === 'blocked') {
        await store.write((tx) => {
          tx.putGroup(group);
          if (!lastResort) tx.putKeyPackageBundle(ref, undefined);
        });
        return [() => this.actions.leave(groupId).then(() => this.host.store.write((tx) => tx.deleteConversation(groupId)))];
      }
      // "alice added you"; our own device's Welcome comes only with a new group: "You added bob and carol".
      const others = [...new Set(membersOfGroup(state).map((m) => m.accountId))].filter((a) => a !== me.accountId);
      const added = inviter.accountId === me.accountId ? others : [me.accountId];
      const notice = groupNotice(this.host, groupId, inviter, Math.min(now, sentAt), 'group-members', JSON.stringify({ added, removed: [], left: [], byAdmin: true }));
      await store.write((tx) => {
        tx.putGroup(group);
        tx.putMessage(notice);
        if (!lastResort) tx.putKeyPackageBundle(ref, undefined);
      });
      this.host.events.emit('message', notice);
      return [];
    }
    // None of our key packages: a Welcome for a package we no longer hold. Nothing to join.
    return [];
  }

  private async receiveMessage(bytes: Uint8Array): Promise<(() => Promise<void>)[]> {
    const store = this.host.store;
    let info;
    try {
      info = inspectMessage(bytes);
    } catch {
      return [];
    }
    if (info.kind !== 'application' && info.kind !== 'proposal' && info.kind !== 'commit') return [];
    const group = await store.getGroup(toHex(info.groupId));
    if (!group || !group.active) return [];
    let processed: ProcessedMessage;
    try {
      processed = await this.engine.processMessage(this.engine.decodeGroupState(group.state), bytes);
    } catch (err) {
      // An old commit (lost the race, or already applied), a message whose keys are gone, or a forged one: the
      // group state stays as it was. A credential we do not trust is the same: the change is not applied here.
      if (err instanceof ProtocolError) return [];
      throw err;
    }
    const me = this.host.account();
    const nextState = this.engine.encodeGroupState(processed.state);
    const follow: (() => Promise<void>)[] = [];
    if (processed.kind === 'application') {
      let content: Content;
      try {
        content = decodeContent(processed.plaintext);
      } catch {
        await store.write((tx) => tx.putGroup({ ...group, state: nextState }));
        return [];
      }
      const sender = processed.sender;
      const claimed = content.profile?.username;
      if (claimed !== undefined && sender.accountId !== me.accountId) await this.host.learnUsername(sender.accountId, claimed).catch(() => undefined);
      const effects = await this.host.interpret({ conversation: group.groupId, author: sender.accountId, authorDevice: sender.deviceId, group }, content);
      // The member's profile key (groups share it, as Signal's do): their encrypted profile can be fetched with it.
      if (sender.accountId !== me.accountId && (await stageProfileKey(store, effects.contactWrites, sender.accountId, content.profile))) {
        follow.push(() => this.host.fetchProfile(sender.accountId).catch(() => undefined));
      }
      const updatedGroup = withSettings(effects.groupWrites.at(-1) ?? group, content, sender.accountId);
      const changed = settingsNotice(this.host, group, updatedGroup, sender, content.timestamp, content.type === 'group-update' && content.current === true);
      if (changed) {
        effects.writes.push(changed);
        effects.created.push(changed);
      }
      await store.write((tx) => {
        effects.stage(tx);
        tx.putGroup({ ...updatedGroup, state: nextState });
      });
      effects.emit(this.host.events);
      return follow;
    }
    if (processed.kind === 'proposal') {
      await store.write((tx) => tx.putGroup({ ...group, state: nextState }));
      // A member leaving proposes its own removal: an admin's device commits it.
      if (processed.proposal.type === 'remove' && (group.admins.length === 0 || group.admins.includes(me.accountId))) {
        follow.push(() => this.actions.selfUpdate(group.groupId));
      }
      return follow;
    }
    const epoch = Number(processed.epoch);
    const active = !processed.removedSelf;
    // Who committed is what the commit's signature says (not the server's word for the envelope's sender).
    const committer = processed.committer;
    const byAdmin = group.admins.length === 0 || group.admins.includes(committer.accountId);
    const notice = membersNotice(this.host, group.groupId, this.engine.decodeGroupState(group.state), processed.state, processed.left, committer, byAdmin);
    const notices: MessageRecord[] = notice ? [notice] : [];
    await store.write((tx) => {
      tx.putGroup({ ...group, state: nextState, epoch, active });
      notices.forEach((n) => tx.putMessage(n));
    });
    notices.forEach((n) => this.host.events.emit('message', n));
    // A new device of our own account joined: tell it the group's settings, which only travel inside the group.
    if (active && processed.added.some((m) => m.accountId === me.accountId && m.deviceId !== me.deviceId)) {
      follow.push(async () => {
        const now = await store.getGroup(group.groupId);
        if (now?.active) await this.actions.sendContent(group.groupId, this.actions.currentSettings(now), false);
      });
    }
    return follow;
  }
}
