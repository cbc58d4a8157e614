import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import fc from 'fast-check';
import { ClientError, ClientErrorCode } from '../../src/errors.js';
import { fromBase64, toBase64 } from '../../src/transport/base64.js';
import { browserConnector } from '../../src/transport/connector.js';
import { DeliverySocket } from '../../src/transport/delivery-socket.js';
import { HttpApi } from '../../src/transport/http-api.js';
import { registerDevice, sendMessage, startServer } from '../../../server/test/helpers/server.js';
import type { TestServer } from '../../../server/test/helpers/server.js';
import { credentialsOf, eventually } from './helpers.js';

let server: TestServer;

beforeAll(async () => {
  server = await startServer({ logLevel: 'warn' });
});

afterEach(() => {
  vi.unstubAllGlobals();
});

afterAll(async () => {
  await server.close();
});

describe('browserConnector', () => {
  // `ws` implements the browser WebSocket interface (binaryType, onopen/onmessage/onclose with event objects), so
  // with it as the global WebSocket the browser code path runs for real in Node 20, which has no WebSocket of its own.
  it('runs the HTTP API and the delivery socket (AUTH frame) on the global fetch and WebSocket', async () => {
    vi.stubGlobal('WebSocket', WebSocket);
    const connector = browserConnector();
    expect(connector.canSetWebSocketHeaders).toBe(false);
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const api = new HttpApi({ connector, serverUrl: server.url, credentials: credentialsOf(bob) });
    expect((await api.me()).accountId).toBe(bob.accountId);

    const [queued] = await sendMessage(server, alice, [bob]);
    const received: bigint[] = [];
    const socket = new DeliverySocket({
      connector,
      serverUrl: server.url,
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
    expect(socket.state).toBe('closed');
  });

  it('refuses to start where there is no global WebSocket', () => {
    vi.stubGlobal('WebSocket', undefined);
    let err: unknown;
    try {
      browserConnector();
    } catch (e) {
      err = e;
    }
    expect(ClientError.is(err, ClientErrorCode.InvalidArgument)).toBe(true);
  });
});

describe('base64', () => {
  it('round-trips and matches Buffer, standard and URL-safe', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const text = toBase64(bytes);
        expect(text).toBe(Buffer.from(bytes).toString('base64'));
        expect(fromBase64(text)).toEqual(bytes);
        expect(fromBase64(Buffer.from(bytes).toString('base64url'))).toEqual(bytes);
      }),
    );
  });

  it('refuses what is not canonical base64', () => {
    for (const text of ['A', 'AB=', 'AB==A', 'A B=', 'AB=C', 'AB===', '+/-_', 'AR==', '\u00e9AAA']) {
      expect({ text, bytes: fromBase64(text) }).toEqual({ text, bytes: undefined });
    }
  });
});
