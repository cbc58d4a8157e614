/**
 * The WebSocket endpoints, attached to the HTTP server's 'upgrade' event (docs/api.md "WebSocket"):
 *
 * - `/v1/websocket`: authenticated delivery. Credentials come in the upgrade request's `Authorization: Basic` header
 *   (checked before the upgrade is accepted: 401 otherwise) or, for browsers, in an AUTH frame that must be the first
 *   frame, within 10 s (close 4001 otherwise). The device's queue then drains in id order, new envelopes are pushed
 *   when the bus wakes the device, and at most `limits.deliveryWindow` envelopes are unacknowledged at a time. An
 *   envelope is deleted only when the client acknowledges it, so whatever was not acknowledged is sent again on the
 *   next connection — never twice on one connection.
 *   The client may also send over the socket: a SEND frame is the send of `PUT /v1/messages/:accountId`, a GROUP_SEND
 *   frame that of `PUT /v1/groups/:groupId/messages` (send.ts), answered by SEND_OK / GROUP_SEND_OK or by SEND_ERROR
 *   with its request id.
 * - `/v1/provisioning/websocket`: see provisioning.ts.
 *
 * One connection per device: a new one announces itself on the bus and every older one, on any node, closes with
 * 4002. "Older" is decided by the connection id, which starts with a Lamport timestamp (wall clock, but never below
 * an id this node has seen), so two nodes that see the announcements in different orders still agree on which
 * connection survives.
 *
 * Logs carry close codes and error types only: never account ids, credentials or envelope bytes.
 */
import { Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { RawData, WebSocket } from 'ws';
import type { AuthenticatedDevice, ServerContext } from '../context.js';
import type { DeviceRef, StoredEnvelopes } from '../bus/bus.js';
import type { DeviceWaiters } from '../bus/device-waiters.js';
import type { QueuedEnvelope } from '../store/repository.js';
import { parseBasicAuth, parseLogin } from '../auth.js';
import { ApiError } from '../errors.js';
import { CloseCode, FrameError, MAX_ACK_IDS, WebSocketErrorCode, decodeClientFrame, encodeFrame } from '@samizdat/protocol';
import type { ClientFrame, ServerFrame } from '@samizdat/protocol';
import { sendGroupMessage, sendMessage } from '../send.js';
import { MAX_DEVICE_ID, MAX_REGISTRATION_ID } from '../schemas.js';
import { rejectUpgrade as writeRejection, upgradeError } from './handshake.js';
import { ProvisioningSockets } from './provisioning.js';
import { toDay } from '../coarse-time.js';

export const DELIVERY_PATH = '/v1/websocket';
export const PROVISIONING_PATH = '/v1/provisioning/websocket';

export interface WebSocketEndpoints {
  /** Stops accepting upgrades, closes every socket with 1001 "going away" and waits for them and their storage work. */
  close(): Promise<void>;
  /** Authenticated delivery connections open on this node. */
  readonly connectionCount: number;
}

/** Timings and bounds of the endpoints; the defaults are the production values (tests shorten them). */
export interface WebSocketOptions {
  /** Ping every socket this often; one that has not answered the previous ping is terminated. Default 30 s. */
  readonly pingIntervalMs?: number;
  /** How long a socket without an Authorization header has to send its AUTH frame. Default 10 s. */
  readonly authTimeoutMs?: number;
  /** Lifetime of an unused provisioning socket. Default 10 minutes. */
  readonly provisioningTtlMs?: number;
  /** Open provisioning sockets per client IP. Default 10. */
  readonly maxProvisioningPerIp?: number;
  /** How long close() waits for clients to complete the close handshake before cutting them off. Default 5 s. */
  readonly closeTimeoutMs?: number;
}

const DEFAULTS: Required<WebSocketOptions> = {
  pingIntervalMs: 30_000,
  authTimeoutMs: 10_000,
  provisioningTtlMs: 10 * 60_000,
  maxProvisioningPerIp: 10,
  closeTimeoutMs: 5_000,
};

/** Most unsent envelopes read from the queue per query (fewer when the window is smaller). */
const PAGE_SIZE = 100;
/** An ACK frame is 2 + 8 × 1000 bytes at most; AUTH is smaller; SEND frames are bounded by the send body limit. */
const MAX_ACK_FRAME_BYTES = 16 + 8 * MAX_ACK_IDS;
/** ACK frames of one connection are applied in order; past this many waiting, reading from the socket pauses. */
const MAX_QUEUED_ACKS = 4;
/** SEND frames of one connection being processed at once; past this many, reading from the socket pauses. */
const MAX_PENDING_SENDS = 64;

const deviceKey = (d: DeviceRef) => `${d.accountId}.${d.deviceId}`;

/** `<12 hex ms Lamport time><16 hex random>`: fixed width, so string order is time order. */
const CONNECTION_ID = /^[0-9a-f]{28}$/;

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return data;
}

export function attachWebSockets(
  server: Server,
  ctx: ServerContext,
  waiters: DeviceWaiters,
  options: WebSocketOptions = {},
): WebSocketEndpoints {
  const opts: Required<WebSocketOptions> = { ...DEFAULTS, ...options };
  const deliveryWss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    // Anything bigger is refused by ws (close 1009).
    maxPayload: Math.max(MAX_ACK_FRAME_BYTES, ctx.config.limits.maxSendBodyBytes),
    perMessageDeflate: false,
  });
  const provisioning = new ProvisioningSockets(ctx, { ttlMs: opts.provisioningTtlMs, maxPerIp: opts.maxProvisioningPerIp });
  /** Every delivery socket, authenticated or not. */
  const sockets = new Set<DeliveryConnection>();
  /** Authenticated connections by device (normally one; two only until the older one has closed). */
  const byDevice = new Map<string, Set<DeliveryConnection>>();
  /** Storage work not yet finished: close() waits for it so the repository is not closed underneath. */
  const tasks = new Set<Promise<void>>();
  let authenticatedCount = 0;
  let closing = false;
  let clock = 0;

  const track = (task: Promise<void>): void => {
    tasks.add(task);
    const done = () => void tasks.delete(task);
    task.then(done, done);
  };

  const newConnectionId = (): string => {
    clock = Math.max(Date.now(), clock + 1);
    return clock.toString(16).padStart(12, '0') + randomBytes(8).toString('hex');
  };

  /** True when `announced` should replace `existing`: it is newer (or either id is not ours to compare). */
  const supersedes = (announced: string, existing: string): boolean => {
    if (!CONNECTION_ID.test(announced) || !CONNECTION_ID.test(existing)) return announced !== existing;
    return announced > existing;
  };

  const replaceOlder = (device: DeviceRef, connectionId: string): void => {
    for (const conn of byDevice.get(deviceKey(device)) ?? []) {
      if (conn.connectionId !== connectionId && supersedes(connectionId, conn.connectionId)) {
        conn.closeWith(CloseCode.Replaced, 'replaced');
      }
    }
  };

  ctx.bus.onConnected((device, connectionId) => {
    if (CONNECTION_ID.test(connectionId)) clock = Math.max(clock, parseInt(connectionId.slice(0, 12), 16));
    replaceOlder(device, connectionId);
  });
  ctx.bus.onRemoved((device) => {
    for (const conn of byDevice.get(deviceKey(device)) ?? []) conn.closeWith(CloseCode.DeviceRemoved, 'device removed');
  });

  /** One delivery socket: authentication, then queue drain, live push and acknowledgements. */
  class DeliveryConnection {
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

    constructor(
      readonly ws: WebSocket,
      private readonly ip: string,
    ) {
      let onClosed!: () => void;
      this.closed = new Promise((resolve) => (onClosed = resolve));
      ws.on('pong', () => (this.alive = true));
      ws.on('error', (err) => ctx.log.debug({ err: { type: err.name } }, 'websocket error'));
      ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
      ws.on('close', (code) => {
        this.cleanUp();
        ctx.log.debug({ code }, 'websocket closed');
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
        if (!FrameError.is(err)) ctx.log.warn({ err: { type: (err as Error).name } }, 'websocket frame decoding failed');
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
        const ids = await sendMessage(ctx, device, frame.accountId, frame.copies, (i) => `copies[${i}].envelope`);
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
        const stored = await sendGroupMessage(ctx, device, frame.groupId, frame.envelope);
        return { kind: 'group-send-ok', requestId, stored };
      });
    }

    /** One request each from the IP's and the account's budgets, as an HTTP request takes; SEND_ERROR if spent. */
    private takeRateLimits(requestId: number, device: AuthenticatedDevice): boolean {
      const now = ctx.now();
      if (!ctx.ipLimiter.take(this.ip, now)) {
        this.sendError(requestId, new ApiError('RATE_LIMITED', undefined, { retryAfter: ctx.ipLimiter.retryAfter(this.ip) }));
        return false;
      }
      if (!ctx.accountLimiter.take(device.accountId, now)) {
        this.sendError(requestId, new ApiError('RATE_LIMITED', undefined, { retryAfter: ctx.accountLimiter.retryAfter(device.accountId) }));
        return false;
      }
      return true;
    }

    /** Runs a send concurrently with the others, answering with its frame or a SEND_ERROR; pauses a flooding client. */
    private runSend(requestId: number, run: () => Promise<ServerFrame>): void {
      this.pendingSends++;
      if (this.pendingSends >= MAX_PENDING_SENDS) this.ws.pause();
      track(
        run()
          .then(
            (answer) => this.send(answer),
            (err: unknown) => {
              if (ApiError.is(err)) this.sendError(requestId, err);
              else {
                ctx.log.warn({ err: { type: (err as Error).name } }, 'websocket send failed');
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
      ctx.metrics.errors.inc({ code: err.code });
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
      track(
        ctx.authenticateCredentials(parseLogin(login), this.ip).then(
          (device) => {
            if (closing) this.closeWith(CloseCode.GoingAway, 'going away');
            else if (this.open) this.start(device);
          },
          (err: unknown) => {
            if (ApiError.is(err, 'RATE_LIMITED')) this.closeWith(CloseCode.RateLimited, 'rate limited');
            else {
              if (!ApiError.is(err)) ctx.log.warn({ err: { type: (err as Error).name } }, 'websocket authentication failed');
              this.closeWith(CloseCode.Unauthorized, 'unauthorized');
            }
          },
        ),
      );
    }

    start(device: AuthenticatedDevice): void {
      clearTimeout(this.authTimer);
      this.device = device;
      this.connectionId = newConnectionId();
      const key = deviceKey(device);
      let set = byDevice.get(key);
      if (!set) byDevice.set(key, (set = new Set()));
      set.add(this);
      authenticatedCount++;
      ctx.metrics.connections.inc();
      // Subscribe before the first read so that nothing stored after that read can go unnoticed.
      this.unsubscribe = waiters.subscribe(device, (stored) => this.onQueued(stored));
      this.send({ kind: 'ready' });
      // Older connections of this device on this node close now; those on other nodes when the bus tells them.
      replaceOlder(device, this.connectionId);
      ctx.bus.publishConnected({ accountId: device.accountId, deviceId: device.deviceId }, this.connectionId);
      track(
        ctx.repo.touchDevice(device.accountId, device.deviceId, toDay(ctx.now())).catch((err: unknown) => {
          ctx.log.warn({ err: { type: (err as Error).name } }, 'touchDevice failed');
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
      track(this.pump(this.device));
    }

    /**
     * Sends what the window allows, reading the queue when it may hold more. One pump runs at a time. Reads never
     * return an envelope twice for sending: one from the cursor sees only ids above everything sent; a rescan sees the
     * in-flight ones again and skips them (and those acknowledged while it ran, which it may still have seen).
     */
    private async pump(device: AuthenticatedDevice): Promise<void> {
      this.pumping = true;
      const window = ctx.config.limits.deliveryWindow;
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
            rows = await ctx.repo.fetchQueue(device.accountId, device.deviceId, from, limit, ctx.now());
          } finally {
            this.ackedDuringFetch = undefined;
          }
          const last = rows[rows.length - 1];
          if (last && last.id > this.cursor) this.cursor = last.id;
          this.pending = rows.filter((row) => !this.inFlight.has(row.id) && !acked.has(row.id));
          if (rows.length >= limit) this.needFetch = true;
        }
      } catch (err) {
        ctx.log.warn({ err: { type: (err as Error).name } }, 'websocket delivery failed');
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
      ctx.metrics.pushed.inc();
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
      track(task);
    }

    private async ack(device: AuthenticatedDevice, ids: bigint[]): Promise<void> {
      let deleted: bigint[];
      try {
        deleted = await ctx.repo.ack(device.accountId, device.deviceId, ids);
      } catch (err) {
        ctx.log.warn({ err: { type: (err as Error).name } }, 'websocket ack failed');
        this.send({ kind: 'error', code: WebSocketErrorCode.Internal });
        return;
      }
      ctx.metrics.messagesOut.inc(deleted.length);
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
      sockets.delete(this);
      this.unsubscribe?.();
      this.unsubscribe = undefined;
      if (this.device) {
        const key = deviceKey(this.device);
        const set = byDevice.get(key);
        if (set?.delete(this)) {
          if (set.size === 0) byDevice.delete(key);
          authenticatedCount--;
          ctx.metrics.connections.dec();
        }
      }
    }
  }

  const clientIp = (req: IncomingMessage): string => req.socket.remoteAddress ?? 'unknown';

  const rejectUpgrade = (socket: Duplex, error: ApiError, headers?: Record<string, string>): void => {
    ctx.metrics.errors.inc({ code: error.code });
    writeRejection(socket, error, headers);
  };

  const accept = (req: IncomingMessage, socket: Duplex, head: Buffer, device: AuthenticatedDevice | undefined): void => {
    deliveryWss.handleUpgrade(req, socket, head, (ws) => {
      const conn = new DeliveryConnection(ws, clientIp(req));
      sockets.add(conn);
      if (device) conn.start(device);
      else conn.awaitAuthFrame(opts.authTimeoutMs);
    });
  };

  const upgradeDelivery = async (req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> => {
    const header = req.headers.authorization;
    if (header === undefined) {
      accept(req, socket, head, undefined);
      return;
    }
    let device: AuthenticatedDevice;
    try {
      device = await ctx.authenticateCredentials(parseBasicAuth(header), req.socket.remoteAddress ?? 'unknown');
    } catch (err) {
      const error = upgradeError(err);
      if (error.status >= 500) ctx.log.warn({ err: { type: (err as Error).name } }, 'websocket authentication failed');
      const retryAfter = error.details?.retryAfter;
      rejectUpgrade(socket, error, typeof retryAfter === 'number' ? { 'Retry-After': String(retryAfter) } : {});
      return;
    }
    if (socket.destroyed) return;
    if (closing) {
      rejectUpgrade(socket, new ApiError('SHUTTING_DOWN'));
      return;
    }
    accept(req, socket, head, device);
  };

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    // A peer that resets the connection during authentication must not take the process down.
    socket.on('error', () => socket.destroy());
    if (closing || ctx.closing) {
      rejectUpgrade(socket, new ApiError('SHUTTING_DOWN'));
      return;
    }
    let path: string;
    try {
      path = new URL(req.url ?? '/', 'http://localhost').pathname;
    } catch {
      rejectUpgrade(socket, new ApiError('BAD_REQUEST'));
      return;
    }
    if (path !== DELIVERY_PATH && path !== PROVISIONING_PATH) {
      rejectUpgrade(socket, new ApiError('NOT_FOUND'));
      return;
    }
    // A WebSocket is long-lived and may be silent between pings: the HTTP idle timeout is not for it.
    if (socket instanceof Socket) socket.setTimeout(0);
    const ip = clientIp(req);
    if (!ctx.ipLimiter.take(ip, ctx.now())) {
      rejectUpgrade(socket, new ApiError('RATE_LIMITED'), { 'Retry-After': String(ctx.ipLimiter.retryAfter(ip)) });
      return;
    }
    if (path === PROVISIONING_PATH) provisioning.handleUpgrade(req, socket, head, ip);
    else track(upgradeDelivery(req, socket, head));
  };
  server.on('upgrade', onUpgrade);

  const keepalive = setInterval(() => {
    for (const conn of sockets) {
      if (!conn.alive) {
        conn.ws.terminate();
        continue;
      }
      conn.alive = false;
      conn.ws.ping();
    }
    for (const { ws } of provisioning.sockets) ws.ping();
  }, opts.pingIntervalMs);
  keepalive.unref();

  let closed: Promise<void> | undefined;
  const closeAll = async (): Promise<void> => {
    closing = true;
    clearInterval(keepalive);
    // Let upgrades that are still authenticating finish (they see `closing` and are refused).
    await Promise.allSettled([...tasks]);
    for (const conn of sockets) conn.closeWith(CloseCode.GoingAway, 'going away');
    for (const { ws } of provisioning.sockets) ws.close(CloseCode.GoingAway, 'going away');
    const all = [...[...sockets].map((c) => ({ ws: c.ws, closed: c.closed })), ...provisioning.sockets];
    const everyClosed = Promise.all(all.map((s) => s.closed));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), opts.closeTimeoutMs)));
    if ((await Promise.race([everyClosed, timedOut])) === 'timeout') {
      for (const { ws } of all) ws.terminate();
      await everyClosed;
    }
    clearTimeout(timer);
    // Acks that arrived before the close frame are applied before the repository closes.
    while (tasks.size > 0) await Promise.allSettled([...tasks]);
    // The 'upgrade' listener stays: until the HTTP server stops listening it answers 503 SHUTTING_DOWN.
    deliveryWss.close();
    provisioning.close();
  };

  return {
    close() {
      closed ??= closeAll();
      return closed;
    },
    get connectionCount() {
      return authenticatedCount;
    },
  };
}
