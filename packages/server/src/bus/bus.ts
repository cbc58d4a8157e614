/**
 * The message bus between server nodes. One node alone uses LocalBus (in-process); several nodes behind a load
 * balancer share NATS (bus/nats-bus.ts) so that a send handled by one node wakes the node holding the recipient's
 * WebSocket. Bus messages carry only routing (account id, device id, connection id) or an already end-to-end
 * encrypted provisioning blob, never message content. The one exception stays in-process: LocalBus hands the
 * envelopes a send just stored to this node's connections, so they need not read back what the sender gave us.
 */
import type { QueuedEnvelope } from '../store/repository.js';

export interface DeviceRef {
  readonly accountId: string;
  readonly deviceId: number;
}

/**
 * The envelopes one send stored for one device, in id order, as they are now durably in its queue. Only passed
 * in-process (LocalBus); a bus between nodes wakes with `undefined` and the listener reads the queue instead.
 */
export type StoredEnvelopes = readonly QueuedEnvelope[];

export interface MessageBus {
  /** New envelopes (`stored`, when the caller has them) were stored for the device: wake its connection wherever it is. */
  publishQueued(device: DeviceRef, stored?: StoredEnvelopes): void;
  /** `stored` is what publishQueued was given, or undefined when the bus does not carry envelopes (NATS). */
  onQueued(handler: (device: DeviceRef, stored: StoredEnvelopes | undefined) => void): void;
  /** A device opened a connection `connectionId`: any older connection of it, on any node, must close. */
  publishConnected(device: DeviceRef, connectionId: string): void;
  onConnected(handler: (device: DeviceRef, connectionId: string) => void): void;
  /** A device or account was removed: close its connections. */
  publishRemoved(device: DeviceRef): void;
  onRemoved(handler: (device: DeviceRef) => void): void;
  /** Relay an encrypted provisioning blob to the node that holds the provisioning socket `address`. */
  publishProvisioning(address: string, body: Uint8Array): void;
  onProvisioning(handler: (address: string, body: Uint8Array) => void): void;
  close(): Promise<void>;
}

type Handler<A extends unknown[]> = (...args: A) => void;

/** Single-node bus: handlers run in this process, synchronously after publish returns (on a microtask). */
export class LocalBus implements MessageBus {
  private readonly queued: Handler<[DeviceRef, StoredEnvelopes | undefined]>[] = [];
  private readonly connected: Handler<[DeviceRef, string]>[] = [];
  private readonly removed: Handler<[DeviceRef]>[] = [];
  private readonly provisioning: Handler<[string, Uint8Array]>[] = [];

  private static emit<A extends unknown[]>(handlers: Handler<A>[], args: A): void {
    queueMicrotask(() => {
      for (const h of handlers) h(...args);
    });
  }

  publishQueued(device: DeviceRef, stored?: StoredEnvelopes): void {
    LocalBus.emit(this.queued, [device, stored]);
  }
  onQueued(handler: Handler<[DeviceRef, StoredEnvelopes | undefined]>): void {
    this.queued.push(handler);
  }
  publishConnected(device: DeviceRef, connectionId: string): void {
    LocalBus.emit(this.connected, [device, connectionId]);
  }
  onConnected(handler: Handler<[DeviceRef, string]>): void {
    this.connected.push(handler);
  }
  publishRemoved(device: DeviceRef): void {
    LocalBus.emit(this.removed, [device]);
  }
  onRemoved(handler: Handler<[DeviceRef]>): void {
    this.removed.push(handler);
  }
  publishProvisioning(address: string, body: Uint8Array): void {
    LocalBus.emit(this.provisioning, [address, body]);
  }
  onProvisioning(handler: Handler<[string, Uint8Array]>): void {
    this.provisioning.push(handler);
  }
  async close(): Promise<void> {}
}
