/**
 * The delivery sockets of this node, and which authenticated connection each device has.
 *
 * One connection per device: a new one announces itself on the bus and every older one, on any node, closes with
 * 4002. "Older" is decided by the connection id, which starts with a Lamport timestamp (wall clock, but never below
 * an id this node has seen), so two nodes that see the announcements in different orders still agree on which
 * connection survives. The registry only decides and closes; the upgrade handler (upgrade-handler.ts) feeds it the
 * bus's announcements and removals.
 */
import { randomBytes } from 'node:crypto';
import { CloseCode } from '@samizdat/protocol';
import type { DeviceRef } from '../bus/bus.js';

/** What the registry needs of a connection. */
export interface RegisteredConnection {
  /** Set when the connection authenticated (newConnectionId); empty before. */
  readonly connectionId: string;
  /** Closes the socket with a WebSocket close code (once; later calls do nothing). */
  closeWith(code: number, reason: string): void;
}

/** `<12 hex ms Lamport time><16 hex random>`: fixed width, so string order is time order. */
const CONNECTION_ID = /^[0-9a-f]{28}$/;

const deviceKey = (d: DeviceRef) => `${d.accountId}.${d.deviceId}`;

/** True when `announced` should replace `existing`: it is newer (or either id is not ours to compare). */
export function supersedes(announced: string, existing: string): boolean {
  if (!CONNECTION_ID.test(announced) || !CONNECTION_ID.test(existing)) return announced !== existing;
  return announced > existing;
}

export class ConnectionRegistry<C extends RegisteredConnection = RegisteredConnection> {
  /** Every delivery socket, authenticated or not. */
  private readonly all = new Set<C>();
  /** Authenticated connections by device (normally one; two only until the older one has closed). */
  private readonly byDevice = new Map<string, Set<C>>();
  private authenticated = 0;
  private clock = 0;

  /** `now`: the wall clock the Lamport timestamps start from. */
  constructor(private readonly now: () => number = Date.now) {}

  /** Every delivery socket of this node (for the keepalive and shutdown). */
  get sockets(): ReadonlySet<C> {
    return this.all;
  }

  /** Authenticated connections open on this node. */
  get authenticatedCount(): number {
    return this.authenticated;
  }

  /** A socket was accepted (not yet authenticated). */
  add(conn: C): void {
    this.all.add(conn);
  }

  /** An id newer than every one this node has handed out or seen announced. */
  newConnectionId(): string {
    this.clock = Math.max(this.now(), this.clock + 1);
    return this.clock.toString(16).padStart(12, '0') + randomBytes(8).toString('hex');
  }

  /**
   * `conn` authenticated as `device`. Its older connections are not closed yet: the caller does that with
   * replaceOlder once the new one is ready.
   */
  register(device: DeviceRef, conn: C): void {
    const key = deviceKey(device);
    let set = this.byDevice.get(key);
    if (!set) this.byDevice.set(key, (set = new Set()));
    set.add(conn);
    this.authenticated++;
  }

  /** `conn` closed; true when it was registered for `device` (so the count went down). */
  remove(conn: C, device: DeviceRef | undefined): boolean {
    this.all.delete(conn);
    if (!device) return false;
    const key = deviceKey(device);
    const set = this.byDevice.get(key);
    if (!set?.delete(conn)) return false;
    if (set.size === 0) this.byDevice.delete(key);
    this.authenticated--;
    return true;
  }

  /** Closes (4002) this node's connections of `device` that `connectionId` supersedes. */
  replaceOlder(device: DeviceRef, connectionId: string): void {
    for (const conn of this.byDevice.get(deviceKey(device)) ?? []) {
      if (conn.connectionId !== connectionId && supersedes(connectionId, conn.connectionId)) {
        conn.closeWith(CloseCode.Replaced, 'replaced');
      }
    }
  }

  /** A connection of `device` opened on some node (this one included): the clock moves past it, older ones close. */
  announced(device: DeviceRef, connectionId: string): void {
    if (CONNECTION_ID.test(connectionId)) this.clock = Math.max(this.clock, parseInt(connectionId.slice(0, 12), 16));
    this.replaceOlder(device, connectionId);
  }

  /** Closes every connection of `device` on this node (4003: the device was removed). */
  removed(device: DeviceRef): void {
    for (const conn of this.byDevice.get(deviceKey(device)) ?? []) conn.closeWith(CloseCode.DeviceRemoved, 'device removed');
  }
}
