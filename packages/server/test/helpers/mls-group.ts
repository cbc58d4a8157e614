/**
 * Real MLS groups for server tests: the server verifies every group it is told of and every commit it orders
 * (src/routes/groups.ts), so tests make them with @samizdat/protocol's MlsEngine, as a client does, with each
 * TestDevice's account identity key signing its MLS credential.
 *
 *   const group = await MlsTestGroup.create(server, alice);          // POST /v1/groups
 *   await group.post(server, await group.add(alice, [bob, alice2])); // POST /v1/groups/:id/commits, then adopted
 *   const body = await group.add(alice, [carol]);                    // a commit body to post (or tamper with) yourself
 *   await group.encrypt(bob, 'hello');                               // an application message of bob's
 *
 * A commit is adopted (every member's state moves on, added devices join from the Welcome) only by `post` or
 * `adopt`, as a client adopts its commit only once the server accepted it.
 */
import { EnvelopeType, MlsEngine, encodeEnvelope, epochOf, groupIdOf, toHex } from '@samizdat/protocol';
import type { GroupState, MlsDeviceIdentity } from '@samizdat/protocol';
import { nodeMlsCryptoProvider } from '@samizdat/protocol/groups-node';
import { apiOk, crypto } from './server.js';
import type { TestDevice, TestServer } from './server.js';

/** Every test device trusts every identity key: what is under test is the server's checks, not a client's. */
export const engine = new MlsEngine({ crypto, isTrustedIdentity: () => true, mlsCryptoProvider: nodeMlsCryptoProvider });

const identities = new Map<string, Promise<MlsDeviceIdentity>>();
const key = (d: Pick<TestDevice, 'accountId' | 'deviceId'>) => `${d.accountId}.${d.deviceId}`;
const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

/** The device's MLS identity (made once per device), signed by its account identity key. */
export function mlsIdentity(device: TestDevice): Promise<MlsDeviceIdentity> {
  let identity = identities.get(key(device));
  if (identity === undefined) {
    identity = engine.createDeviceIdentity(device.identity, device.accountId, device.deviceId);
    identities.set(key(device), identity);
  }
  return identity;
}

/** An encoded envelope of `type` whose content is `content`. */
export function envelopeOf(type: EnvelopeType, content: Uint8Array): string {
  return b64(encodeEnvelope({ type, timestamp: Date.now(), content }));
}

/** The body of POST /v1/groups/:groupId/commits, and what adopting it does. */
export interface CommitBody {
  readonly epoch: number;
  readonly commit: string;
  readonly welcome?: string;
  readonly groupInfo: string;
}

export interface PendingCommit {
  readonly body: CommitBody;
  /** The raw MLS commit (PublicMessage), for members to process. */
  readonly mls: Uint8Array;
  readonly welcome: Uint8Array | undefined;
  readonly by: TestDevice;
  readonly byState: GroupState;
  /** Devices that join with the Welcome, with the private key package bundle each was added with. */
  readonly joiners: readonly { readonly device: TestDevice; readonly bundle: Uint8Array }[];
}

export class MlsTestGroup {
  /** The state of each member device, by "account.device". */
  private readonly states = new Map<string, GroupState>();

  private constructor(readonly groupId: string) {}

  /** A new group of `creator` alone, registered with the server (POST /v1/groups). */
  static async create(server: Pick<TestServer, 'url'>, creator: TestDevice): Promise<MlsTestGroup> {
    const state = await engine.createGroup(await mlsIdentity(creator));
    const group = new MlsTestGroup(toHex(groupIdOf(state)));
    group.set(creator, state);
    await apiOk(server, 'POST', '/v1/groups', {
      auth: creator,
      body: { groupId: group.groupId, epoch: 0, groupInfo: b64(await engine.exportGroupInfo(state)) },
    });
    return group;
  }

  /** A group of `creator` alone that the server has not been told of, and the GroupInfo to tell it with. */
  static async unregistered(creator: TestDevice): Promise<{ group: MlsTestGroup; groupInfo: Uint8Array }> {
    const state = await engine.createGroup(await mlsIdentity(creator));
    const group = new MlsTestGroup(toHex(groupIdOf(state)));
    group.set(creator, state);
    return { group, groupInfo: await engine.exportGroupInfo(state) };
  }

  get epoch(): number {
    const [state] = this.states.values();
    if (state === undefined) throw new Error('the group has no members');
    return Number(epochOf(state));
  }

  stateOf(device: TestDevice): GroupState {
    const state = this.states.get(key(device));
    if (state === undefined) throw new Error(`${key(device)} is not a member of the test group`);
    return state;
  }

  /** `by` commits adding `devices` (one fresh key package each). */
  async add(by: TestDevice, devices: readonly TestDevice[]): Promise<PendingCommit> {
    const joiners = [];
    for (const device of devices) {
      const [bundle] = await engine.generateKeyPackages(await mlsIdentity(device), 1);
      joiners.push({ device, bundle: bundle!.privateKeyPackage, publicKeyPackage: bundle!.publicKeyPackage });
    }
    const result = await engine.addMembers(this.stateOf(by), joiners.map((j) => j.publicKeyPackage));
    return this.pending(by, result.state, result.commit, result.welcome, joiners);
  }

  /** `by` commits removing every leaf of `devices`. */
  async remove(by: TestDevice, devices: readonly TestDevice[]): Promise<PendingCommit> {
    const result = await engine.removeMembers(this.stateOf(by), devices);
    return this.pending(by, result.state, result.commit, result.welcome, []);
  }

  /** `by` commits a fresh update path. */
  async update(by: TestDevice): Promise<PendingCommit> {
    const result = await engine.update(this.stateOf(by));
    return this.pending(by, result.state, result.commit, result.welcome, []);
  }

  /** `device` joins by external commit from `groupInfo` (what GET /v1/groups/:groupId returned). */
  async joinExternal(device: TestDevice, groupInfo: Uint8Array): Promise<PendingCommit> {
    const { state, commit } = await engine.joinExternal(await mlsIdentity(device), groupInfo);
    return this.pending(device, state, commit, undefined, []);
  }

  /** An application message of `from` (a PrivateMessage) as a GroupMessage envelope. */
  async encrypt(from: TestDevice, text: string): Promise<string> {
    const { state, message } = await engine.encrypt(this.stateOf(from), new TextEncoder().encode(text));
    this.set(from, state);
    return envelopeOf(EnvelopeType.GroupMessage, message);
  }

  /** Posts the commit and, once the server accepted it, adopts it. Returns the server's answer. */
  async post(server: Pick<TestServer, 'url'>, commit: PendingCommit): Promise<{ epoch: number; stored: number }> {
    const answer = await apiOk<{ epoch: number; stored: number }>(server, 'POST', `/v1/groups/${this.groupId}/commits`, {
      auth: commit.by,
      body: commit.body,
    });
    await this.adopt(commit);
    return answer;
  }

  /** Every member processes the commit (the committer takes its own result), and the added devices join. */
  async adopt(commit: PendingCommit): Promise<void> {
    const committer = key(commit.by);
    for (const [k, state] of [...this.states]) {
      if (k === committer) continue;
      const processed = await engine.processMessage(state, commit.mls);
      if (processed.kind !== 'commit') throw new Error('expected a commit');
      if (processed.removedSelf) this.states.delete(k);
      else this.states.set(k, processed.state);
    }
    this.set(commit.by, commit.byState);
    for (const { device, bundle } of commit.joiners) {
      this.set(device, await engine.joinFromWelcome(bundle, commit.welcome!));
    }
  }

  private set(device: TestDevice, state: GroupState): void {
    this.states.set(key(device), state);
  }

  private async pending(
    by: TestDevice,
    byState: GroupState,
    mls: Uint8Array,
    welcome: Uint8Array | undefined,
    joiners: readonly { device: TestDevice; bundle: Uint8Array }[],
  ): Promise<PendingCommit> {
    const body: CommitBody = {
      epoch: this.epochOf(by),
      commit: envelopeOf(EnvelopeType.GroupMessage, mls),
      ...(welcome !== undefined ? { welcome: envelopeOf(EnvelopeType.GroupWelcome, welcome) } : {}),
      groupInfo: b64(await engine.exportGroupInfo(byState)),
    };
    return { body, mls, welcome, by, byState, joiners };
  }

  private epochOf(by: TestDevice): number {
    const state = this.states.get(key(by));
    return state === undefined ? this.epoch : Number(epochOf(state));
  }
}
