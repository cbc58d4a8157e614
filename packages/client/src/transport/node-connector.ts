/**
 * The Node connector: WebSockets over `ws` (which can send the Authorization header on the upgrade), and optionally a
 * proxy for everything — the HTTP API and the WebSockets alike, so that no request leaks around it:
 *
 *   nodeConnector()                                      global fetch, direct WebSockets
 *   nodeConnector({ proxy: 'http://127.0.0.1:3128' })    HTTP CONNECT tunnels (also for plain http:// servers)
 *   nodeConnector({ proxy: 'socks5h://127.0.0.1:9050' }) SOCKS5, names resolved by the proxy (Tor)
 *
 * With a proxy, fetch is implemented over node:http / node:https with the proxy agent (global fetch takes no agent).
 * Node only: the browser entry point never imports this module.
 */
import http from 'node:http';
import type { Agent, IncomingMessage } from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { SocksProxyAgent } from 'socks-proxy-agent';
import { WebSocket } from 'ws';
import type { RawData } from 'ws';
import { MAX_ENVELOPE_FRAME_BYTES } from '@samizdat/protocol';
import { ClientError, ClientErrorCode } from '../errors.js';
import type { Connector, FetchInit, WebSocketLike } from './connector.js';

export interface NodeConnectorOptions {
  /**
   * `http://host:port` (HTTP CONNECT), `socks5://host:port` (names resolved locally) or `socks5h://host:port` (names
   * resolved by the proxy). Credentials in the URL (`user:pass@`) are passed to the proxy.
   */
  readonly proxy?: string;
  /**
   * A WebSocket that has received nothing — no message, no ping — for this long is taken for dead and dropped (a
   * half-open connection after sleep or a NAT timeout would otherwise wait forever). The server pings every 30 s.
   * Default 75 s.
   */
  readonly idleTimeoutMs?: number;
}

/** Bytes written per chunk of a request body (also the granularity of upload progress). */
const UPLOAD_CHUNK_BYTES = 64 * 1024;
/** Any server frame fits: the largest is an ENVELOPE frame. */
const MAX_WEBSOCKET_MESSAGE_BYTES = MAX_ENVELOPE_FRAME_BYTES + 64;
/** How long the WebSocket opening handshake may take (the delivery socket has its own, shorter, READY timeout). */
const HANDSHAKE_TIMEOUT_MS = 30_000;
/** How much of a refused upgrade's body is read for its error code. */
const MAX_REFUSAL_BODY_BYTES = 4096;
const REFUSAL_BODY_TIMEOUT_MS = 5_000;
const DEFAULT_IDLE_TIMEOUT_MS = 75_000;

const PROXY_HELP = 'expected http://host:port, socks5://host:port or socks5h://host:port';

/** A connector for Node; with `proxy`, every request and WebSocket goes through that proxy. */
export function nodeConnector(options: NodeConnectorOptions = {}): Connector {
  const agent = options.proxy === undefined ? undefined : proxyAgent(options.proxy);
  return {
    canSetWebSocketHeaders: true,
    fetch: agent ? (url, init) => fetchThrough(agent, url, init) : globalFetch,
    openWebSocket: (url, headers) => openWebSocket(url, headers, agent, options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS),
  };
}

function proxyAgent(proxy: string): Agent {
  let url: URL;
  try {
    url = new URL(proxy);
  } catch {
    // The URL is not repeated: it may carry proxy credentials.
    throw new ClientError(ClientErrorCode.InvalidArgument, `invalid proxy URL: ${PROXY_HELP}`);
  }
  const socks = url.protocol === 'socks5:' || url.protocol === 'socks5h:';
  const wellFormed =
    (socks || url.protocol === 'http:' || url.protocol === 'https:') &&
    url.hostname !== '' &&
    (url.pathname === '' || url.pathname === '/') &&
    url.search === '' &&
    url.hash === '' &&
    // A SOCKS URL has no default port to fall back on; http:// defaults to 80.
    (!socks || url.port !== '');
  if (!wellFormed) throw new ClientError(ClientErrorCode.InvalidArgument, `invalid proxy URL: ${PROXY_HELP}`);
  return socks ? new SocksProxyAgent(url) : new HttpsProxyAgent(url);
}

// ---- HTTP ----

/** Global fetch; a body with onUploadProgress is streamed so that progress can be observed. */
function globalFetch(url: string, init: FetchInit): Promise<Response> {
  const { body, onUploadProgress } = init;
  const base = {
    method: init.method,
    headers: { ...init.headers },
    ...(init.signal ? { signal: init.signal } : {}),
    // As node:http below: a redirect is answered, not followed (it could carry credentials and envelopes elsewhere).
    redirect: 'manual' as const,
  };
  if (!(body instanceof Uint8Array) || onUploadProgress === undefined) {
    return fetch(url, { ...base, ...(body !== undefined ? { body: body as Uint8Array<ArrayBuffer> | string } : {}) });
  }
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent > 0) onUploadProgress(sent);
      if (sent >= body.length) {
        controller.close();
        return;
      }
      const chunk = body.subarray(sent, sent + UPLOAD_CHUNK_BYTES);
      sent += chunk.length;
      controller.enqueue(chunk);
    },
  });
  // undici sends a stream with the content-length we give (the server refuses oversized attachments up front).
  const headers = { ...base.headers, 'content-length': String(body.length) };
  return fetch(url, { ...base, headers, body: stream, duplex: 'half' } as RequestInit);
}

/** A fetch over node:http(s) through `agent`, answering a WHATWG Response like global fetch does. */
function fetchThrough(agent: Agent, url: string, init: FetchInit): Promise<Response> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const body = typeof init.body === 'string' ? new TextEncoder().encode(init.body) : init.body;
    const headers: Record<string, string> = { ...init.headers };
    if (body !== undefined) headers['content-length'] = String(body.length);
    const send = target.protocol === 'https:' ? https.request : http.request;
    const request = send(target, { method: init.method, headers, agent, ...(init.signal ? { signal: init.signal } : {}) });

    // https-proxy-agent turns a refused CONNECT into a fake response carrying the proxy's status: that is not the
    // server answering, so it must not be read as one.
    request.once('proxyConnect', (connect: { statusCode?: number }) => {
      if (connect.statusCode === 200) return;
      reject(new ClientError(ClientErrorCode.ServerUnreachable, `the proxy refused to connect to the server (HTTP ${connect.statusCode ?? '?'})`));
      request.destroy();
    });
    request.once('error', reject);
    request.once('response', (response: IncomingMessage) => resolve(toResponse(response, init.method)));

    if (body === undefined) {
      request.end();
      return;
    }
    let offset = 0;
    const writeMore = (): void => {
      while (offset < body.length) {
        const chunk = body.subarray(offset, offset + UPLOAD_CHUNK_BYTES);
        offset += chunk.length;
        const written = offset;
        const more = request.write(chunk, () => init.onUploadProgress?.(written));
        if (!more) {
          request.once('drain', writeMore);
          return;
        }
      }
      request.end();
    };
    writeMore();
  });
}

function toResponse(response: IncomingMessage, method: string): Response {
  const status = response.statusCode ?? 0;
  const headers = new Headers();
  for (const [name, value] of Object.entries(response.headers)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) headers.append(name, item);
  }
  // The Response constructor refuses a body with these statuses.
  const noBody = method === 'HEAD' || status === 204 || status === 205 || status === 304;
  if (noBody) response.resume();
  const body = noBody ? null : (Readable.toWeb(response) as ReadableStream<Uint8Array>);
  return new Response(body, { status, statusText: response.statusMessage ?? '', headers });
}

// ---- WebSocket ----

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data));
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function openWebSocket(
  url: string,
  headers: Readonly<Record<string, string>> | undefined,
  agent: Agent | undefined,
  idleTimeoutMs: number,
): WebSocketLike {
  const ws = new WebSocket(url, {
    headers: { ...headers },
    perMessageDeflate: false,
    maxPayload: MAX_WEBSOCKET_MESSAGE_BYTES,
    handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
    ...(agent ? { agent } : {}),
  });
  let refusal: { status: number; serverCode?: string } | undefined;
  const socket: WebSocketLike = {
    onopen: null,
    onmessage: null,
    onclose: null,
    send(data) {
      if (ws.readyState === WebSocket.OPEN) ws.send(data);
    },
    close(code, reason) {
      if (ws.readyState === WebSocket.CLOSED) return;
      ws.close(code, reason);
    },
  };
  let idleTimer: ReturnType<typeof setTimeout> | undefined;
  const alive = (): void => {
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => ws.terminate(), idleTimeoutMs);
    idleTimer.unref();
  };
  ws.on('open', () => {
    alive();
    socket.onopen?.();
  });
  ws.on('ping', alive);
  ws.on('message', (data, isBinary) => {
    alive();
    socket.onmessage?.(isBinary ? toBytes(data) : Buffer.from(toBytes(data)).toString('utf8'));
  });
  // 'close' always follows an error; that is where the caller hears of it.
  ws.on('error', () => undefined);
  // A refused upgrade (401, 429, 503 …): keep its status and error code, then let the socket fail as usual.
  ws.on('unexpected-response', (_request, response) => {
    const status = response.statusCode ?? 0;
    const chunks: Buffer[] = [];
    let length = 0;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      refusal = { status, ...serverCodeOf(Buffer.concat(chunks).toString('utf8')) };
      response.destroy();
      ws.terminate();
    };
    const timer = setTimeout(finish, REFUSAL_BODY_TIMEOUT_MS);
    response.on('data', (chunk: Buffer) => {
      if (length < MAX_REFUSAL_BODY_BYTES) chunks.push(chunk);
      length += chunk.length;
    });
    response.once('end', finish);
    response.once('error', finish);
  });
  ws.on('close', (code, reason) => {
    clearTimeout(idleTimer);
    socket.onclose?.({ code, reason: reason.toString('utf8'), ...(refusal ?? {}) });
  });
  return socket;
}

function serverCodeOf(text: string): { serverCode?: string } {
  try {
    const body = JSON.parse(text) as unknown;
    if (typeof body === 'object' && body !== null && 'code' in body && typeof body.code === 'string' && /^[A-Z][A-Z0-9_]{0,63}$/.test(body.code)) {
      return { serverCode: body.code };
    }
  } catch {
    // Not JSON (a proxy's error page): the status is all there is.
  }
  return {};
}
