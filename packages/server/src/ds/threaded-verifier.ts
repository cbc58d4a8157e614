/**
 * The Delivery Service's verifications on worker threads (ds-worker.ts), so that a commit to a 10,000-member group
 * (seconds of decoding and hashing) does not stall every other request. A fixed pool of threads, one task each at a
 * time, and a bounded queue: past `maxQueued` waiting tasks a verification is refused with SERVER_BUSY, instead of
 * holding memory (each task carries up to two 16 MiB GroupInfos) and answering minutes late. A thread that dies is
 * replaced; its task fails.
 */
import { Worker } from 'node:worker_threads';
import { ProtocolError } from '@samizdat/protocol';
import type { ProtocolErrorCode, PublicGroupView, VerifiedCommit } from '@samizdat/protocol';
import { ApiError } from '../errors.js';
import { checkIdentities } from './commit-verifier.js';
import type { CommitVerifier } from './commit-verifier.js';

export type WorkerTask =
  | { readonly id: number; readonly op: 'groupInfo'; readonly groupInfo: Uint8Array }
  | { readonly id: number; readonly op: 'commit'; readonly current: Uint8Array; readonly commit: Uint8Array; readonly next: Uint8Array };

export type WorkerReply =
  | { readonly id: number; readonly ok: true; readonly result: PublicGroupView | VerifiedCommit; readonly identities: readonly (readonly [string, Uint8Array])[] }
  | { readonly id: number; readonly ok: false; readonly code?: ProtocolErrorCode; readonly message: string };

/** What a task needs from the worker's shape, without `id`. */
type TaskInput = { readonly op: 'groupInfo'; readonly groupInfo: Uint8Array } | { readonly op: 'commit'; readonly current: Uint8Array; readonly commit: Uint8Array; readonly next: Uint8Array };

interface Pending {
  readonly task: WorkerTask;
  readonly resolve: (reply: WorkerReply) => void;
  readonly reject: (err: Error) => void;
}

interface Slot {
  worker: Worker;
  busy: Pending | undefined;
}

export interface ThreadedVerifierOptions {
  readonly threads: number;
  /** Tasks that may wait for a thread; one more is refused with SERVER_BUSY. */
  readonly maxQueued: number;
  /** Whether an identity key is the one its account registered (commit-verifier.ts registeredIdentity). */
  readonly isRegistered: (accountId: string, identityKey: Uint8Array) => Promise<boolean>;
  /** The compiled worker (default: ds-worker.js beside this module, as built into dist/). */
  readonly workerUrl?: URL;
  /** The checks that need no thread (framing only). */
  readonly addsOf: (commit: Uint8Array) => number;
}

export class ThreadedVerifier implements CommitVerifier {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 1;
  private closed = false;
  private readonly workerUrl: URL;

  constructor(private readonly options: ThreadedVerifierOptions) {
    if (!Number.isInteger(options.threads) || options.threads < 1) throw new RangeError('a threaded verifier needs at least one thread');
    this.workerUrl = options.workerUrl ?? new URL('./ds-worker.js', import.meta.url);
    for (let i = 0; i < options.threads; i++) this.slots.push(this.spawn());
  }

  /** Tasks waiting for a thread and tasks running (metrics, tests). */
  get load(): { queued: number; running: number } {
    return { queued: this.queue.length, running: this.slots.filter((s) => s.busy !== undefined).length };
  }

  async verifyGroupInfo(groupInfo: Uint8Array): Promise<PublicGroupView> {
    return (await this.submit({ op: 'groupInfo', groupInfo })) as PublicGroupView;
  }

  async verifyCommit(current: Uint8Array, commit: Uint8Array, next: Uint8Array): Promise<VerifiedCommit> {
    return (await this.submit({ op: 'commit', current, commit, next })) as VerifiedCommit;
  }

  addsOf(commit: Uint8Array): number {
    return this.options.addsOf(commit);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.queue.splice(0)) p.reject(new ApiError('SHUTTING_DOWN'));
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private async submit(input: TaskInput): Promise<PublicGroupView | VerifiedCommit> {
    if (this.closed) throw new ApiError('SHUTTING_DOWN');
    const idle = this.slots.find((s) => s.busy === undefined);
    if (!idle && this.queue.length >= this.options.maxQueued) throw new ApiError('SERVER_BUSY');
    const task = { ...input, id: this.nextId++ } as WorkerTask;
    const reply = await new Promise<WorkerReply>((resolve, reject) => {
      const pending = { task, resolve, reject };
      if (idle) this.start(idle, pending);
      else this.queue.push(pending);
    });
    if (!reply.ok) {
      if (reply.code !== undefined) throw new ProtocolError(reply.code, reply.message);
      throw new Error(`delivery service worker: ${reply.message}`);
    }
    await checkIdentities(reply.identities, this.options.isRegistered);
    return reply.result;
  }

  private start(slot: Slot, pending: Pending): void {
    slot.busy = pending;
    slot.worker.ref(); // A task in flight keeps the process alive until it is answered; an idle thread does not.
    slot.worker.postMessage(pending.task);
  }

  private spawn(): Slot {
    const slot: Slot = { worker: new Worker(this.workerUrl), busy: undefined };
    slot.worker.on('message', (reply: WorkerReply) => {
      const pending = slot.busy;
      slot.busy = undefined;
      slot.worker.unref();
      if (pending && pending.task.id === reply.id) pending.resolve(reply);
      this.next(slot);
    });
    const fail = (err: Error) => {
      const pending = slot.busy;
      slot.busy = undefined;
      pending?.reject(err);
      if (this.closed) return;
      // Replace the thread; what waited goes to the new one.
      const index = this.slots.indexOf(slot);
      if (index >= 0) {
        const fresh = this.spawn();
        this.slots[index] = fresh;
        this.next(fresh);
      }
    };
    slot.worker.on('error', fail);
    slot.worker.on('exit', (code) => {
      if (!this.closed) fail(new Error(`delivery service worker exited (${code})`));
    });
    slot.worker.unref();
    return slot;
  }

  private next(slot: Slot): void {
    const pending = this.queue.shift();
    if (pending) this.start(slot, pending);
  }
}
