/**
 * The WebSocket endpoints, attached to the HTTP server's 'upgrade' event (docs/api.md "WebSocket"):
 *
 * - `/v1/websocket`: authenticated delivery (delivery-connection.ts). Credentials in the upgrade request's
 *   `Authorization: Basic` header are checked before the upgrade is accepted (401 otherwise); without the header the
 *   socket is accepted and has to send its AUTH frame.
 * - `/v1/provisioning/websocket`: see provisioning.ts.
 *
 * Every upgrade costs a request of the client IP's budget. Here too: the keepalive (a socket that has not answered
 * the previous ping is terminated) and shutdown, which closes every socket with 1001 and waits for the storage work
 * they started. Which connection of a device survives is decided by the registry (connection-registry.ts), fed with
 * the bus's announcements from every node.
 */
import { Socket } from 'node:net';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { CloseCode } from '@samizdat/protocol';
import type { AuthenticatedDevice, ServerContext } from '../context.js';
import type { DeviceWaiters } from '../bus/device-waiters.js';
import { parseBasicAuth } from '../auth.js';
import { ApiError } from '../errors.js';
import { rejectUpgrade as writeRejection, upgradeError } from './handshake.js';
import { ProvisioningSockets } from './provisioning.js';
import { ConnectionRegistry } from './connection-registry.js';
import { DeliveryConnection, MAX_ACK_FRAME_BYTES } from './delivery-connection.js';

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
  const registry = new ConnectionRegistry<DeliveryConnection>();
  /** Storage work not yet finished: close() waits for it so the repository is not closed underneath. */
  const tasks = new Set<Promise<void>>();
  let closing = false;

  const track = (task: Promise<void>): void => {
    tasks.add(task);
    const done = () => void tasks.delete(task);
    task.then(done, done);
  };
  const deps = { ctx, waiters, registry, track, closing: () => closing };

  ctx.bus.onConnected((device, connectionId) => registry.announced(device, connectionId));
  ctx.bus.onRemoved((device) => registry.removed(device));

  const clientIp = (req: IncomingMessage): string => req.socket.remoteAddress ?? 'unknown';

  const rejectUpgrade = (socket: Duplex, error: ApiError, headers?: Record<string, string>): void => {
    ctx.metrics.errors.inc({ code: error.code });
    writeRejection(socket, error, headers);
  };

  const accept = (req: IncomingMessage, socket: Duplex, head: Buffer, device: AuthenticatedDevice | undefined): void => {
    deliveryWss.handleUpgrade(req, socket, head, (ws) => {
      const conn = new DeliveryConnection(ws, clientIp(req), deps);
      registry.add(conn);
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
    for (const conn of registry.sockets) {
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
    const sockets = [...registry.sockets];
    for (const conn of sockets) conn.closeWith(CloseCode.GoingAway, 'going away');
    for (const { ws } of provisioning.sockets) ws.close(CloseCode.GoingAway, 'going away');
    const all = [...sockets.map((c) => ({ ws: c.ws, closed: c.closed })), ...provisioning.sockets];
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
      return registry.authenticatedCount;
    },
  };
}
