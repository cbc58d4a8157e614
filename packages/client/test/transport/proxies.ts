/**
 * Tiny real proxies on node:net for the transport tests: an HTTP CONNECT proxy, a SOCKS5 proxy (RFC 1928, no
 * authentication, CONNECT only) and a plain TCP relay. Each counts the tunnels it opened and can cut them all
 * (a network drop, as the client sees it).
 *
 *   const proxy = await startSocksProxy();
 *   const api = new HttpApi({ connector: nodeConnector({ proxy: proxy.url }), serverUrl, credentials });
 *   await api.me();
 *   expect(proxy.tunnels).toBeGreaterThan(0);
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export interface TestProxy {
  /** http://127.0.0.1:<port>, socks5://127.0.0.1:<port>, or the relay's http:// server URL. */
  readonly url: string;
  readonly port: number;
  /** Tunnels opened to a target so far. */
  readonly tunnels: number;
  /** The targets asked for, as "host:port" (for SOCKS: the name when the client sent a name). */
  readonly targets: readonly string[];
  /** Destroys every open connection (both sides of each tunnel). */
  dropAll(): void;
  close(): Promise<void>;
}

interface ProxyCore {
  readonly server: net.Server;
  readonly sockets: Set<net.Socket>;
  readonly targets: string[];
  tunnels: number;
}

function track(core: ProxyCore, socket: net.Socket): void {
  core.sockets.add(socket);
  socket.on('close', () => core.sockets.delete(socket));
  socket.on('error', () => socket.destroy());
}

/** Pipes `client` and `upstream` both ways and counts the tunnel. */
function splice(core: ProxyCore, client: net.Socket, upstream: net.Socket, rest: Buffer): void {
  core.tunnels++;
  if (rest.length > 0) upstream.write(rest);
  client.pipe(upstream);
  upstream.pipe(client);
  client.on('close', () => upstream.destroy());
  upstream.on('close', () => client.destroy());
}

async function listen(core: ProxyCore, scheme: string): Promise<TestProxy> {
  await new Promise<void>((resolve) => core.server.listen(0, '127.0.0.1', resolve));
  const { port } = core.server.address() as AddressInfo;
  return {
    url: `${scheme}://127.0.0.1:${port}`,
    port,
    get tunnels() {
      return core.tunnels;
    },
    targets: core.targets,
    dropAll() {
      for (const socket of core.sockets) socket.destroy();
    },
    close() {
      for (const socket of core.sockets) socket.destroy();
      return new Promise((resolve) => core.server.close(() => resolve()));
    },
  };
}

/** Reads from `socket` until `parse` returns a result (it returns undefined while it needs more bytes). */
function readUntil<T>(socket: net.Socket, parse: (buffer: Buffer) => T | undefined, onResult: (result: T, buffer: Buffer) => void): void {
  let buffer = Buffer.alloc(0);
  const onData = (chunk: Buffer): void => {
    buffer = Buffer.concat([buffer, chunk]);
    const result = parse(buffer);
    if (result === undefined) {
      if (buffer.length > 16 * 1024) socket.destroy();
      return;
    }
    socket.off('data', onData);
    socket.pause();
    onResult(result, buffer);
  };
  socket.on('data', onData);
}

/** An HTTP CONNECT proxy; with `refuse`, it answers every CONNECT with that status instead. */
export function startHttpConnectProxy(options: { refuse?: number } = {}): Promise<TestProxy> {
  const core: ProxyCore = { server: net.createServer(), sockets: new Set(), targets: [], tunnels: 0 };
  core.server.on('connection', (client) => {
    track(core, client);
    const parseHead = (buffer: Buffer) => {
      const end = buffer.indexOf('\r\n\r\n');
      return end < 0 ? undefined : { line: buffer.subarray(0, end).toString('latin1').split('\r\n')[0] ?? '', end: end + 4 };
    };
    readUntil(client, parseHead, ({ line, end }, buffer) => {
      const match = /^CONNECT (\[[^\]]+\]|[^\s:]+):(\d+) HTTP\/1\.[01]$/.exec(line);
      if (!match) return void client.end('HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n');
      const [host, port] = [(match[1] as string).replace(/^\[|\]$/g, ''), Number(match[2])];
      core.targets.push(`${host}:${port}`);
      if (options.refuse) return void client.end(`HTTP/1.1 ${options.refuse} Refused\r\nContent-Length: 0\r\n\r\n`);
      const upstream = net.connect(port, host);
      track(core, upstream);
      upstream.once('error', () => client.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n'));
      upstream.once('connect', () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        splice(core, client, upstream, buffer.subarray(end));
      });
    });
  });
  return listen(core, 'http');
}

/** A SOCKS5 proxy: no authentication, CONNECT to an IPv4 address, IPv6 address or name. */
export function startSocksProxy(): Promise<TestProxy> {
  const core: ProxyCore = { server: net.createServer(), sockets: new Set(), targets: [], tunnels: 0 };
  core.server.on('connection', (client) => {
    track(core, client);
    // Greeting: VER 5, NMETHODS, METHODS; we pick 0x00 (no authentication).
    const parseGreeting = (b: Buffer) => (b.length >= 2 && b.length >= 2 + (b[1] as number) ? 2 + (b[1] as number) : undefined);
    readUntil(client, parseGreeting, (greetingLength, buffer) => {
      if (buffer[0] !== 5 || !buffer.subarray(2, greetingLength).includes(0)) return void client.end(Buffer.from([5, 0xff]));
      client.write(Buffer.from([5, 0]));
      client.resume();
      readUntil(client, parseRequest, (request) => {
        if (request.command !== 1) return void client.end(Buffer.from([5, 7, 0, 1, 0, 0, 0, 0, 0, 0]));
        core.targets.push(`${request.host}:${request.port}`);
        const upstream = net.connect(request.port, request.host);
        track(core, upstream);
        upstream.once('error', () => client.end(Buffer.from([5, 5, 0, 1, 0, 0, 0, 0, 0, 0])));
        upstream.once('connect', () => {
          client.write(Buffer.from([5, 0, 0, 1, 0, 0, 0, 0, 0, 0]));
          splice(core, client, upstream, Buffer.alloc(0));
        });
      });
    });
  });
  return listen(core, 'socks5');
}

/** VER 5, CMD, RSV, ATYP (1 IPv4, 3 name, 4 IPv6), address, port (big-endian u16). */
function parseRequest(b: Buffer): { command: number; host: string; port: number } | undefined {
  if (b.length < 5) return undefined;
  const type = b[3];
  const addressLength = type === 1 ? 4 : type === 4 ? 16 : (b[4] as number) + 1;
  const end = 4 + addressLength + 2;
  if (b.length < end) return undefined;
  const address = b.subarray(4, 4 + addressLength);
  let host: string;
  if (type === 1) host = [...address].join('.');
  else if (type === 4) host = (address.toString('hex').match(/.{4}/g) ?? []).join(':');
  else host = address.subarray(1).toString('latin1');
  return { command: b[1] as number, host, port: b.readUInt16BE(end - 2) };
}

/**
 * A TCP relay to 127.0.0.1:`targetPort` (changeable with setTarget: a server that comes back); its `url` is
 * http://127.0.0.1:<relay port>, used as the server URL.
 */
export async function startTcpRelay(targetPort: number): Promise<TestProxy & { setTarget(port: number): void }> {
  const core: ProxyCore = { server: net.createServer(), sockets: new Set(), targets: [], tunnels: 0 };
  let target = targetPort;
  core.server.on('connection', (client) => {
    track(core, client);
    client.pause();
    const upstream = net.connect(target, '127.0.0.1');
    track(core, upstream);
    upstream.once('error', () => client.destroy());
    upstream.once('connect', () => splice(core, client, upstream, Buffer.alloc(0)));
  });
  const proxy = await listen(core, 'http');
  return Object.assign(proxy, { setTarget: (port: number) => void (target = port) });
}
