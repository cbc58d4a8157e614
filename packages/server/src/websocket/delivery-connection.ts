/**
 * One authenticated delivery socket of `/v1/websocket` (docs/api.md "WebSocket"), from its AUTH frame (or the
 * Authorization header the upgrade handler checked) to its close:
 *
 * - Authentication: credentials in the upgrade request's `Authorization: Basic` header, or, for browsers, in an AUTH
 *   frame that must be the first frame, within 10 s (close 4001 otherwise).
 * - Delivery: the device's queue drains in id order, new envelopes are pushed when the bus wakes the device, and at
 *   most `limits.deliveryWindow` envelopes are unacknowledged at a time. An envelope is deleted only when the client
 *   acknowledges it, so whatever was not acknowledged is sent again on the next connection — never twice on one.
 * - Sends: a SEND frame is the send of `PUT /v1/messages/:accountId`, a GROUP_SEND frame that of
 *   `PUT /v1/groups/:groupId/messages` (send.ts), answered by SEND_OK / GROUP_SEND_OK or by SEND_ERROR with its
 *   request id.
 *
 * Which connection a device keeps is the registry's business (connection-registry.ts); accepting sockets, the
 * keepalive and shutdown are the upgrade handler's (upgrade-handler.ts). Logs carry close codes and error types only:
 * never account ids, credentials or envelope bytes.
 */
import type { RawData, WebSocket } from 'ws';
import { CloseCode, FrameError, MAX_ACK_IDS, WebSocketErrorCode, decodeClientFrame, encodeFrame } from '@samizdat/protocol';
import type { ClientFrame, ServerFrame } from '@samizdat/protocol';
import type { AuthenticatedDevice, ServerContext } from '../context.js';
import type { StoredEnvelopes } from '../bus/bus.js';
import type { DeviceWaiters } from '../bus/device-waiters.js';
import type { QueuedEnvelope } from '../store/repository.js';
import { parseLogin } from '../auth.js';
import { ApiError } from '../errors.js';
import { sendGroupMessage, sendMessage } from '../send.js';
import { MAX_DEVICE_ID, MAX_REGISTRATION_ID } from '../schemas.js';
import { toDay } from '../coarse-time.js';
import type { ConnectionRegistry } from './connection-registry.js';

/** Most unsent envelopes read from the queue per query (fewer when the window is smaller). */
const PAGE_SIZE = 100;
/** An ACK frame is 2 + 8 × 1000 bytes at most; AUTH is smaller; SEND frames are bounded by the send body limit. */
export const MAX_ACK_FRAME_BYTES = 16 + 8 * MAX_ACK_IDS;
/** ACK frames of one connection are applied in order; past this many waiting, reading from the socket pauses. */
export const MAX_QUEUED_ACKS = 4;
/** SEND frames of one connection being processed at once; past this many, reading from the socket pauses. */
export const MAX_PENDING_SENDS = 64;

/** What a connection works with besides its socket. */
export interface DeliveryDeps {
  readonly ctx: ServerContext;
  /** Where the bus's wake-ups for the device arrive. */
  readonly waiters: Pick<DeviceWaiters, 'subscribe'>;
  readonly registry: ConnectionRegistry<DeliveryConnection>;
  /** Hands over storage work that shutdown must wait for before the repository closes. */
  readonly track: (task: Promise<void>) => void;
  /** True once the endpoints are closing: an authentication that completes then is answered with 1001. */
  readonly closing: () => boolean;
}

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return data;
}

/** One delivery socket: authentication, then queue drain, live push and acknowledgements. */
export class DeliveryConnection {
  /** Assigned when authenticated, so that a later authentication always means a newer connection. */
  connectionId = '';
  readonly closed: Promise<void>;
  alive = true;
  private device: AuthenticatedDevice | undefined;
  private authenticating = false;
  private authTimer: NodeJS.Timeout | undefined;
  private ending = false;
  private unsubscribe: (() => void) | undefined;
  /** Sent on this connection and not yet acknowledged. */
  private readonly inFlight = new Set<bigint>();
  /** Read from the queue, not yet sent (the window was full), in id order. */
  private pending: QueuedEnvelope[] = [];
  /**
   * The queue may hold envelopes this connection has not read: initially, after a full page, after a wake-up that
   * could not be pushed directly (see onQueued).
   */
  private needFetch = true;
  /** The highest id read so far: continuation reads start after it. */
  private cursor = 0n;
  /**
   * The next read starts from the beginning of the queue instead of the cursor (initially and after every wake-up
   * that sets needFetch):
   * with PostgreSQL a lower id can commit after a higher one was read, and its wake-up only comes once it is visible.
   */
  private rescan = true;
  private pumping = false;
  private queueEmptySent = false;
  /** Ids acknowledged while a queue read was running: that read may still return them. */
  private ackedDuringFetch: Set<bigint> | undefined;
  private ackChain: Promise<void> = Promise.resolve();
  private queuedAcks = 0;
  private pendingSends = 0;

  private readonly ctx: ServerContext;

  constructor(
    readonly ws: WebSocket,
    private readonly ip: string,
    private readonly deps: DeliveryDeps,
  ) {
    this.ctx = deps.ctx;
    let onClosed!: () => void;
    this.closed = new Promise((resolve) => (onClosed = resolve));
    ws.on('pong', () => (this.alive = true));
    ws.on('error', (err) => this.ctx.log.debug({ err: { type: err.name } }, 'websocket error'));
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    ws.on('close', (code) => {
      this.cleanUp();
      this.ctx.log.debug({ code }, 'websocket closed');
      onClosed();
    });
  }

  private get open(): boolean {
    return !this.ending && this.ws.readyState === this.ws.OPEN;
  }

  awaitAuthFrame(timeoutMs: number): void {
    this.authTimer = setTimeout(() => {
      if (!this.device) this.closeWith(CloseCode.Unauthorized, 'authentication timeout');
    }, timeoutMs);
    this.authTimer.unref();
  }

  closeWith(code: number, reason: string): void {
    if (this.ending) return;
    this.ending = true;
    this.ws.close(code, reason);
  }

  private send(frame: ServerFrame): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(encodeFrame(frame));
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (!this.device) {
      this.onUnauthenticatedMessage(data, isBinary);
      return;
    }
    if (!isBinary) {
      this.send({ kind: 'error', code: WebSocketErrorCode.BadFrame });
      return;
    }
    let frame;
    try {
      frame = decodeClientFrame(toBytes(data));
    } catch (err) {
      // Only FrameError is expected; anything else is a codec bug, answered the same way instead of crashing.
      if (!FrameError.is(err)) this.ctx.log.warn({ err: { type: (err as Error).name } }, 'websocket frame decoding failed');
      this.send({ kind: 'error', code: WebSocketErrorCode.BadFrame });
      return;
    }
    if (frame.kind === 'auth') {
      this.send({ kind: 'error', code: WebSocketErrorCode.UnexpectedFrame });
      return;
    }
    if (frame.kind === 'send') {
      this.handleSend(frame);
      return;
    }
    if (frame.kind === 'group-send') {
      this.handleGroupSend(frame);
      return;
    }
    this.queueAck(frame.ids);
  }

  /** Resumes reading once neither acks nor sends are backed up. */
  private maybeResume(): void {
    if (this.ws.isPaused && this.queuedAcks < MAX_QUEUED_ACKS && this.pendingSends < MAX_PENDING_SENDS) this.ws.resume();
  }

  /**
   * A SEND frame: the same send as PUT /v1/messages/:accountId (send.ts), with the same rate limits (per IP and per
   * account, one request each), answered by SEND_OK once every copy is durably stored or by SEND_ERROR with the
   * route's error code. Sends run concurrently; a client that floods them is paused, not buffered.
   */
  private handleSend(frame: Extract<ClientFrame, { kind: 'send' }>): void {
    const device = this.device as AuthenticatedDevice;
    const { requestId } = frame;
    if (!this.takeRateLimits(requestId, device)) return;
    const bad = frame.copies.findIndex(
      (c) => c.deviceId > MAX_DEVICE_ID || c.registrationId < 1 || c.registrationId > MAX_REGISTRATION_ID,
    );
    if (bad >= 0) {
      this.sendError(requestId, new ApiError('VALIDATION_FAILED', `copies[${bad}]: device id 1–${MAX_DEVICE_ID}, registration id 1–${MAX_REGISTRATION_ID}`));
      return;
    }
    this.runSend(requestId, async () => {
      const ids = await sendMessage(this.ctx, device, frame.accountId, frame.copies, (i) => `copies[${i}].envelope`);
      return { kind: 'send-ok', requestId, ids };
    });
  }

  /**
   * A GROUP_SEND frame: the same send as PUT /v1/groups/:groupId/messages (send.ts), same rate limits as a SEND,
   * answered by GROUP_SEND_OK once every copy is durably stored or by SEND_ERROR with the route's error code.
   */
  private handleGroupSend(frame: Extract<ClientFrame, { kind: 'group-send' }>): void {
    const device = this.device as AuthenticatedDevice;
    const { requestId } = frame;
    if (!this.takeRateLimits(requestId, device)) return;
    this.runSend(requestId, async () => {
      const stored = await sendGroupMessage(this.ctx, device, frame.groupId, frame.envelope);
      return { kind: 'group-send-ok', requestId, stored };
    });
  }

  /** One request each from the IP's and the account's budgets, as an HTTP request takes; SEND_ERROR if spent. */
  private takeRateLimits(requestId: number, device: AuthenticatedDevice): boolean {
    const now = this.ctx.now();
    if (!this.ctx.ipLimiter.take(this.ip, now)) {
      this.sendError(requestId, new ApiError('RATE_LIMITED', undefined, { retryAfter: this.ctx.ipLimiter.retryAfter(this.ip) }));
      return false;
    }
    if (!this.ctx.accountLimiter.take(device.accountId, now)) {
      this.sendError(requestId, new ApiError('RATE_LIMITED', undefined, { retryAfter: this.ctx.accountLimiter.retryAfter(device.accountId) }));
      return false;
    }
    return true;
  }

  /** Runs a send concurrently with the others, answering with its frame or a SEND_ERROR; pauses a flooding client. */
  private runSend(requestId: number, run: () => Promise<ServerFrame>): void {
    this.pendingSends++;
    if (this.pendingSends >= MAX_PENDING_SENDS) this.ws.pause();
    this.deps.track(
      run()
        .then(
          (answer) => this.send(answer),
          (err: unknown) => {
            if (ApiError.is(err)) this.sendError(requestId, err);
            else {
              this.ctx.log.warn({ err: { type: (err as Error).name } }, 'websocket send failed');
              this.sendError(requestId, new ApiError('INTERNAL'));
            }
          },
        )
        .finally(() => {
          this.pendingSends--;
          this.maybeResume();
        }),
    );
  }

  private sendError(requestId: number, err: ApiError): void {
    this.ctx.metrics.errors.inc({ code: err.code });
    const list = (key: string): number[] => {
      const value = err.details?.[key];
      return Array.isArray(value) ? (value as number[]) : [];
    };
    const retryAfter = err.details?.retryAfter;
    this.send({
      kind: 'send-error',
      requestId,
      code: err.code,
      message: err.message,
      retryAfter: typeof retryAfter === 'number' ? Math.ceil(retryAfter) : 0,
      missingDevices: list('missingDevices'),
      extraDevices: list('extraDevices'),
      staleDevices: list('staleDevices'),
    });
  }

  private onUnauthenticatedMessage(data: RawData, isBinary: boolean): void {
    // Only one thing is allowed before READY: the AUTH frame, once.
    if (this.authenticating || !isBinary) {
      this.closeWith(CloseCode.Unauthorized, 'unauthorized');
      return;
    }
    let login: string;
    try {
      const frame = decodeClientFrame(toBytes(data));
      if (frame.kind !== 'auth') throw new FrameError('UNKNOWN_FRAME_TYPE', 'expected AUTH');
      login = frame.login;
    } catch {
      this.closeWith(CloseCode.Unauthorized, 'unauthorized');
      return;
    }
    this.authenticating = true;
    this.deps.track(
      this.ctx.authenticateCredentials(parseLogin(login), this.ip).then(
        (device) => {
          if (this.deps.closing()) this.closeWith(CloseCode.GoingAway, 'going away');
          else if (this.open) this.start(device);
        },
        (err: unknown) => {
          if (ApiError.is(err, 'RATE_LIMITED')) this.closeWith(CloseCode.RateLimited, 'rate limited');
          else {
            if (!ApiError.is(err)) this.ctx.log.warn({ err: { type: (err as Error).name } }, 'websocket authentication failed');
            this.closeWith(CloseCode.Unauthorized, 'unauthorized');
          }
        },
      ),
    );
  }

  start(device: AuthenticatedDevice): void {
    clearTimeout(this.authTimer);
    this.device = device;
    this.connectionId = this.deps.registry.newConnectionId();
    this.deps.registry.register(device, this);
    this.ctx.metrics.connections.inc();
    // Subscribe before the first read so that nothing stored after that read can go unnoticed.
    this.unsubscribe = this.deps.waiters.subscribe(device, (stored) => this.onQueued(stored));
    this.send({ kind: 'ready' });
    // Older connections of this device on this node close now; those on other nodes when the bus tells them.
    this.deps.registry.replaceOlder(device, this.connectionId);
    this.ctx.bus.publishConnected({ accountId: device.accountId, deviceId: device.deviceId }, this.connectionId);
    this.deps.track(
      this.ctx.repo.touchDevice(device.accountId, device.deviceId, toDay(this.ctx.now())).catch((err: unknown) => {
        this.ctx.log.warn({ err: { type: (err as Error).name } }, 'touchDevice failed');
      }),
    );
    this.schedulePump();
  }

  /**
   * A wake-up: new envelopes were stored for this device. Normally the next read rescans the queue. But when the
   * wake-up carries the stored envelopes (a send on this node, LocalBus) and this connection has read its whole
   * queue — no read running or due (the last one returned a short page and no wake-up came since) — and they are
   * all above the cursor, they are exactly what a read would find next, so they are queued for sending as they
   * are: anything stored since that read comes with a wake-up of its own, so nothing is skipped. Ids above the
   * cursor were never read, nor pushed (each wake-up comes once), so none is sent twice. Otherwise (a plain
   * wake-up from NATS, a read in flight, or an id at or below the cursor: PostgreSQL committed it after a
   * higher one) it falls back to the rescan.
   */
  private onQueued(stored: StoredEnvelopes | undefined): void {
    if (stored && stored.length > 0 && !this.pumping && !this.needFetch && this.follows(stored)) {
      // Pending holds only ids at or below the cursor, so appending keeps id order.
      for (const row of stored) this.pending.push(row);
      this.cursor = (stored[stored.length - 1] as QueuedEnvelope).id;
    } else {
      this.needFetch = true;
      this.rescan = true;
    }
    this.schedulePump();
  }

  /** True when the ids of `stored` increase and all lie above the cursor. */
  private follows(stored: StoredEnvelopes): boolean {
    let previous = this.cursor;
    for (const row of stored) {
      if (row.id <= previous) return false;
      previous = row.id;
    }
    return true;
  }

  private schedulePump(): void {
    if (this.pumping || !this.device || !this.open) return;
    this.deps.track(this.pump(this.device));
  }

  /**
   * Sends what the window allows, reading the queue when it may hold more. One pump runs at a time. Reads never
   * return an envelope twice for sending: one from the cursor sees only ids above everything sent; a rescan sees the
   * in-flight ones again and skips them (and those acknowledged while it ran, which it may still have seen).
   */
  private async pump(device: AuthenticatedDevice): Promise<void> {
    this.pumping = true;
    const window = this.ctx.config.limits.deliveryWindow;
    const page = Math.max(1, Math.min(window, PAGE_SIZE));
    try {
      while (this.open) {
        while (this.pending.length > 0 && this.inFlight.size < window) this.sendEnvelope(this.pending.shift() as QueuedEnvelope);
        if (this.pending.length === 0 && !this.needFetch && !this.queueEmptySent) {
          this.queueEmptySent = true;
          this.send({ kind: 'queue-empty' });
        }
        if (this.pending.length > 0 || this.inFlight.size >= window || !this.needFetch) break;
        this.needFetch = false;
        const from = this.rescan ? 0n : this.cursor;
        this.rescan = false;
        const limit = (from === 0n ? this.inFlight.size : 0) + page;
        const acked = new Set<bigint>();
        this.ackedDuringFetch = acked;
        let rows: QueuedEnvelope[];
        try {
          rows = await this.ctx.repo.fetchQueue(device.accountId, device.deviceId, from, limit, this.ctx.now());
        } finally {
          this.ackedDuringFetch = undefined;
        }
        const last = rows[rows.length - 1];
        if (last && last.id > this.cursor) this.cursor = last.id;
        this.pending = rows.filter((row) => !this.inFlight.has(row.id) && !acked.has(row.id));
        if (rows.length >= limit) this.needFetch = true;
      }
    } catch (err) {
      this.ctx.log.warn({ err: { type: (err as Error).name } }, 'websocket delivery failed');
      this.closeWith(CloseCode.InternalError, 'internal error');
    } finally {
      this.pumping = false;
    }
  }

  private sendEnvelope(row: QueuedEnvelope): void {
    this.inFlight.add(row.id);
    const source =
      row.sourceAccountId !== undefined && row.sourceDeviceId !== undefined
        ? { accountId: row.sourceAccountId, deviceId: row.sourceDeviceId }
        : undefined;
    this.send({ kind: 'envelope', id: row.id, receivedAt: row.receivedAt, source, envelope: row.envelope });
    this.ctx.metrics.pushed.inc();
  }

  /** Acks are applied one frame at a time, in order; a client that floods them is paused, not buffered. */
  private queueAck(ids: readonly bigint[]): void {
    const device = this.device as AuthenticatedDevice;
    this.queuedAcks++;
    if (this.queuedAcks >= MAX_QUEUED_ACKS) this.ws.pause();
    const task = this.ackChain.then(async () => {
      await this.ack(device, [...new Set(ids)]);
      this.queuedAcks--;
      this.maybeResume();
    });
    this.ackChain = task;
    this.deps.track(task);
  }

  private async ack(device: AuthenticatedDevice, ids: bigint[]): Promise<void> {
    let deleted: bigint[];
    try {
      deleted = await this.ctx.repo.ack(device.accountId, device.deviceId, ids);
    } catch (err) {
      this.ctx.log.warn({ err: { type: (err as Error).name } }, 'websocket ack failed');
      this.send({ kind: 'error', code: WebSocketErrorCode.Internal });
      return;
    }
    this.ctx.metrics.messagesOut.inc(deleted.length);
    // An id that was not deleted is not in this device's queue (any more): it no longer holds the window either.
    const acked = new Set(ids);
    for (const id of ids) {
      this.inFlight.delete(id);
      this.ackedDuringFetch?.add(id);
    }
    if (this.pending.length > 0) this.pending = this.pending.filter((row) => !acked.has(row.id));
    if (deleted.length < ids.length) this.send({ kind: 'error', code: WebSocketErrorCode.UnknownEnvelopeAck });
    this.schedulePump();
  }

  private cleanUp(): void {
    this.ending = true;
    clearTimeout(this.authTimer);
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    if (this.deps.registry.remove(this, this.device)) this.ctx.metrics.connections.dec();
  }
}
