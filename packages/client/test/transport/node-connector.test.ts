import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { encodeFrame } from '@samizdat/protocol';
import { ClientError, ClientErrorCode } from '../../src/errors.js';
import { DeliverySocket } from '../../src/transport/delivery-socket.js';
import type { DeliveryState } from '../../src/transport/delivery-socket.js';
import { HttpApi } from '../../src/transport/http-api.js';
import { nodeConnector } from '../../src/transport/node-connector.js';
import { openProvisioningSocket } from '../../src/transport/provisioning-socket.js';
import { registerDevice, sendMessage, startServer } from '../../../server/test/helpers/server.js';
import type { TestDevice, TestServer } from '../../../server/test/helpers/server.js';
import { closedPort, credentialsOf, eventually, rejectionOf, sleep } from './helpers.js';
import { startHttpConnectProxy, startSocksProxy } from './proxies.js';
import type { TestProxy } from './proxies.js';

let server: TestServer;

beforeAll(async () => {
  server = await startServer({ logLevel: 'warn' });
});

afterAll(async () => {
  await server.close();
});

/** Everything the client does over one connector: HTTP calls, an upload, the delivery socket, provisioning. */
async function exercise(proxyUrl: string, serverUrl = server.url): Promise<void> {
  const connector = nodeConnector({ proxy: proxyUrl });
  const alice = await registerDevice(server);
  const bob = await registerDevice(server);
  const api = new HttpApi({ connector, serverUrl, credentials: credentialsOf(bob) });
  expect((await api.me()).accountId).toBe(bob.accountId);
  expect(await api.lookupUsername('nobody_here')).toBeUndefined();

  const data = new Uint8Array(randomBytes(300_000));
  const progress: number[] = [];
  const { id } = await api.uploadAttachment(data, (sent) => progress.push(sent));
  expect(progress.at(-1)).toBe(data.length);
  expect(progress.length).toBeGreaterThan(2);
  expect(Buffer.from(await api.downloadAttachment(id)).equals(Buffer.from(data))).toBe(true);

  const [queued] = await sendMessage(server, alice, [bob]);
  const received: bigint[] = [];
  const socket = new DeliverySocket({
    connector,
    serverUrl,
    credentials: credentialsOf(bob),
    onEnvelope: (envelope) => {
      received.push(envelope.id);
      socket.ack(envelope.id);
    },
  });
  socket.start();
  try {
    await socket.whenQueueEmpty();
    const [live] = await sendMessage(server, alice, [bob]);
    await eventually(() => expect(received).toEqual([queued, live]));
  } finally {
    await socket.close();
  }

  const provisioning = await openProvisioningSocket(connector, serverUrl);
  await new HttpApi({ connector, serverUrl, credentials: credentialsOf(alice) }).putProvisioning(provisioning.address, Uint8Array.of(42));
  expect([...(await provisioning.message)]).toEqual([42]);
}

describe('nodeConnector through an HTTP CONNECT proxy', () => {
  let proxy: TestProxy;
  beforeAll(async () => (proxy = await startHttpConnectProxy()));
  afterAll(() => proxy.close());

  it('sends HTTP requests and WebSockets through the proxy', async () => {
    await exercise(proxy.url);
    // me, lookup, upload, download, the delivery socket, the provisioning socket, the PUT: each a tunnel.
    expect(proxy.tunnels).toBeGreaterThanOrEqual(7);
    const port = new URL(server.url).port;
    expect(new Set(proxy.targets)).toEqual(new Set([`127.0.0.1:${port}`]));
  });
});

describe('nodeConnector through a SOCKS5 proxy', () => {
  let proxy: TestProxy;
  beforeAll(async () => (proxy = await startSocksProxy()));
  afterAll(() => proxy.close());

  it('sends HTTP requests and WebSockets through the proxy', async () => {
    const before = proxy.tunnels;
    await exercise(proxy.url);
    expect(proxy.tunnels - before).toBeGreaterThanOrEqual(7);
  });

  it('lets the proxy resolve names with socks5h://', async () => {
    const before = proxy.targets.length;
    const port = new URL(server.url).port;
    const bob = await registerDevice(server);
    const api = new HttpApi({ connector: nodeConnector({ proxy: proxy.url.replace('socks5:', 'socks5h:') }), serverUrl: `http://localhost:${port}`, credentials: credentialsOf(bob) });
    expect((await api.me()).deviceId).toBe(1);
    expect(proxy.targets.slice(before)).toEqual([`localhost:${port}`]);
  });
});

describe('nodeConnector failures', () => {
  let bob: TestDevice;
  beforeAll(async () => (bob = await registerDevice(server)));

  it('maps a dead proxy to SERVER_UNREACHABLE, for HTTP and for the delivery socket', async () => {
    for (const scheme of ['http', 'socks5', 'socks5h']) {
      const connector = nodeConnector({ proxy: `${scheme}://127.0.0.1:${await closedPort()}` });
      const err = await rejectionOf(new HttpApi({ connector, serverUrl: server.url, credentials: credentialsOf(bob) }).me());
      expect({ scheme, code: (err as ClientError).code }).toEqual({ scheme, code: ClientErrorCode.ServerUnreachable });

      const states: DeliveryState[] = [];
      const socket = new DeliverySocket({
        connector,
        serverUrl: server.url,
        credentials: credentialsOf(bob),
        onEnvelope: () => undefined,
        onState: (state) => states.push(state),
        reconnect: { initialDelayMs: 1000 },
      });
      socket.start();
      await eventually(() => expect(states).toEqual(['connecting', 'backoff']));
      await socket.close();
    }
    const provisioning = await rejectionOf(openProvisioningSocket(nodeConnector({ proxy: `http://127.0.0.1:${await closedPort()}` }), server.url));
    expect(ClientError.is(provisioning, ClientErrorCode.ServerUnreachable)).toBe(true);
  });

  it('maps a proxy that refuses the tunnel to SERVER_UNREACHABLE, not to a server answer', async () => {
    const refusing = await startHttpConnectProxy({ refuse: 403 });
    try {
      const api = new HttpApi({ connector: nodeConnector({ proxy: refusing.url }), serverUrl: server.url, credentials: credentialsOf(bob) });
      const err = await rejectionOf(api.me());
      expect(ClientError.is(err, ClientErrorCode.ServerUnreachable)).toBe(true);
      expect((err as Error).message).toContain('403');
      expect(refusing.tunnels).toBe(0);
    } finally {
      await refusing.close();
    }
  });

  it('refuses a malformed proxy URL with INVALID_ARGUMENT, without repeating it', () => {
    for (const proxy of ['', 'not a url', 'ftp://127.0.0.1:21', 'socks5://127.0.0.1', 'socks4://127.0.0.1:1080', 'http://127.0.0.1:3128/path', 'http://user:hunter22@:1']) {
      let err: unknown;
      try {
        nodeConnector({ proxy });
      } catch (e) {
        err = e;
      }
      expect({ proxy, code: (err as ClientError | undefined)?.code }).toEqual({ proxy, code: ClientErrorCode.InvalidArgument });
      expect((err as Error).message).not.toContain('hunter22');
      expect((err as Error).message).toContain('socks5h://host:port');
    }
  });
});

describe('nodeConnector idle timeout', () => {
  it('drops a WebSocket on which nothing arrives, not even pings, and reconnects', async () => {
    const silent = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((resolve) => silent.once('listening', resolve));
    silent.on('connection', (ws) => ws.send(encodeFrame({ kind: 'ready' })));
    try {
      const bob = await registerDevice(server);
      const socket = new DeliverySocket({
        connector: nodeConnector({ idleTimeoutMs: 150 }),
        serverUrl: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`,
        credentials: credentialsOf(bob),
        onEnvelope: () => undefined,
        reconnect: { initialDelayMs: 20 },
      });
      socket.start();
      try {
        await eventually(() => expect(socket.stats.connections).toBeGreaterThanOrEqual(2));
      } finally {
        await socket.close();
      }
    } finally {
      for (const client of silent.clients) client.terminate();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('keeps a WebSocket the server pings', async () => {
    const pinging = await startServer({ logLevel: 'warn', websocket: { pingIntervalMs: 50 } });
    try {
      const bob = await registerDevice(pinging);
      const socket = new DeliverySocket({
        connector: nodeConnector({ idleTimeoutMs: 200 }),
        serverUrl: pinging.url,
        credentials: credentialsOf(bob),
        onEnvelope: () => undefined,
      });
      socket.start();
      await socket.whenQueueEmpty();
      await sleep(600);
      expect(socket.state).toBe('open');
      expect(socket.stats.connections).toBe(1);
      await socket.close();
    } finally {
      await pinging.close();
    }
  });
});
