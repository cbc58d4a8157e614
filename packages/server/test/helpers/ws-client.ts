/**
 * A WebSocket test client that speaks the binary frames of @samizdat/protocol (src/wire/frames.ts) over a real `ws` connection:
 * every frame received is decoded (strictly) and queued, and tests take them in order with next().
 *
 *   const client = await FrameClient.connect(`${server.wsUrl}/v1/websocket`, { auth: bob });
 *   expect((await client.next()).kind).toBe('ready');
 *   const envelope = await client.nextOf('envelope');
 *   client.send({ kind: 'ack', ids: [envelope.id] });
 */
import { WebSocket } from 'ws';
import type { ClientFrame, ServerFrame } from '@samizdat/protocol';
import { decodeServerFrame, encodeFrame } from '@samizdat/protocol';
import type { Credentialed } from './server.js';
import { basicAuth } from './server.js';

export interface CloseEvent {
  readonly code: number;
  readonly reason: string;
}

type FrameOf<K extends ServerFrame['kind']> = Extract<ServerFrame, { kind: K }>;

export class FrameClient {
  private readonly frames: ServerFrame[] = [];
  private waiter: (() => void) | undefined;
  /** Resolves when the socket has closed, with the code and reason the server sent. */
  readonly closed: Promise<CloseEvent>;
  private closeEvent: CloseEvent | undefined;
  /** Frames that failed to decode (the server must never send one). */
  readonly undecodable: Error[] = [];

  private constructor(readonly ws: WebSocket) {
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeEvent = { code, reason: reason.toString() };
        resolve(this.closeEvent);
        this.waiter?.();
      });
    });
    ws.on('message', (data, isBinary) => {
      if (!isBinary) {
        this.undecodable.push(new Error('text frame'));
        return;
      }
      try {
        this.frames.push(decodeServerFrame(new Uint8Array(data as Buffer)));
      } catch (err) {
        this.undecodable.push(err as Error);
      }
      this.waiter?.();
    });
    ws.on('error', () => {
      // 'close' follows; tests look at the close event.
    });
  }

  /**
   * Opens a socket; `auth` puts the device's credentials in the Authorization header of the upgrade request;
   * `autoPong: false` makes a client that ignores pings (a dead peer, as the keepalive sees it).
   */
  static connect(
    url: string,
    options: { auth?: Credentialed; headers?: Record<string, string>; autoPong?: boolean } = {},
  ): Promise<FrameClient> {
    const headers = { ...options.headers, ...(options.auth ? { authorization: basicAuth(options.auth) } : {}) };
    const ws = new WebSocket(url, { headers, perMessageDeflate: false, autoPong: options.autoPong ?? true });
    const client = new FrameClient(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(client));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused with ${res.statusCode}`)));
      ws.once('error', reject);
    });
  }

  /** The close event, waiting up to `timeoutMs` (fails the test instead of hanging it when the server never closes). */
  async waitClosed(timeoutMs = 5000): Promise<CloseEvent> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`socket still open after ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([this.closed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The next frame, waiting up to `timeoutMs`; fails if the socket closes first. */
  async next(timeoutMs = 5000): Promise<ServerFrame> {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length === 0) {
      if (this.closeEvent) throw new Error(`socket closed (${this.closeEvent.code} ${this.closeEvent.reason}) while waiting for a frame`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no frame within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = undefined;
    }
    return this.frames.shift() as ServerFrame;
  }

  /** The next frame, which must be of `kind`. */
  async nextOf<K extends ServerFrame['kind']>(kind: K, timeoutMs = 5000): Promise<FrameOf<K>> {
    const frame = await this.next(timeoutMs);
    if (frame.kind !== kind) throw new Error(`expected a ${kind} frame, got ${describe(frame)}`);
    return frame as FrameOf<K>;
  }

  /** The next `count` frames, each of `kind`. */
  async take<K extends ServerFrame['kind']>(kind: K, count: number, timeoutMs = 5000): Promise<FrameOf<K>[]> {
    const out: FrameOf<K>[] = [];
    for (let i = 0; i < count; i++) out.push(await this.nextOf(kind, timeoutMs));
    return out;
  }

  /** Every frame that arrives within `ms` (a test for "nothing more is sent"). */
  async quiet(ms = 300): Promise<ServerFrame[]> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return this.frames.splice(0);
  }

  send(frame: ClientFrame): void {
    this.ws.send(encodeFrame(frame));
  }

  ack(ids: readonly bigint[]): void {
    this.send({ kind: 'ack', ids });
  }

  /** Sends bytes as a binary frame, or a string as a text frame, without encoding. */
  sendRaw(data: Uint8Array | string): void {
    this.ws.send(data, { binary: typeof data !== 'string' });
  }

  close(code = 1000): Promise<CloseEvent> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(code);
    return this.closed;
  }
}

function describe(frame: ServerFrame): string {
  return frame.kind === 'error' ? `error ${frame.code}` : frame.kind;
}

/** Opens a delivery socket authenticated by header and waits for READY. */
export async function connectDevice(server: { wsUrl: string }, device: Credentialed): Promise<FrameClient> {
  const client = await FrameClient.connect(`${server.wsUrl}/v1/websocket`, { auth: device });
  await client.nextOf('ready');
  return client;
}

/** Attempts an upgrade that the server is expected to refuse; resolves with the HTTP status and JSON body. */
export function refusedUpgrade(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => {
      ws.terminate();
      reject(new Error('the upgrade was accepted'));
    });
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? (JSON.parse(text) as unknown) : undefined }));
      res.on('error', reject);
    });
    ws.on('error', reject);
  });
}
