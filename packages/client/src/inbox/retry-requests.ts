/**
 * Retry requests (Signal's DecryptionErrorMessage) in both directions, so that no session is ever dropped on the
 * server's word (docs/client.md "Guarantees"):
 * - asking: an envelope from a device failed to decrypt; that device is sent a `resend-request` over our session
 *   with it (a new one only if there is none) naming the envelope timestamps, the device, and the failed message's
 *   ratchet key. Failures from one device within RETRY_BATCH_MS go in one request, and at most one request per
 *   device goes out per RETRY_INTERVAL_MS, whatever the server delivers in its name;
 * - answering: a request decrypted under our session with its sender (so it is that device's word); if the failed
 *   message came from the session we send with, that session is retired and a new one started from a fresh bundle
 *   (at most once per REBUILD_INTERVAL_MS per device), then what it names is resent with the same ids.
 * Both limits are kept in memory: a restart allows one more.
 */
import { SessionManager } from '@samizdat/protocol';
import type { CryptoProvider, IdentityKeyPair, ProtocolAddress } from '@samizdat/protocol';
import type { Content, ResendRequestContent } from '../content/content.js';
import { MAX_TARGETS, newMessageId } from '../content/content.js';
import type { DeviceFanOut } from '../outbox/fan-out.js';
import { messageContentOf } from '../outbox/message-content.js';
import { StagedProtocolStore } from '../storage/staged-protocol-store.js';
import type { AccountRecord, ClientStore } from '../storage/store.js';
import { IntervalLimit } from '../util/interval-limit.js';
import type { SerialQueue } from '../util/serial-queue.js';

/** Failures from one device within this long go out in one retry request. */
const RETRY_BATCH_MS = 200;
/** At most one retry request per peer device per minute, whatever the server delivers in its name. */
const RETRY_INTERVAL_MS = 60_000;
/** At most one session rebuilt per peer device per hour on its retry requests (Signal resets at most hourly). */
const REBUILD_INTERVAL_MS = 60 * 60_000;

export interface RetryHost {
  readonly store: ClientStore;
  readonly crypto: CryptoProvider;
  readonly identity: IdentityKeyPair;
  readonly queue: SerialQueue;
  readonly fanOut: DeviceFanOut;
  account(): AccountRecord;
  now(): number;
  /** Keeps work that runs outside the queue's order, so that stopping the client waits for it. */
  track(work: Promise<void>): void;
}

export class RetryRequests {
  private readonly pending = new Map<string, { from: ProtocolAddress; timestamps: number[]; ratchetKey: Uint8Array | undefined; timer: ReturnType<typeof setTimeout> }>();
  private readonly requestLimit = new IntervalLimit(RETRY_INTERVAL_MS);
  private readonly rebuildLimit = new IntervalLimit(REBUILD_INTERVAL_MS);

  constructor(private readonly host: RetryHost) {}

  /** Drops the requests still being gathered (the client stops). */
  cancel(): void {
    for (const retry of this.pending.values()) clearTimeout(retry.timer);
    this.pending.clear();
  }

  /** Asks `from` to resend what it sent at `timestamp` (gathered, then limited: see the module comment). */
  gather(from: ProtocolAddress, timestamp: number, ratchetKey: Uint8Array | undefined): void {
    const key = `${from.account}.${from.device}`;
    const pending = this.pending.get(key);
    if (pending) {
      if (pending.timestamps.length < MAX_TARGETS && !pending.timestamps.includes(timestamp)) pending.timestamps.push(timestamp);
      if (ratchetKey) pending.ratchetKey = ratchetKey; // The latest: the sender's current session is the one to check.
      return;
    }
    const delay = Math.max(RETRY_BATCH_MS, this.requestLimit.nextAllowed(key) - this.host.now());
    const timer = setTimeout(() => {
      const retry = this.pending.get(key);
      this.pending.delete(key);
      if (!retry || !this.requestLimit.take(key, this.host.now())) return;
      // The next message in either direction tries again if this fails.
      this.host.track(this.host.queue.run(() => this.sendRetryRequest(retry.from, retry.timestamps, retry.ratchetKey)).catch(() => undefined));
    }, delay);
    this.pending.set(key, { from, timestamps: [timestamp], ratchetKey, timer });
  }

  /** Sends a retry request to the account of `from`, naming the device; a session is started only if there is none. */
  private async sendRetryRequest(from: ProtocolAddress, timestamps: readonly number[], ratchetKey: Uint8Array | undefined): Promise<void> {
    const own = from.account === this.host.account().accountId;
    const sessions = new SessionManager(this.host.crypto, new StagedProtocolStore(this.host.store, this.host.identity));
    if (!(await sessions.hasSession(from))) await this.host.fanOut.fetchSessions(from.account, from.device, own);
    const request: Content = {
      type: 'resend-request',
      id: newMessageId(),
      timestamp: this.host.now(),
      targetTimestamps: timestamps,
      device: from.device,
      ...(ratchetKey ? { ratchetKey } : {}),
    };
    await this.host.fanOut.sendToAccount(from.account, request, own);
  }

  /**
   * A retry request from `from`, which decrypted under our session with that device (so it is that device's word,
   * not the server's). Addressed to another device of ours: nothing to do. If the failed message came from the
   * session we send with (`failed`, its base key: the request named that session's current ratchet key), that
   * session is retired and a new one started from a fresh bundle — at most once per REBUILD_INTERVAL_MS per device,
   * as a peer could ask forever. An older session's key leaves our sessions alone. Then the messages it names that
   * this device sent are resent, with the same ids, to that account's devices (which drop any copy they hold).
   */
  async answer(from: ProtocolAddress, request: ResendRequestContent, failed: Uint8Array | undefined): Promise<void> {
    if (request.device !== undefined && request.device !== this.host.account().deviceId) return;
    const own = from.account === this.host.account().accountId;
    if (failed) {
      await this.host.queue.run(async () => {
        const key = `${from.account}.${from.device}`;
        if (this.host.now() < this.rebuildLimit.nextAllowed(key)) return;
        const staged = new StagedProtocolStore(this.host.store, this.host.identity);
        if (!(await new SessionManager(this.host.crypto, staged).retireSession(from, failed))) return;
        this.rebuildLimit.take(key, this.host.now());
        await this.host.fanOut.commitStaged(staged, () => undefined);
        await this.host.fanOut.fetchSessions(from.account, from.device, own);
      });
    }
    if (own) return; // Our own devices hold our messages already.
    const targets = await this.host.store.findOutgoingByTimestamp(from.account, request.targetTimestamps ?? []);
    for (const t of targets) {
      if (t.kind !== 'message' || t.deleted || t.authorDevice !== this.host.account().deviceId) continue;
      const again = messageContentOf(t);
      await this.host.queue.run(() => this.host.fanOut.sendToAccount(from.account, again, false));
    }
  }
}
