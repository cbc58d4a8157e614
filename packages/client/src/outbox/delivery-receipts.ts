/**
 * Delivery receipts, batched per author and sent after a random delay, or not at all.
 *
 * Why: an automatic delivery receipt goes back within milliseconds of a message's delivery, so even when both are
 * sealed the server sees "a device of Bob took an envelope" followed at once by "someone sent Alice an envelope";
 * over a few messages that links Bob to Alice (the statistical-disclosure attack of Martiny et al., "Improving
 * Signal's Sealed Sender", NDSS 2021, §4). Waiting a random time drawn uniformly from [min, max] ms (default 1–10 s,
 * fresh for each batch) mixes the receipt with everything else sent in that window, and gathers every message from
 * one author that arrives meanwhile into one receipt; bench/sealed/ measures what it buys (docs/benchmarks.md).
 * Turned off, no delivery receipt is sent (read receipts, sent when the user reads, are not affected).
 *
 * Receipts waiting for their time are kept in the store (kv `receipts.pending`), so that a restart or a client that
 * exits (the CLI) sends them later, after a fresh delay once it has connected, rather than losing them. A delay of
 * [0, 0] sends each receipt at once, in the envelope's follow-ups (what tests of other features use).
 */
import type { Content } from '../content/content.js';
import { MAX_TARGETS, newMessageId } from '../content/content.js';
import type { ClientStore } from '../storage/store.js';
import type { SerialQueue } from '../util/serial-queue.js';

export interface ReceiptDelay {
  readonly minMs: number;
  readonly maxMs: number;
}

export const DEFAULT_RECEIPT_DELAY: ReceiptDelay = { minMs: 1_000, maxMs: 10_000 };

const KV_PENDING = 'receipts.pending';
const KV_ENABLED = 'receipts.delivery';

export interface DeliveryReceiptsHost {
  readonly store: ClientStore;
  readonly queue: SerialQueue;
  readonly delay: ReceiptDelay;
  /** A uniform random number in [0, 1) from a cryptographic source (the delay must not be predictable). */
  random(): number;
  now(): number;
  /** Sends `content` to every device of `accountId` (the fan-out; sealed when it can be). */
  send(accountId: string, content: Content): Promise<unknown>;
  /** Keeps work that runs outside the queue's order, so that stopping the client waits for it. */
  track(work: Promise<void>): void;
}

export class DeliveryReceipts {
  /** Message ids whose receipt is due, by author; loaded from the store on first use. */
  private pending: Map<string, string[]> | undefined;
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();
  private running = false;

  constructor(private readonly host: DeliveryReceiptsHost) {}

  /** Whether delivery receipts are sent (the device's setting; on unless turned off). */
  async enabled(): Promise<boolean> {
    return (await this.host.store.getKv(KV_ENABLED)) !== 'off';
  }

  /** Turns delivery receipts on or off; off drops the ones still waiting. */
  async setEnabled(enabled: boolean): Promise<void> {
    await this.host.store.write((tx) => {
      tx.putKv(KV_ENABLED, enabled ? 'on' : 'off');
      if (!enabled) tx.putKv(KV_PENDING, '{}');
    });
    if (!enabled) {
      for (const timer of this.timers.values()) clearTimeout(timer);
      this.timers.clear();
      this.pending = new Map();
    }
  }

  /**
   * A message `id` from `author` was stored: its receipt is due. Returns the work to run at once when receipts are
   * not delayed (the envelope's follow-up), else nothing: the receipt waits in the store for its time.
   */
  async due(author: string, id: string): Promise<(() => Promise<void>) | undefined> {
    if (!(await this.enabled())) return undefined;
    if (this.host.delay.maxMs <= 0) return () => this.sendNow(author, [id]);
    const pending = await this.load();
    const ids = pending.get(author) ?? [];
    if (!ids.includes(id)) ids.push(id);
    pending.set(author, ids);
    await this.save();
    if (this.running) this.schedule(author);
    return undefined;
  }

  /** Connected: what waits (from before a restart too) is sent, each author after a fresh delay. */
  async resume(): Promise<void> {
    this.running = true;
    for (const author of (await this.load()).keys()) this.schedule(author);
  }

  /** Disconnected: the timers stop; what waits stays in the store. */
  pause(): void {
    this.running = false;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }

  /** How many receipts wait (for tests and diagnostics). */
  async waiting(): Promise<number> {
    let n = 0;
    for (const ids of (await this.load()).values()) n += ids.length;
    return n;
  }

  private schedule(author: string): void {
    if (this.timers.has(author)) return; // Gathering: this author's batch already has its time.
    const { minMs, maxMs } = this.host.delay;
    const delay = minMs + Math.floor(this.host.random() * (Math.max(minMs, maxMs) - minMs + 1));
    this.timers.set(
      author,
      setTimeout(() => {
        this.timers.delete(author);
        this.host.track(this.flush(author));
      }, delay),
    );
  }

  private async flush(author: string): Promise<void> {
    const pending = await this.load();
    const ids = pending.get(author);
    if (!ids?.length) return;
    try {
      await this.sendNow(author, ids);
    } catch {
      return; // Kept: sent after the next connection, or with this author's next batch.
    }
    const left = (pending.get(author) ?? []).filter((id) => !ids.includes(id));
    if (left.length > 0) pending.set(author, left);
    else pending.delete(author);
    await this.save();
    if (left.length > 0 && this.running) this.schedule(author);
  }

  private async sendNow(author: string, ids: readonly string[]): Promise<void> {
    for (let i = 0; i < ids.length; i += MAX_TARGETS) {
      const content: Content = { type: 'receipt', id: newMessageId(), timestamp: this.host.now(), receipt: 'delivered', targetIds: ids.slice(i, i + MAX_TARGETS) };
      await this.host.queue.run(() => this.host.send(author, content));
    }
  }

  private async load(): Promise<Map<string, string[]>> {
    if (this.pending) return this.pending;
    const loaded = new Map<string, string[]>();
    try {
      const parsed = JSON.parse((await this.host.store.getKv(KV_PENDING)) ?? '{}') as unknown;
      if (parsed && typeof parsed === 'object') {
        for (const [author, ids] of Object.entries(parsed)) {
          if (Array.isArray(ids)) loaded.set(author, ids.filter((id): id is string => typeof id === 'string'));
        }
      }
    } catch {
      // A damaged entry loses only receipts.
    }
    this.pending ??= loaded;
    return this.pending;
  }

  private async save(): Promise<void> {
    const pending = await this.load();
    await this.host.store.write((tx) => tx.putKv(KV_PENDING, JSON.stringify(Object.fromEntries(pending))));
  }
}
