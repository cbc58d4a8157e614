/**
 * What a peer's connections may hold (issue 14): a request must arrive whole within the request timeout, a silent
 * connection is closed after the idle timeout, and one address holds at most maxConnectionsPerIp connections — the
 * extra ones are closed as they arrive, the others keep working. WebSockets are not cut by either timeout.
 * Raw TCP sockets on 127.0.0.1 against a real server with shortened timeouts.
 */
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { METRICS_AUTH, api, expectEventually, registerDevice, sendMessage, startServer } from './helpers/server.js';
import type { StartServerOptions, TestServer } from './helpers/server.js';
import { connectDevice } from './helpers/ws-client.js';

const servers: TestServer[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  for (const server of servers.splice(0)) await server.close();
});

async function start(options: StartServerOptions): Promise<TestServer> {
  const server = await startServer({ logLevel: 'warn', ...options });
  servers.push(server);
  return server;
}

/** A raw TCP connection to `server` that records what it receives and when it closes. */
interface Peer {
  readonly socket: Socket;
  readonly received: () => string;
  readonly closed: Promise<void>;
}

async function open(server: TestServer): Promise<Peer> {
  const { port } = new URL(server.url);
  const socket = connect(Number(port), '127.0.0.1');
  sockets.push(socket);
  let received = '';
  socket.setEncoding('utf8').on('data', (chunk: string) => (received += chunk));
  // A reset (ECONNRESET) is a close too.
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, received: () => received, closed };
}

/** One keep-alive `GET /health` on `peer`; resolves with the status once the whole response is in. */
async function health(peer: Peer): Promise<number> {
  const start = peer.received().length;
  peer.socket.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  for (;;) {
    const text = peer.received().slice(start);
    const head = text.indexOf('\r\n\r\n');
    const length = /\r\ncontent-length: (\d+)/i.exec(text);
    if (head >= 0 && length && text.length >= head + 4 + Number(length[1])) return Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
    const more = new Promise<'data' | 'closed'>((resolve) => {
      peer.socket.once('data', () => resolve('data'));
      void peer.closed.then(() => resolve('closed'));
    });
    if ((await more) === 'closed' && peer.received().length === start + text.length) throw new Error('closed before answering');
  }
}

const STALLED_HEAD = 'POST /v1/accounts HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n{"ide';

describe('request and idle timeouts', () => {
  it('closes a connection that sends its headers and a few body bytes, then stalls', async () => {
    const server = await start({ limits: { idleTimeoutMs: 500 } });
    const peer = await open(server);
    peer.socket.write(STALLED_HEAD);
    await peer.closed;
    // Closed without running the route: nothing was answered with a status the client could mistake for one.
    expect(peer.received()).not.toMatch(/^HTTP\/1\.1 2/);
  }, 15_000);

  it('closes a connection that trickles its body slower than the request timeout allows', async () => {
    const server = await start({ limits: { requestTimeoutMs: 1_000, idleTimeoutMs: 60_000 } });
    const peer = await open(server);
    peer.socket.write(STALLED_HEAD);
    // One byte every 100 ms is never idle, but never finishes either.
    const trickle = setInterval(() => peer.socket.writable && peer.socket.write(' '), 100);
    try {
      await peer.closed;
    } finally {
      clearInterval(trickle);
    }
    expect(peer.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(peer.received()).toContain('"code":"REQUEST_TIMEOUT"');
  }, 15_000);

  it('keeps delivery WebSockets open past both timeouts', async () => {
    const server = await start({ limits: { requestTimeoutMs: 300, idleTimeoutMs: 300 }, websocket: { pingIntervalMs: 60_000 } });
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const socket = await connectDevice(server, bob);
    await socket.nextOf('queue-empty');
    try {
      // Long enough for several idle periods and request-timeout checks to pass over the silent socket.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const [id] = await sendMessage(server, alice, [bob]);
      expect((await socket.nextOf('envelope')).id).toBe(id);
    } finally {
      await socket.close();
    }
  }, 15_000);
});

describe('connections per IP', () => {
  it('closes connections over the limit at once and keeps the others working', async () => {
    const server = await start({ limits: { maxConnectionsPerIp: 3 } });
    const held = [await open(server), await open(server), await open(server)];
    for (const peer of held) expect(await health(peer)).toBe(200);

    const extra = await open(server);
    extra.socket.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await extra.closed;
    expect(extra.received()).toBe('');

    for (const peer of held) expect(await health(peer)).toBe(200);

    // A closed connection frees its place.
    const [first] = held;
    first?.socket.end();
    await first?.closed;
    await expectEventually(async () => {
      const again = await open(server);
      try {
        expect(await health(again)).toBe(200);
      } finally {
        again.socket.destroy();
        await again.closed;
      }
    }, 5_000);
  }, 15_000);

  it('counts refused connections in /metrics', async () => {
    const server = await start({ limits: { maxConnectionsPerIp: 2 } });
    const held = await open(server);
    expect(await health(held)).toBe(200);
    const fetcher = await open(server);
    expect(await health(fetcher)).toBe(200);
    const extra = await open(server);
    await extra.closed;
    fetcher.socket.destroy();
    await fetcher.closed;
    await expectEventually(async () => {
      const res = await api<string>(server, 'GET', '/metrics', { headers: METRICS_AUTH });
      expect(res.body).toMatch(/^samizdat_connections_refused_total [1-9]\d*$/m);
    }, 5_000);
  }, 15_000);
});

describe('authentication before the body', () => {
  it('refuses a large unauthenticated body at once, before reading it, and a wrong login too', async () => {
    const server = await start({});
    const alice = await registerDevice(server);
    for (const auth of ['', `Authorization: Basic ${Buffer.from(`${alice.accountId}.${alice.deviceId}:wrong-secret-000000000000`).toString('base64')}\r\n`]) {
      const peer = await open(server);
      // 28 MiB announced, 5 bytes sent: an answer now means the body was not waited for.
      peer.socket.write(
        `POST /v1/groups/${'ab'.repeat(32)}/commits HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}Content-Type: application/json\r\n` +
          `Content-Length: ${28 * 1024 * 1024}\r\n\r\n{"epo`,
      );
      await expectEventually(async () => expect(peer.received()).toMatch(/^HTTP\/1\.1 401 /), 5_000);
      expect(peer.received()).toContain('"code":"UNAUTHORIZED"');
      peer.socket.destroy();
    }
  }, 15_000);
});
