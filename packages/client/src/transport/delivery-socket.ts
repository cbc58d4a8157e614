/**
 * The delivery socket (docs/api.md "WebSocket delivery"): one authenticated WebSocket to /v1/websocket, kept open.
 *
 *   const socket = new DeliverySocket({ connector, serverUrl, credentials, onEnvelope: async (received) => {
 *     await decryptAndStore(received);
 *     socket.ack(received.id);
 *   } });
 *   socket.start();
 *   await socket.whenQueueEmpty();   // everything queued while offline has been handled
 *   await socket.close();
 *
 * - Authentication: the Authorization header on the upgrade when the connector can set headers (Node), else an AUTH
 *   frame first (browsers).
 * - Envelopes go to `onEnvelope` strictly one at a time, in arrival order: the next waits until the previous call's
 *   promise settles. QUEUE_EMPTY is handled in the same line, so `onQueueEmpty` runs only after every envelope the
 *   server sent before it.
 * - Acks are batched into ACK frames shortly after `ack()`. An envelope is deleted by the server only when acked;
 *   acks not sent before a disconnect are dropped, and envelopes received but not yet handed over are dropped too:
 *   the server sends both again on the next connection (the SDK dedups).
 * - Reconnects with exponential backoff and jitter, except after 4001 (or a refused upgrade with 401), 4002 and 4003:
 *   those are final states ('unauthorized', 'replaced', 'removed') that the caller must act on.
 * - A frame that does not decode, or comes out of place, is ignored and counted (`stats.badFrames`).
 */
import { CloseCode, MAX_ACK_IDS, decodeServerFrame, encodeFrame } from '@samizdat/protocol';
import type { ServerFrame } from '@samizdat/protocol';
import { ClientError, ClientErrorCode } from '../errors.js';
import type { Connector, WebSocketClose, WebSocketLike } from './connector.js';
import type { Credentials } from './endpoint.js';
import { basicAuthorization, checkCredentials, loginOf, parseServerUrl, webSocketUrl } from './endpoint.js';
import type { ReceivedEnvelope } from './http-api.js';

export type { ReceivedEnvelope } from './http-api.js';

export type DeliveryState =
  /** Constructed, start() not called yet. */
  | 'idle'
  /** Opening the socket and waiting for READY. */
  | 'connecting'
  /** READY received: envelopes flow. */
  | 'open'
  /** Disconnected; the next attempt is scheduled. */
  | 'backoff'
  /** close() was called. */
  | 'closed'
  /** Final: the server refused the credentials (4001 or 401). */
  | 'unauthorized'
  /** Final: another connection of this device opened (4002); reconnecting would only fight over the device. */
  | 'replaced'
  /** Final: this device or its account was removed (4003). */
  | 'removed';

const FINAL_STATES: ReadonlySet<DeliveryState> = new Set(['closed', 'unauthorized', 'replaced', 'removed']);

export interface ReconnectOptions {
  /** First delay after a disconnect. Default 500 ms. */
  readonly initialDelayMs?: number;
  /** The delay doubles up to this. Default 30 s. */
  readonly maxDelayMs?: number;
  /** A connection that stayed open this long resets the delay to the initial one. Default 10 s. */
  readonly stableAfterMs?: number;
}

export interface DeliverySocketOptions {
  readonly connector: Connector;
  readonly serverUrl: string;
  readonly credentials: Credentials;
  /**
   * Each envelope, one at a time in arrival order; the next waits for the returned promise. Acknowledge with ack(id)
   * once the envelope is safely handled. If it throws, `onError` hears of it and the envelope stays unacknowledged.
   */
  readonly onEnvelope: (received: ReceivedEnvelope) => Promise<void> | void;
  /** The server has sent everything that was queued when this connection opened, and all of it has been handled. */
  readonly onQueueEmpty?: () => void;
  readonly onState?: (state: DeliveryState) => void;
  /** An exception from onEnvelope or onQueueEmpty (the socket carries on). */
  readonly onError?: (err: unknown) => void;
  readonly reconnect?: ReconnectOptions;
  /** How long a connection may take to become READY before it is dropped and retried. Default 20 s. */
  readonly readyTimeoutMs?: number;
  /** Acks are sent this long after the first unsent one (one frame for a burst). Default 10 ms. */
  readonly ackDelayMs?: number;
  /** How long close() waits for the server to confirm the close. Default 3 s. */
  readonly closeTimeoutMs?: number;
}

export interface DeliveryStats {
  /** Sockets opened (first connection and reconnections). */
  readonly connections: number;
  /** Frames that did not decode or came out of place (ignored). */
  readonly badFrames: number;
  /** ERROR frames received (e.g. UNKNOWN_ENVELOPE_ACK for an envelope acked twice). */
  readonly errorFrames: number;
}

/** Received envelopes waiting for a handler are bounded: the server's window is 64, so more means a broken server. */
const MAX_UNHANDLED = 1024;
/** After "too many authentication attempts" (4029 or 429), wait at least this long. */
const RATE_LIMITED_DELAY_MS = 10_000;

type Work =
  | { readonly kind: 'envelope'; readonly connection: Connection; readonly received: ReceivedEnvelope }
  | { readonly kind: 'queue-empty'; readonly connection: Connection };

interface Connection {
  readonly socket: WebSocketLike;
  ready: boolean;
  readyAt: number | undefined;
  readyTimer: ReturnType<typeof setTimeout> | undefined;
  /** Resolves when this connection is over (closed by either side, or given up on). */
  readonly ended: Promise<void>;
  end(): void;
}

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
}

export class DeliverySocket {
  private readonly url: string;
  private readonly authorization: string | undefined;
  private readonly initialDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly stableAfterMs: number;
  private currentState: DeliveryState = 'idle';
  private connection: Connection | undefined;
  private attempt = 0;
  private backoffTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly work: Work[] = [];
  private working: Promise<void> | undefined;
  private readonly acks = new Set<bigint>();
  private ackTimer: ReturnType<typeof setTimeout> | undefined;
  /** True once the current connection's QUEUE_EMPTY has been handled. */
  private drained = false;
  private waiters: Waiter[] = [];
  private closing: Promise<void> | undefined;
  private counters = { connections: 0, badFrames: 0, errorFrames: 0 };

  constructor(private readonly options: DeliverySocketOptions) {
    checkCredentials(options.credentials);
    this.url = webSocketUrl(parseServerUrl(options.serverUrl), '/v1/websocket');
    this.authorization = options.connector.canSetWebSocketHeaders ? basicAuthorization(options.credentials) : undefined;
    this.initialDelayMs = options.reconnect?.initialDelayMs ?? 500;
    this.maxDelayMs = options.reconnect?.maxDelayMs ?? 30_000;
    this.stableAfterMs = options.reconnect?.stableAfterMs ?? 10_000;
  }

  get state(): DeliveryState {
    return this.currentState;
  }

  get stats(): DeliveryStats {
    return { ...this.counters };
  }

  /** Opens the socket (once; later calls do nothing). */
  start(): void {
    if (this.currentState !== 'idle') return;
    this.connect();
  }

  /**
   * Acknowledges envelopes: they are sent in ACK frames shortly (batched). Without an open connection they are
   * dropped — the server redelivers them and the caller, having stored them, dedups and acks again.
   */
  ack(ids: bigint | readonly bigint[]): void {
    const connection = this.connection;
    if (!connection?.ready) return;
    for (const id of typeof ids === 'bigint' ? [ids] : ids) this.acks.add(id);
    if (this.acks.size > 0 && this.ackTimer === undefined) {
      this.ackTimer = setTimeout(() => this.flushAcks(), this.options.ackDelayMs ?? 10);
    }
  }

  /**
   * Resolves once the current connection's QUEUE_EMPTY has been handled (at once if it already has; otherwise at the
   * next one, on this connection or a later one). Rejects with ClientError CLOSED when the socket reaches a final
   * state first (`state` tells which).
   */
  whenQueueEmpty(): Promise<void> {
    if (FINAL_STATES.has(this.currentState)) return Promise.reject(this.finalError());
    if (this.drained) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /**
   * Stops for good: drops envelopes not yet handed over, waits for the one being handled, sends the acks made so far,
   * closes the socket and resolves once it has closed (or after `closeTimeoutMs`).
   */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  // ---- connecting ----

  private connect(): void {
    this.backoffTimer = undefined;
    if (this.closing) return;
    this.setState('connecting');
    this.counters.connections++;
    const headers = this.authorization === undefined ? undefined : { authorization: this.authorization };
    let socket: WebSocketLike;
    try {
      socket = this.options.connector.openWebSocket(this.url, headers);
    } catch {
      this.scheduleReconnect(undefined, { code: 1006, reason: 'could not open' });
      return;
    }
    let end!: () => void;
    const ended = new Promise<void>((resolve) => (end = resolve));
    const connection: Connection = { socket, ready: false, readyAt: undefined, readyTimer: undefined, ended, end };
    this.connection = connection;
    connection.readyTimer = setTimeout(() => {
      // No READY in time (a stalled handshake or proxy): give up on this socket without waiting for its close.
      if (this.connection !== connection) return;
      socket.close(1000, 'ready timeout');
      this.onClosed(connection, { code: 1006, reason: 'ready timeout' });
    }, this.options.readyTimeoutMs ?? 20_000);
    socket.onopen = () => {
      if (this.connection === connection && this.authorization === undefined) {
        socket.send(encodeFrame({ kind: 'auth', login: loginOf(this.options.credentials) }));
      }
    };
    socket.onmessage = (data) => this.onMessage(connection, data);
    socket.onclose = (close) => this.onClosed(connection, close);
  }

  private onMessage(connection: Connection, data: Uint8Array | string): void {
    if (this.connection !== connection || this.closing) return;
    let frame: ServerFrame;
    try {
      if (typeof data === 'string') throw new TypeError('text frame');
      frame = decodeServerFrame(data);
    } catch {
      this.counters.badFrames++;
      return;
    }
    switch (frame.kind) {
      case 'ready':
        if (connection.ready) break;
        connection.ready = true;
        connection.readyAt = Date.now();
        clearTimeout(connection.readyTimer);
        this.drained = false;
        this.setState('open');
        return;
      case 'envelope':
        if (!connection.ready || this.work.length >= MAX_UNHANDLED) break;
        this.enqueue({
          kind: 'envelope',
          connection,
          received: {
            id: frame.id,
            receivedAt: frame.receivedAt,
            ...(frame.source ? { source: frame.source } : {}),
            envelope: frame.envelope,
          },
        });
        return;
      case 'queue-empty':
        if (!connection.ready) break;
        this.enqueue({ kind: 'queue-empty', connection });
        return;
      case 'error':
        this.counters.errorFrames++;
        return;
      default:
        // Provisioning frames have no place here.
        break;
    }
    this.counters.badFrames++;
  }

  private onClosed(connection: Connection, close: WebSocketClose): void {
    if (this.connection !== connection) return;
    this.connection = undefined;
    clearTimeout(connection.readyTimer);
    connection.end();
    this.dropConnectionState(connection);
    this.drained = false;
    if (this.closing) return;
    if (close.code === CloseCode.Unauthorized || close.status === 401) this.finish('unauthorized');
    else if (close.code === CloseCode.Replaced) this.finish('replaced');
    else if (close.code === CloseCode.DeviceRemoved) this.finish('removed');
    else this.scheduleReconnect(connection, close);
  }

  /** Forgets what belonged to a connection that is over: its unsent acks and its envelopes not yet handed over. */
  private dropConnectionState(connection: Connection): void {
    this.acks.clear();
    clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    for (let i = this.work.length - 1; i >= 0; i--) {
      if ((this.work[i] as Work).connection === connection) this.work.splice(i, 1);
    }
  }

  private scheduleReconnect(connection: Connection | undefined, close: WebSocketClose): void {
    if (connection?.readyAt !== undefined && Date.now() - connection.readyAt >= this.stableAfterMs) this.attempt = 0;
    const base = Math.min(this.maxDelayMs, this.initialDelayMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    // Jitter in [base/2, base): clients cut off together (a server restart) do not come back together.
    let delay = base / 2 + (Math.random() * base) / 2;
    if (close.code === CloseCode.RateLimited || close.status === 429) delay = Math.max(delay, RATE_LIMITED_DELAY_MS);
    this.setState('backoff');
    this.backoffTimer = setTimeout(() => this.connect(), delay);
  }

  private finish(state: DeliveryState): void {
    clearTimeout(this.backoffTimer);
    this.backoffTimer = undefined;
    this.setState(state);
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter.reject(this.finalError());
  }

  private finalError(): ClientError {
    return new ClientError(ClientErrorCode.Closed, `the delivery socket is ${this.currentState}`);
  }

  private setState(state: DeliveryState): void {
    if (this.currentState === state) return;
    this.currentState = state;
    try {
      this.options.onState?.(state);
    } catch (err) {
      this.reportError(err);
    }
  }

  private reportError(err: unknown): void {
    try {
      this.options.onError?.(err);
    } catch {
      // The error handler's own failure has nowhere left to go.
    }
  }

  // ---- handing over, one at a time ----

  private enqueue(item: Work): void {
    this.work.push(item);
    this.working ??= this.handleAll().finally(() => (this.working = undefined));
  }

  private async handleAll(): Promise<void> {
    for (let item = this.work.shift(); item !== undefined; item = this.work.shift()) {
      if (item.kind === 'envelope') {
        try {
          await this.options.onEnvelope(item.received);
        } catch (err) {
          this.reportError(err);
        }
      } else if (item.connection === this.connection) {
        this.drained = true;
        try {
          this.options.onQueueEmpty?.();
        } catch (err) {
          this.reportError(err);
        }
        const waiters = this.waiters;
        this.waiters = [];
        for (const waiter of waiters) waiter.resolve();
      }
    }
  }

  private flushAcks(): void {
    clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    const connection = this.connection;
    const ids = [...this.acks];
    this.acks.clear();
    if (!connection?.ready) return;
    for (let start = 0; start < ids.length; start += MAX_ACK_IDS) {
      connection.socket.send(encodeFrame({ kind: 'ack', ids: ids.slice(start, start + MAX_ACK_IDS) }));
    }
  }

  // ---- closing ----

  private async shutDown(): Promise<void> {
    clearTimeout(this.backoffTimer);
    this.backoffTimer = undefined;
    this.work.length = 0;
    // The envelope being handled finishes first, so that its ack goes out before the socket closes.
    await this.working;
    this.flushAcks();
    const connection = this.connection;
    if (connection) {
      connection.socket.close(1000, 'closing');
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.options.closeTimeoutMs ?? 3000)));
      await Promise.race([connection.ended, timeout]);
      clearTimeout(timer);
      if (this.connection === connection) this.onClosed(connection, { code: 1006, reason: 'close timeout' });
    }
    if (!FINAL_STATES.has(this.currentState)) this.finish('closed');
  }
}
