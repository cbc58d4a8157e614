/**
 * How bytes reach the server. Everything above this (HttpApi, DeliverySocket, the provisioning socket) talks to a
 * Connector, so the same code runs in browsers (`browserConnector`: fetch and WebSocket of the page) and in Node
 * (`nodeConnector` in node-connector.ts: `ws`, and optionally an HTTP CONNECT or SOCKS5 proxy for everything).
 *
 * A connector only moves bytes: it never interprets status codes or bodies, and its errors are whatever the platform
 * throws (HttpApi turns them into ClientError SERVER_UNREACHABLE).
 */
import { ClientError, ClientErrorCode } from '../errors.js';

export interface FetchInit {
  readonly method: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Uint8Array | string;
  readonly signal?: AbortSignal;
  /**
   * Called with the number of body bytes handed to the network so far, where the connector can observe it. A
   * browser's fetch cannot report upload progress (streamed request bodies need HTTP/2), so browserConnector sends
   * such a request with XMLHttpRequest, whose upload events do.
   */
  readonly onUploadProgress?: (sent: number) => void;
}

/** How a WebSocket ended. Failures to connect end this way too (code 1006), so there is no separate error event. */
export interface WebSocketClose {
  readonly code: number;
  readonly reason: string;
  /** The HTTP status of a refused upgrade, where the connector can see it (Node; a browser only sees 1006). */
  readonly status?: number;
  /** The server's stable error code from a refused upgrade's JSON body (e.g. UNAUTHORIZED), where visible. */
  readonly serverCode?: string;
}

/**
 * The part of a WebSocket the transport uses, with binary messages as Uint8Array (text frames as string). Set the
 * handlers right after openWebSocket returns: the socket does not open before the current task ends.
 */
export interface WebSocketLike {
  /** Sends one binary message; ignored once the socket is closing. */
  send(data: Uint8Array): void;
  /** Starts the closing handshake (code 1000 or 3000–4999); onclose follows. */
  close(code?: number, reason?: string): void;
  onopen: (() => void) | null;
  onmessage: ((data: Uint8Array | string) => void) | null;
  /** Called exactly once, after the socket has closed or failed to open. */
  onclose: ((close: WebSocketClose) => void) | null;
}

export interface Connector {
  /** A WHATWG fetch: resolves with the response (any status), rejects only when no response arrived. */
  fetch(url: string, init: FetchInit): Promise<Response>;
  /** Opens a ws:// or wss:// socket; `headers` are sent on the upgrade only when `canSetWebSocketHeaders`. */
  openWebSocket(url: string, headers?: Readonly<Record<string, string>>): WebSocketLike;
  /** False in browsers: the delivery socket then authenticates with an AUTH frame instead of a header. */
  readonly canSetWebSocketHeaders: boolean;
}

/** A connector on the page's own `fetch` and `WebSocket` (browsers; also Node ≥ 22, which has a global WebSocket). */
export function browserConnector(): Connector {
  if (typeof globalThis.fetch !== 'function' || typeof globalThis.WebSocket !== 'function') {
    throw new ClientError(ClientErrorCode.InvalidArgument, 'this environment has no global fetch and WebSocket: use nodeConnector()');
  }
  return {
    canSetWebSocketHeaders: false,
    fetch(url, init) {
      if (init.onUploadProgress && init.body !== undefined && typeof globalThis.XMLHttpRequest === 'function') {
        return fetchWithUploadProgress(url, init, init.onUploadProgress);
      }
      // Called on globalThis: a detached fetch throws "Illegal invocation" in some browsers.
      return globalThis.fetch(url, {
        method: init.method,
        ...(init.headers ? { headers: { ...init.headers } } : {}),
        // Our buffers are never shared memory, which is all the cast hides (BufferSource wants an ArrayBuffer).
        ...(init.body !== undefined ? { body: init.body as Uint8Array<ArrayBuffer> | string } : {}),
        ...(init.signal ? { signal: init.signal } : {}),
        // The API never redirects; following one could carry credentials and envelopes elsewhere.
        redirect: 'manual',
      });
    },
    openWebSocket(url) {
      return adaptWebSocket(new globalThis.WebSocket(url));
    },
  };
}

/** Statuses whose Response must have no body (Fetch §2.2.3 "null body status"). */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/**
 * A request with upload progress, on XMLHttpRequest, answered as a fetch Response; it fails like fetch (a TypeError
 * when no response arrived, the signal's reason when aborted). XMLHttpRequest follows redirects and cannot be told
 * not to: a response from another URL than the one asked for is refused, as `redirect: 'manual'` would.
 */
function fetchWithUploadProgress(url: string, init: FetchInit, onUploadProgress: (sent: number) => void): Promise<Response> {
  return new Promise((resolve, reject) => {
    const signal = init.signal;
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const xhr = new XMLHttpRequest();
    const abort = () => xhr.abort();
    const settle = (): void => signal?.removeEventListener('abort', abort);
    xhr.open(init.method, url);
    xhr.responseType = 'arraybuffer';
    for (const [name, value] of Object.entries(init.headers ?? {})) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => onUploadProgress(event.loaded);
    xhr.onload = () => {
      settle();
      if (xhr.responseURL !== '' && xhr.responseURL !== new URL(url).href) {
        reject(new TypeError('the server answered with a redirect'));
        return;
      }
      if (xhr.status < 200 || xhr.status > 599) {
        reject(new TypeError(`unexpected HTTP status ${xhr.status}`));
        return;
      }
      const headers = new Headers();
      for (const line of xhr.getAllResponseHeaders().trim().split(/[\r\n]+/)) {
        const colon = line.indexOf(':');
        if (colon > 0) headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
      }
      const body = NULL_BODY_STATUSES.has(xhr.status) ? null : (xhr.response as ArrayBuffer | null);
      resolve(new Response(body, { status: xhr.status, statusText: xhr.statusText, headers }));
    };
    xhr.onerror = () => {
      settle();
      reject(new TypeError('network error'));
    };
    xhr.ontimeout = xhr.onerror;
    xhr.onabort = () => {
      settle();
      reject(signal?.reason ?? new DOMException('The request was aborted.', 'AbortError'));
    };
    signal?.addEventListener('abort', abort, { once: true });
    xhr.send(init.body as Uint8Array<ArrayBuffer> | string);
  });
}

function adaptWebSocket(ws: WebSocket): WebSocketLike {
  ws.binaryType = 'arraybuffer';
  const socket: WebSocketLike = {
    onopen: null,
    onmessage: null,
    onclose: null,
    send(data) {
      if (ws.readyState === WebSocket.OPEN) ws.send(data as Uint8Array<ArrayBuffer>);
    },
    close(code, reason) {
      ws.close(code, reason);
    },
  };
  ws.onopen = () => socket.onopen?.();
  ws.onmessage = (event: MessageEvent) => {
    const { data } = event;
    if (typeof data === 'string') socket.onmessage?.(data);
    else if (data instanceof ArrayBuffer) socket.onmessage?.(new Uint8Array(data));
  };
  ws.onclose = (event: CloseEvent) => socket.onclose?.({ code: event.code, reason: event.reason });
  return socket;
}
