/**
 * /v1/provisioning/websocket: the unauthenticated socket a new device opens while it is being linked. The server
 * picks a random address (32 bytes, base64url), sends it as PROVISIONING_ADDRESS, and relays to it the one
 * end-to-end encrypted message that an existing device PUTs to /v1/provisioning/:address (through the bus, so the
 * PUT may land on any node), then closes normally. The address is one-use; an unused socket expires (4008).
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import type { ServerContext } from '../context.js';
import { ApiError } from '../errors.js';
import { CloseCode, WebSocketErrorCode, encodeFrame } from '@samizdat/protocol';
import { rejectUpgrade } from './handshake.js';

export interface ProvisioningOptions {
  readonly ttlMs: number;
  readonly maxPerIp: number;
}

interface ProvisioningSocket {
  readonly ws: WebSocket;
  readonly ip: string;
  readonly closed: Promise<void>;
}

export class ProvisioningSockets {
  private readonly wss = new WebSocketServer({ noServer: true, clientTracking: false, maxPayload: 1024, perMessageDeflate: false });
  private readonly byAddress = new Map<string, ProvisioningSocket>();
  private readonly all = new Set<ProvisioningSocket>();
  private readonly perIp = new Map<string, number>();

  constructor(
    private readonly ctx: ServerContext,
    private readonly options: ProvisioningOptions,
  ) {
    ctx.bus.onProvisioning((address, body) => this.deliver(address, body));
  }

  get size(): number {
    return this.all.size;
  }

  get sockets(): Iterable<{ readonly ws: WebSocket; readonly closed: Promise<void> }> {
    return this.all;
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, ip: string): void {
    if ((this.perIp.get(ip) ?? 0) >= this.options.maxPerIp) {
      this.ctx.metrics.errors.inc({ code: 'RATE_LIMITED' });
      rejectUpgrade(socket, new ApiError('RATE_LIMITED', 'Too many provisioning sockets from this address.'), { 'Retry-After': '60' });
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.open(ws, ip));
  }

  private open(ws: WebSocket, ip: string): void {
    const address = randomBytes(32).toString('base64url');
    let onClosed!: () => void;
    const entry: ProvisioningSocket = { ws, ip, closed: new Promise((resolve) => (onClosed = resolve)) };
    this.byAddress.set(address, entry);
    this.all.add(entry);
    this.perIp.set(ip, (this.perIp.get(ip) ?? 0) + 1);
    const expiry = setTimeout(() => ws.close(CloseCode.ProvisioningExpired, 'expired'), this.options.ttlMs);
    expiry.unref();
    ws.on('error', () => {
      // ws closes the socket after a protocol error; 'close' does the cleanup.
    });
    ws.on('message', () => {
      if (ws.readyState === ws.OPEN) ws.send(encodeFrame({ kind: 'error', code: WebSocketErrorCode.UnexpectedFrame }));
    });
    ws.on('close', () => {
      clearTimeout(expiry);
      if (this.byAddress.get(address) === entry) this.byAddress.delete(address);
      this.all.delete(entry);
      const count = (this.perIp.get(ip) ?? 1) - 1;
      if (count > 0) this.perIp.set(ip, count);
      else this.perIp.delete(ip);
      onClosed();
    });
    ws.send(encodeFrame({ kind: 'provisioning-address', address }));
  }

  private deliver(address: string, body: Uint8Array): void {
    const entry = this.byAddress.get(address);
    if (!entry) return; // not on this node, expired or already used: the message is dropped
    this.byAddress.delete(address);
    let frame: Uint8Array;
    try {
      frame = encodeFrame({ kind: 'provisioning-message', body });
    } catch {
      this.ctx.log.warn('provisioning message too large to relay');
      entry.ws.close(CloseCode.InternalError, 'message not relayed');
      return;
    }
    if (entry.ws.readyState !== entry.ws.OPEN) return;
    entry.ws.send(frame);
    entry.ws.close(CloseCode.Normal, 'delivered');
  }

  close(): void {
    this.wss.close();
  }
}
