/**
 * Helpers of the transport tests: credentials and new-device keys from real @samizdat/protocol keys, a port nobody
 * listens on, a tiny HTTP server that answers whatever a test wants (the server is untrusted input too), and polling.
 */
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import {
  encodeIdentityKey,
  generateIdentityKeyPair,
  generateKyberPreKey,
  generateOneTimePreKeys,
  generateSignedPreKey,
} from '@samizdat/protocol';
import type { IdentityKeyPair } from '@samizdat/protocol';
import { NodeCryptoProvider } from '@samizdat/protocol/node';
import type { Credentials } from '../../src/transport/endpoint.js';
import type { NewDevice } from '../../src/transport/http-api.js';

export const crypto = new NodeCryptoProvider();

export function credentialsOf(device: Credentials): Credentials {
  return { accountId: device.accountId, deviceId: device.deviceId, password: device.password };
}

/** A new device's upload with real keys signed by `identity`. */
export async function newDevice(identity: IdentityKeyPair, options: { oneTime?: number; kyber?: number } = {}): Promise<NewDevice> {
  const now = Date.now();
  return {
    registrationId: 1 + (randomBytes(4).readUInt32BE(0) % 0x7ffffffe),
    password: randomBytes(24).toString('base64url'),
    signedPreKey: await generateSignedPreKey(crypto, identity, 7, now),
    kyberLastResortPreKey: await generateKyberPreKey(crypto, identity, 8, true, now),
    oneTimePreKeys: await generateOneTimePreKeys(crypto, 100, options.oneTime ?? 2),
    kyberPreKeys: await Promise.all(Array.from({ length: options.kyber ?? 1 }, (_, i) => generateKyberPreKey(crypto, identity, 200 + i, false, now))),
  };
}

/** A fresh identity and its encoded public key. */
export async function newIdentity(): Promise<{ identity: IdentityKeyPair; identityKey: Uint8Array }> {
  const identity = await generateIdentityKeyPair(crypto);
  return { identity, identityKey: encodeIdentityKey(identity.publicKey) };
}

/** A TCP port on 127.0.0.1 that nothing listens on (it was free a moment ago). */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface FakeServer {
  readonly url: string;
  close(): Promise<void>;
}

/** A node:http server answering every request with `handler` (which may also never answer). */
export async function fakeServer(handler: (request: http.IncomingMessage, response: http.ServerResponse) => void): Promise<FakeServer> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** A fake server answering every request with this status and JSON (or text) body. */
export function answering(status: number, body: unknown, headers: Record<string, string> = {}): Promise<FakeServer> {
  return fakeServer((_request, response) => {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    const type = typeof body === 'string' ? 'text/html' : 'application/json';
    response.writeHead(status, { 'content-type': type, ...headers }).end(text);
  });
}

/** Retries `check` until it stops throwing, up to `timeoutMs`. */
export async function eventually(check: () => void | Promise<void>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(20);
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The error a promise rejects with (fails the test if it resolves). */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}
