/**
 * The multi-node bus on NATS core pub/sub. It only wakes: every envelope is already durable in the database when
 * its wake-up is published, so a lost NATS message delays a push until the device's next wake-up or reconnect but
 * loses nothing, and JetStream is not needed.
 *
 * Every node subscribes to every subject, its own publishes included (NATS echoes them back), so one code path
 * serves local and remote handlers alike and a node behaves the same alone or in a cluster. Subjects, under a
 * configurable prefix (default "samizdat"; separate deployments on one NATS use separate prefixes):
 *
 *   <prefix>.queued                 u8 version, 16 bytes account id, varint device id
 *   <prefix>.connected              u8 version, 16 bytes account id, varint device id, bytes utf8 connection id
 *   <prefix>.removed                u8 version, 16 bytes account id, varint device id
 *   <prefix>.provisioning.<address> the end-to-end encrypted provisioning message as is
 *
 * A payload that does not decode (another version, corruption) is dropped and reported to `onError`; so is an
 * exception thrown by a handler, which never stops the other handlers or the subscription.
 */
import { connect } from 'nats';
import type { Msg, NatsConnection, NatsError } from 'nats';
import { BinaryReader, BinaryWriter, fromHex, isAccountId, toHex } from '@samizdat/protocol';
import type { DeviceRef, MessageBus, StoredEnvelopes } from './bus.js';

const PAYLOAD_VERSION = 1;
const PROVISIONING_ADDRESS = /^[A-Za-z0-9_-]{43}$/;
const SUBJECT_PREFIX = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
const MAX_CONNECTION_ID_BYTES = 64;
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

export interface NatsBusOptions {
  /** First subject tokens; default "samizdat". */
  readonly subjectPrefix?: string;
  /** Connection name shown by the NATS server's monitoring. */
  readonly name?: string;
  /** Called with dropped payloads' decoding errors and handler exceptions (never with payload bytes). */
  readonly onError?: (err: Error, context: string) => void;
}

type Handler<A extends unknown[]> = (...args: A) => void;

function encodeDevice(device: DeviceRef): BinaryWriter {
  if (!isAccountId(device.accountId)) throw new TypeError('account id must be 32 lowercase hex characters');
  return new BinaryWriter(32).u8(PAYLOAD_VERSION).fixed(fromHex(device.accountId)).varint(device.deviceId);
}

function decodeDevice(reader: BinaryReader): DeviceRef {
  if (reader.u8('bus payload version') !== PAYLOAD_VERSION) throw new Error('unknown bus payload version');
  const accountId = toHex(reader.fixed(16, 'account id'));
  const deviceId = reader.varint('device id');
  return { accountId, deviceId };
}

export class NatsBus implements MessageBus {
  private readonly queued: Handler<[DeviceRef, StoredEnvelopes | undefined]>[] = [];
  private readonly connected: Handler<[DeviceRef, string]>[] = [];
  private readonly removed: Handler<[DeviceRef]>[] = [];
  private readonly provisioning: Handler<[string, Uint8Array]>[] = [];
  private readonly subjects: { queued: string; connected: string; removed: string; provisioning: string };
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly nc: NatsConnection,
    prefix: string,
    private readonly onError: (err: Error, context: string) => void,
  ) {
    this.subjects = {
      queued: `${prefix}.queued`,
      connected: `${prefix}.connected`,
      removed: `${prefix}.removed`,
      provisioning: `${prefix}.provisioning.`,
    };
  }

  /**
   * Connects and subscribes; resolves once the NATS server has registered the subscriptions, so that a publish by any
   * node after this point reaches this one. Rejects when the server cannot be reached; after that, lost connections
   * are retried forever (publishes meanwhile are buffered by the client).
   * @example const bus = await NatsBus.connect('nats://127.0.0.1:4222')
   */
  static async connect(url: string, options: NatsBusOptions = {}): Promise<NatsBus> {
    const prefix = options.subjectPrefix ?? 'samizdat';
    if (!SUBJECT_PREFIX.test(prefix)) throw new TypeError('subject prefix must be dot-separated tokens of [A-Za-z0-9_-]');
    const nc = await connect({
      servers: url,
      name: options.name ?? 'samizdat-server',
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1000,
      // Echo stays on: a node must receive its own publishes.
      noEcho: false,
    });
    const bus = new NatsBus(nc, prefix, options.onError ?? (() => {}));
    bus.subscribe();
    await nc.flush();
    return bus;
  }

  private subscribe(): void {
    const on = (subject: string, handle: (msg: Msg) => void) => {
      this.nc.subscribe(subject, {
        callback: (err: NatsError | null, msg: Msg) => {
          if (this.closing) return;
          if (err) {
            this.onError(err, subject);
            return;
          }
          try {
            handle(msg);
          } catch (error) {
            this.onError(error as Error, `decoding ${subject}`);
          }
        },
      });
    };
    on(this.subjects.queued, (msg) => {
      const reader = new BinaryReader(msg.data);
      const device = decodeDevice(reader);
      reader.end('queued payload');
      this.emit(this.queued, [device, undefined], 'queued handler');
    });
    on(this.subjects.connected, (msg) => {
      const reader = new BinaryReader(msg.data);
      const device = decodeDevice(reader);
      const connectionId = utf8Decoder.decode(reader.bytes(MAX_CONNECTION_ID_BYTES, 'connection id'));
      reader.end('connected payload');
      this.emit(this.connected, [device, connectionId], 'connected handler');
    });
    on(this.subjects.removed, (msg) => {
      const reader = new BinaryReader(msg.data);
      const device = decodeDevice(reader);
      reader.end('removed payload');
      this.emit(this.removed, [device], 'removed handler');
    });
    on(`${this.subjects.provisioning}*`, (msg) => {
      const address = msg.subject.slice(this.subjects.provisioning.length);
      if (!PROVISIONING_ADDRESS.test(address)) throw new Error('invalid provisioning address');
      this.emit(this.provisioning, [address, msg.data], 'provisioning handler');
    });
  }

  private emit<A extends unknown[]>(handlers: Handler<A>[], args: A, context: string): void {
    for (const handler of handlers) {
      try {
        handler(...args);
      } catch (err) {
        this.onError(err as Error, context);
      }
    }
  }

  private publish(subject: string, payload: Uint8Array): void {
    if (this.closing || this.nc.isClosed()) return;
    this.nc.publish(subject, payload);
  }

  /** Envelopes never go over NATS: every node, this one included, is woken and reads the queue. */
  publishQueued(device: DeviceRef): void {
    this.publish(this.subjects.queued, encodeDevice(device).finish());
  }
  onQueued(handler: Handler<[DeviceRef, StoredEnvelopes | undefined]>): void {
    this.queued.push(handler);
  }

  publishConnected(device: DeviceRef, connectionId: string): void {
    const id = utf8Encoder.encode(connectionId);
    if (id.length > MAX_CONNECTION_ID_BYTES) throw new TypeError('connection id too long');
    this.publish(this.subjects.connected, encodeDevice(device).bytes(id).finish());
  }
  onConnected(handler: Handler<[DeviceRef, string]>): void {
    this.connected.push(handler);
  }

  publishRemoved(device: DeviceRef): void {
    this.publish(this.subjects.removed, encodeDevice(device).finish());
  }
  onRemoved(handler: Handler<[DeviceRef]>): void {
    this.removed.push(handler);
  }

  publishProvisioning(address: string, body: Uint8Array): void {
    // The address becomes a subject token: only base64url, so it can hold no "." or wildcard.
    if (!PROVISIONING_ADDRESS.test(address)) throw new TypeError('invalid provisioning address');
    this.publish(this.subjects.provisioning + address, body);
  }
  onProvisioning(handler: Handler<[string, Uint8Array]>): void {
    this.provisioning.push(handler);
  }

  /** Flushes what was published, then closes; handlers stop firing at once. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (!this.nc.isClosed()) await this.nc.drain();
    })();
    return this.closing;
  }
}
