import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { ClientError, ClientErrorCode } from '../../src/errors.js';
import { HttpApi } from '../../src/transport/http-api.js';
import { nodeConnector } from '../../src/transport/node-connector.js';
import { openProvisioningSocket } from '../../src/transport/provisioning-socket.js';
import { registerDevice, startServer } from '../../../server/test/helpers/server.js';
import type { TestServer } from '../../../server/test/helpers/server.js';
import { closedPort, credentialsOf, rejectionOf } from './helpers.js';

const connector = nodeConnector();
let server: TestServer;
/** Provisioning sockets expire after 300 ms here (only the expiry test uses it: a loaded machine is slower). */
let expiring: TestServer;

beforeAll(async () => {
  [server, expiring] = await Promise.all([startServer({ logLevel: 'warn' }), startServer({ logLevel: 'warn', websocket: { provisioningTtlMs: 300 } })]);
});

afterAll(async () => {
  await Promise.all([server?.close(), expiring?.close()]);
});

describe('openProvisioningSocket', () => {
  it('names an address and receives the message PUT to it', async () => {
    const alice = await registerDevice(server);
    const socket = await openProvisioningSocket(connector, server.url);
    expect(socket.address).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const sealed = new Uint8Array(randomBytes(5000));
    await new HttpApi({ connector, serverUrl: server.url, credentials: credentialsOf(alice) }).putProvisioning(socket.address, sealed);
    expect(Buffer.from(await socket.message).equals(Buffer.from(sealed))).toBe(true);
    socket.close();
  });

  it('fails the message with LINK_FAILED when the socket expires unused (4008)', async () => {
    const socket = await openProvisioningSocket(connector, expiring.url);
    const err = await rejectionOf(socket.message);
    expect(ClientError.is(err, ClientErrorCode.LinkFailed)).toBe(true);
  });

  it('fails the message with CLOSED after close()', async () => {
    const socket = await openProvisioningSocket(connector, server.url);
    socket.close();
    expect(ClientError.is(await rejectionOf(socket.message), ClientErrorCode.Closed)).toBe(true);
  });

  it('fails to open with SERVER_UNREACHABLE when nothing listens', async () => {
    const err = await rejectionOf(openProvisioningSocket(connector, `http://127.0.0.1:${await closedPort()}`));
    expect(ClientError.is(err, ClientErrorCode.ServerUnreachable)).toBe(true);
  });

  it('fails to open with SERVER_ERROR and the server’s code when the upgrade is refused', async () => {
    const strict = await startServer({ logLevel: 'warn', websocket: { maxProvisioningPerIp: 1 } });
    try {
      const first = await openProvisioningSocket(connector, strict.url);
      const err = await rejectionOf(openProvisioningSocket(connector, strict.url));
      expect(ClientError.isServer(err, 'RATE_LIMITED')).toBe(true);
      expect((err as ClientError).server?.status).toBe(429);
      first.close();
    } finally {
      await strict.close();
    }
  });

  it('refuses a malformed server URL', async () => {
    const err = await rejectionOf(openProvisioningSocket(connector, 'not a url'));
    expect(ClientError.is(err, ClientErrorCode.InvalidArgument)).toBe(true);
  });
});
