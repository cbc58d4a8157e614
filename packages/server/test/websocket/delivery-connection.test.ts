/**
 * One delivery connection on its own: a fake socket (an EventEmitter that records what is sent and how it was closed)
 * in place of `ws`, over a real ServerContext with the SQLite store in a temporary directory and LocalBus. The
 * end-to-end behaviour over real sockets is in delivery.test.ts; this covers frame handling cheaply and directly.
 */
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { WebSocket } from 'ws';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CloseCode, WebSocketErrorCode, decodeServerFrame, encodeFrame } from '@samizdat/protocol';
import type { ClientFrame, ServerFrame } from '@samizdat/protocol';
import { LocalBlobStore } from '../../src/blobs/blob-store.js';
import { LocalBus } from '../../src/bus/bus.js';
import { DeviceWaiters } from '../../src/bus/device-waiters.js';
import { DEFAULT_LIMITS } from '../../src/config.js';
import type { Config } from '../../src/config.js';
import { ServerContext } from '../../src/context.js';
import type { AuthenticatedDevice } from '../../src/context.js';
import { Metrics } from '../../src/metrics.js';
import { MAX_DEVICE_ID } from '../../src/schemas.js';
import { SqliteRepository } from '../../src/store/sqlite/sqlite-repository.js';
import { ConnectionRegistry } from '../../src/websocket/connection-registry.js';
import { DeliveryConnection } from '../../src/websocket/delivery-connection.js';
import { account, device, envelope } from '../store/repository.suite.js';

/** What DeliveryConnection uses of a `ws` WebSocket. */
class FakeSocket extends EventEmitter {
  readonly OPEN = 1;
  readyState = 1;
  isPaused = false;
  readonly sent: ServerFrame[] = [];
  closedWith: { code: number; reason: string } | undefined;

  send(data: Uint8Array): void {
    this.sent.push(decodeServerFrame(data));
  }

  close(code: number, reason: string): void {
    this.closedWith ??= { code, reason };
    this.readyState = 2;
    setImmediate(() => {
      this.readyState = 3;
      this.emit('close', code, Buffer.from(reason));
    });
  }

  pause(): void {
    this.isPaused = true;
  }

  resume(): void {
    this.isPaused = false;
  }

  /** A frame from the client, as ws delivers it. */
  receive(frame: ClientFrame | string | Uint8Array): void {
    if (typeof frame === 'string') this.emit('message', Buffer.from(frame), false);
    else if (frame instanceof Uint8Array) this.emit('message', Buffer.from(frame), true);
    else this.emit('message', Buffer.from(encodeFrame(frame)), true);
  }

  kinds(): string[] {
    return this.sent.map((f) => f.kind);
  }
}

let dir: string;
let repo: SqliteRepository;
let ctx: ServerContext;
let registry: ConnectionRegistry<DeliveryConnection>;
let waiters: DeviceWaiters;
let me: AuthenticatedDevice;
/** Storage work the connections handed over (the upgrade handler's `track`), awaited before the store closes. */
let tasks: Promise<void>[];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'samizdat-delivery-'));
  repo = SqliteRepository.open(join(dir, 'store.db'));
  await repo.migrate();
  const bus = new LocalBus();
  const config: Config = {
    port: 0,
    host: '127.0.0.1',
    dataDir: dir,
    databaseUrl: undefined,
    natsUrl: undefined,
    logLevel: 'silent',
    limits: { ...DEFAULT_LIMITS, deliveryWindow: 2 },
    metricsToken: undefined,
    usernameKeyFile: join(dir, 'username.key'),
    trustRootKeyFile: join(dir, 'trust-root.key'),
    dsThreads: 0,
  };
  ctx = new ServerContext(config, repo, await LocalBlobStore.open(dir), bus, new Metrics(), new Uint8Array(32), pino({ level: 'silent' }));
  tasks = [];
  registry = new ConnectionRegistry<DeliveryConnection>();
  waiters = new DeviceWaiters(bus);
  const owner = account();
  await repo.createAccount(owner, device(77));
  me = { accountId: owner.id, deviceId: 1, registrationId: 77 };
});

afterEach(async () => {
  await Promise.allSettled(tasks);
  await repo.close();
  rmSync(dir, { recursive: true, force: true });
});

/** An envelope for my device, live for a day from now. */
function queued(): ReturnType<typeof envelope> {
  return envelope(me.accountId, 1, { receivedAt: Date.now(), expiresAt: Date.now() + 86_400_000 });
}

function open(): { socket: FakeSocket; conn: DeliveryConnection } {
  const socket = new FakeSocket();
  const conn = new DeliveryConnection(socket as unknown as WebSocket, '192.0.2.1', {
    ctx,
    waiters,
    registry,
    track: (task) => void tasks.push(task),
    closing: () => false,
  });
  registry.add(conn);
  return { socket, conn };
}

describe('delivery connection', () => {
  it('closes with 4001 when the first frame is not a binary AUTH frame', () => {
    const { socket, conn } = open();
    conn.awaitAuthFrame(10_000);
    socket.receive('hello');
    expect(socket.closedWith).toEqual({ code: CloseCode.Unauthorized, reason: 'unauthorized' });
    expect(socket.sent).toEqual([]);
  });

  it('closes with 4001 when no AUTH frame comes in time', async () => {
    const { socket, conn } = open();
    conn.awaitAuthFrame(20);
    await vi.waitFor(() => expect(socket.closedWith).toEqual({ code: CloseCode.Unauthorized, reason: 'authentication timeout' }));
  });

  it('answers frames it cannot use with an ERROR frame and stays open', async () => {
    const { socket, conn } = open();
    conn.start(me);
    await vi.waitFor(() => expect(socket.kinds()).toEqual(['ready', 'queue-empty']));
    socket.receive('not binary');
    socket.receive(Uint8Array.of(0xff, 0xff, 0xff));
    socket.receive({ kind: 'auth', login: 'again' });
    expect(socket.sent.slice(2)).toEqual([
      { kind: 'error', code: WebSocketErrorCode.BadFrame },
      { kind: 'error', code: WebSocketErrorCode.BadFrame },
      { kind: 'error', code: WebSocketErrorCode.UnexpectedFrame },
    ]);
    expect(socket.closedWith).toBeUndefined();
  });

  it('sends the queue in id order, never more than the delivery window unacknowledged, then QUEUE_EMPTY', async () => {
    const ids = await repo.enqueue([queued(), queued(), queued()], 100);
    const { socket, conn } = open();
    conn.start(me);
    await vi.waitFor(() => expect(socket.kinds()).toEqual(['ready', 'envelope', 'envelope']));
    const sentIds = () => socket.sent.flatMap((f) => (f.kind === 'envelope' ? [f.id] : []));
    expect(sentIds()).toEqual(ids.slice(0, 2));
    socket.receive({ kind: 'ack', ids: [ids[0] as bigint] });
    await vi.waitFor(() => expect(socket.kinds().slice(3)).toEqual(['envelope', 'queue-empty']));
    expect(sentIds()).toEqual(ids);
    expect(await repo.queueDepth(me.accountId, 1)).toBe(2);
  });

  it('pushes an envelope stored after the queue was read, once', async () => {
    const { socket, conn } = open();
    conn.start(me);
    await vi.waitFor(() => expect(socket.kinds()).toEqual(['ready', 'queue-empty']));
    const [id] = await repo.enqueue([queued()], 100);
    ctx.bus.publishQueued(me);
    await vi.waitFor(() => expect(socket.sent.filter((f) => f.kind === 'envelope').map((f) => (f as { id: bigint }).id)).toEqual([id]));
    ctx.bus.publishQueued(me);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(socket.kinds().filter((k) => k === 'envelope')).toHaveLength(1);
  });

  it('answers an ack of an envelope it does not hold with UNKNOWN_ENVELOPE_ACK', async () => {
    const { socket, conn } = open();
    conn.start(me);
    await vi.waitFor(() => expect(socket.kinds()).toEqual(['ready', 'queue-empty']));
    socket.receive({ kind: 'ack', ids: [424242n] });
    await vi.waitFor(() => expect(socket.sent[2]).toEqual({ kind: 'error', code: WebSocketErrorCode.UnknownEnvelopeAck }));
  });

  it('answers a SEND whose copy names a device id out of range with SEND_ERROR VALIDATION_FAILED, storing nothing', async () => {
    const { socket, conn } = open();
    conn.start(me);
    await vi.waitFor(() => expect(socket.kinds()).toEqual(['ready', 'queue-empty']));
    socket.receive({ kind: 'send', requestId: 9, accountId: me.accountId, copies: [{ deviceId: MAX_DEVICE_ID + 1, registrationId: 1, envelope: new Uint8Array(8) }] });
    expect(socket.sent[2]).toMatchObject({ kind: 'send-error', requestId: 9, code: 'VALIDATION_FAILED' });
    expect(await repo.queueDepth(me.accountId, 1)).toBe(0);
  });

  it('registers itself when authenticated and unregisters when its socket closes', async () => {
    const { socket, conn } = open();
    conn.start(me);
    expect(registry.authenticatedCount).toBe(1);
    expect(conn.connectionId).toMatch(/^[0-9a-f]{28}$/);
    conn.closeWith(CloseCode.GoingAway, 'going away');
    await conn.closed;
    expect(socket.closedWith).toEqual({ code: CloseCode.GoingAway, reason: 'going away' });
    expect(registry.authenticatedCount).toBe(0);
    expect(registry.sockets.size).toBe(0);
  });
});
