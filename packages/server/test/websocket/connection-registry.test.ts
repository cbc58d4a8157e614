/**
 * The connection registry on its own: which of a device's connections survives, on this node and against the
 * announcements of others, with connections that only record how they were closed.
 */
import { describe, expect, it } from 'vitest';
import { CloseCode } from '@samizdat/protocol';
import { ConnectionRegistry, supersedes } from '../../src/websocket/connection-registry.js';

class FakeConnection {
  connectionId = '';
  readonly closes: { code: number; reason: string }[] = [];
  closeWith(code: number, reason: string): void {
    this.closes.push({ code, reason });
  }
}

const alice = { accountId: 'a'.repeat(32), deviceId: 1 };
const alicePhone = { accountId: 'a'.repeat(32), deviceId: 2 };

/** A connection accepted and authenticated as `device`, as DeliveryConnection.start does it. */
function connect(registry: ConnectionRegistry<FakeConnection>, device: typeof alice): FakeConnection {
  const conn = new FakeConnection();
  registry.add(conn);
  conn.connectionId = registry.newConnectionId();
  registry.register(device, conn);
  registry.replaceOlder(device, conn.connectionId);
  return conn;
}

describe('connection registry', () => {
  it("closes a device's connection with 4002 when a second connection of the same device authenticates", () => {
    const registry = new ConnectionRegistry<FakeConnection>();
    const first = connect(registry, alice);
    const other = connect(registry, alicePhone);
    const second = connect(registry, alice);
    expect(first.closes).toEqual([{ code: CloseCode.Replaced, reason: 'replaced' }]);
    expect(second.closes).toEqual([]);
    expect(other.closes).toEqual([]);
    // The first one counts until its socket has actually closed.
    expect(registry.authenticatedCount).toBe(3);
    expect(registry.remove(first, alice)).toBe(true);
    expect(registry.authenticatedCount).toBe(2);
    expect(registry.sockets.has(first)).toBe(false);
  });

  it('keeps the newer connection when an older one of another node is announced, and yields to a newer one', () => {
    let now = 1_000_000;
    const registry = new ConnectionRegistry<FakeConnection>(() => now);
    const here = connect(registry, alice);
    const older = (1_000_000 - 5).toString(16).padStart(12, '0') + '0'.repeat(16);
    registry.announced(alice, older);
    expect(here.closes).toEqual([]);
    // Its own announcement, coming back over the bus, closes nothing either.
    registry.announced(alice, here.connectionId);
    expect(here.closes).toEqual([]);
    const newer = (1_000_000 + 5).toString(16).padStart(12, '0') + 'f'.repeat(16);
    registry.announced(alice, newer);
    expect(here.closes).toEqual([{ code: CloseCode.Replaced, reason: 'replaced' }]);
    // The clock moved past the announced id: a connection made here now is newer still, even with a clock behind.
    now = 0;
    expect(supersedes(registry.newConnectionId(), newer)).toBe(true);
  });

  it('hands out ids in increasing order even when the wall clock stands still or goes back', () => {
    let now = 5_000;
    const registry = new ConnectionRegistry(() => now);
    const ids = [registry.newConnectionId(), registry.newConnectionId()];
    now = 4_000;
    ids.push(registry.newConnectionId());
    expect(ids.every((id) => /^[0-9a-f]{28}$/.test(id))).toBe(true);
    expect(supersedes(ids[1] as string, ids[0] as string)).toBe(true);
    expect(supersedes(ids[2] as string, ids[1] as string)).toBe(true);
  });

  it('lets any other id replace one it cannot compare (not of this format)', () => {
    expect(supersedes('legacy-id', '0'.repeat(28))).toBe(true);
    expect(supersedes('legacy-id', 'legacy-id')).toBe(false);
  });

  it("closes every connection of a removed device with 4003, and only that device's", () => {
    const registry = new ConnectionRegistry<FakeConnection>();
    const laptop = connect(registry, alice);
    const phone = connect(registry, alicePhone);
    registry.removed(alice);
    expect(laptop.closes).toEqual([{ code: CloseCode.DeviceRemoved, reason: 'device removed' }]);
    expect(phone.closes).toEqual([]);
  });

  it('counts a socket that closes before it authenticated as no connection', () => {
    const registry = new ConnectionRegistry<FakeConnection>();
    const conn = new FakeConnection();
    registry.add(conn);
    expect(registry.sockets.size).toBe(1);
    expect(registry.remove(conn, undefined)).toBe(false);
    expect(registry.sockets.size).toBe(0);
    expect(registry.authenticatedCount).toBe(0);
  });
});
