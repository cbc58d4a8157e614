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
 * - Sends: `send()` carries one message in a SEND frame and resolves with SEND_OK's ids; `sendGroup()` carries one
 *   group message in a GROUP_SEND frame and resolves with GROUP_SEND_OK's count. SEND_ERROR (the answer to either)
 *   rejects with the same ClientError HttpApi.sendMessages / HttpApi.sendGroupMessage throws for that code. A send not
 *   answered on its connection (closed first, or no answer within `sendTimeoutMs`) rejects with SERVER_UNREACHABLE:
 *   the server may or may not have stored it.
 * - Reconnects with exponential backoff and jitter, except after 4001 (or a refused upgrade with 401), 4002 and 4003:
 *   those are final states ('unauthorized', 'replaced', 'removed') that the caller must act on.
 * - A frame that does not decode, or comes out of place, is ignored and counted (`stats.badFrames`).
 */
import { CloseCode, MAX_ACK_IDS, decodeServerFrame, encodeFrame } from '@samizdat/protocol';
import type { SendCopy, ServerFrame } from '@samizdat/protocol';
import { ClientError, ClientErrorCode } from '../errors.js';
import type { WebSocketClose, WebSocketLike } from './connector.js';
import { basicAuthorization, checkCredentials, loginOf, parseServerUrl, webSocketUrl } from './endpoint.js';
import { checkGroupId, checkSend } from './http-api.js';
import type { OutgoingEnvelope } from './http-api.js';

import { FRAME_NAME, MAX_UNHANDLED, RATE_LIMITED_DELAY_MS, REQUEST_ID_LIMIT, SEND_ANSWER, notConfirmed, refusalOf, routeOf } from './delivery-sends.js';
import type { AnswerTo, Connection, PendingSend, SendAnswer, SendRequest, Waiter, Work } from './delivery-sends.js';
import { FINAL_STATES } from './delivery-types.js';
import type { DeliverySocketOptions, DeliveryState, DeliveryStats } from './delivery-types.js';

export type { ReceivedEnvelope } from './http-api.js';

export type { DeliverySocketOptions, DeliveryState, DeliveryStats, ReconnectOptions } from './delivery-types.js';

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
  private counters = { connections: 0, badFrames: 0, errorFrames: 0, sent: 0 };
  private readonly pendingSends = new Map<number, PendingSend>();
  private nextRequestId = 0;

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
   * Sends one message (PUT /v1/messages/:accountId's send: an envelope per device of the recipient) in a SEND frame on
   * the open connection; resolves with the server's ids in the order of `messages` once every copy is stored. Fails
   * as HttpApi.sendMessages does: INVALID_ARGUMENT for a malformed send, SERVER_ERROR with the server's code for a
   * refusal (mismatchOf for DEVICE_LIST_MISMATCH; `details.retryAfter` seconds for RATE_LIMITED), BAD_RESPONSE for
   * an answer that does not fit. SERVER_UNREACHABLE when the send was not confirmed: no open connection, the
   * connection ended before the answer, or no answer within `sendTimeoutMs` — send it again, over HTTP if need be.
   */
  async send(accountId: string, messages: readonly OutgoingEnvelope[]): Promise<{ ids: bigint[] }> {
    checkSend(accountId, messages);
    const copies: SendCopy[] = messages.map((m) => ({ deviceId: m.deviceId, registrationId: m.registrationId, envelope: m.envelope }));
    return this.request('send', (requestId) => ({ kind: 'send', requestId, accountId, copies }), (answer) => {
      if (answer.ids.length !== copies.length) {
        throw new ClientError(ClientErrorCode.BadResponse, `${routeOf('send')}: the server's answer does not account for every envelope sent`);
      }
      return { ids: [...answer.ids] };
    });
  }

  /**
   * Sends one group message (PUT /v1/groups/:groupId/messages's send: one GroupMessage envelope for every other member
   * device) in a GROUP_SEND frame on the open connection; resolves with how many member devices it was stored for,
   * once stored. Fails as HttpApi.sendGroupMessage does: INVALID_ARGUMENT for a malformed group id, SERVER_ERROR with
   * the server's code for a refusal (GROUP_NOT_FOUND, NOT_A_GROUP_MEMBER, ENVELOPE_TOO_LARGE…; `details.retryAfter`
   * seconds for RATE_LIMITED), BAD_RESPONSE for an answer that does not fit. SERVER_UNREACHABLE when the send was not
   * confirmed, as for send().
   */
  async sendGroup(groupId: string, envelope: Uint8Array): Promise<{ stored: number }> {
    checkGroupId(groupId);
    return this.request('group-send', (requestId) => ({ kind: 'group-send', requestId, groupId, envelope }), (answer) => ({ stored: answer.stored }));
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
    if (this.connection !== connection) return;
    let frame: ServerFrame;
    try {
      if (typeof data === 'string') throw new TypeError('text frame');
      frame = decodeServerFrame(data);
    } catch {
      if (!this.closing) this.counters.badFrames++;
      return;
    }
    // Answers to sends are still taken while closing: the send waiting for one may be what close() waits for.
    if (this.closing && frame.kind !== 'send-ok' && frame.kind !== 'group-send-ok' && frame.kind !== 'send-error') return;
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
      case 'send-ok':
      case 'group-send-ok': {
        if (!connection.ready) break;
        // An unknown request id is ignored: most likely a send that timed out here.
        const pending = this.takePendingSend(connection, frame.requestId);
        if (!pending) return;
        if (frame.kind !== pending.expects) {
          pending.reject(new ClientError(ClientErrorCode.BadResponse, `${pending.route}: the server answered with ${FRAME_NAME[frame.kind]}`));
          return;
        }
        pending.answer(frame);
        return;
      }
      case 'send-error': {
        if (!connection.ready) break;
        const pending = this.takePendingSend(connection, frame.requestId);
        pending?.reject(refusalOf(pending.route, frame));
        return;
      }
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

  /**
   * Forgets what belonged to a connection that is over: its unsent acks, its envelopes not yet handed over, and its
   * sends still waiting for an answer (rejected: an answer can never come on another connection).
   */
  private dropConnectionState(connection: Connection): void {
    for (const [requestId, pending] of this.pendingSends) {
      if (pending.connection !== connection) continue;
      this.takePendingSend(connection, requestId);
      pending.reject(notConfirmed(pending.route, 'the connection closed before the answer'));
    }
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

  // ---- sending ----

  /**
   * Sends the `kind` request (`frameOf` a fresh request id) on the open connection, and waits for its answer on that
   * connection: `take` turns the confirming answer into the result (or throws BAD_RESPONSE); SEND_ERROR is the
   * route's refusal.
   */
  private async request<K extends SendRequest['kind'], T>(
    kind: K,
    frameOf: (requestId: number) => Extract<SendRequest, { kind: K }>,
    take: (answer: AnswerTo<K>) => T,
  ): Promise<T> {
    const route = routeOf(kind);
    const connection = this.connection;
    if (!connection?.ready || this.closing) throw notConfirmed(route, `the socket is ${this.closing ? 'closing' : this.currentState}`);
    const requestId = this.takeRequestId();
    let frame: Uint8Array;
    try {
      frame = encodeFrame(frameOf(requestId));
    } catch {
      // An envelope too large for a frame: the HTTP route gets the server's own answer to it.
      throw notConfirmed(route, `too large for a ${FRAME_NAME[kind]} frame`);
    }
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.takePendingSend(connection, requestId)) reject(notConfirmed(route, 'no answer in time'));
      }, this.options.sendTimeoutMs ?? 30_000);
      const answer = (received: SendAnswer): void => {
        let result: T;
        try {
          // onMessage checked the answer's kind against `expects` before handing it here.
          result = take(received as AnswerTo<K>);
        } catch (err) {
          reject(err);
          return;
        }
        this.counters.sent++;
        resolve(result);
      };
      this.pendingSends.set(requestId, { connection, route, expects: SEND_ANSWER[kind], timer, answer, reject });
      // Ignored if the socket is already closing: its close then rejects this send.
      connection.socket.send(frame);
    });
  }

  private takeRequestId(): number {
    // Skips ids still waiting (only possible after 2^32 sends with one never answered).
    let requestId = this.nextRequestId;
    while (this.pendingSends.has(requestId)) requestId = (requestId + 1) % REQUEST_ID_LIMIT;
    this.nextRequestId = (requestId + 1) % REQUEST_ID_LIMIT;
    return requestId;
  }

  /** The send waiting for this answer on this connection, no longer waiting. */
  private takePendingSend(connection: Connection, requestId: number): PendingSend | undefined {
    const pending = this.pendingSends.get(requestId);
    if (pending?.connection !== connection) return undefined;
    this.pendingSends.delete(requestId);
    clearTimeout(pending.timer);
    return pending;
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
