import { randomBytes } from 'node:crypto';
import { connect } from 'nats';
import { afterEach, describe, expect, it } from 'vitest';
import type { DeviceRef } from '../../src/bus/bus.js';
import { NatsBus } from '../../src/bus/nats-bus.js';
import { TEST_NATS_URL } from '../helpers/server.js';

const buses: NatsBus[] = [];

afterEach(async () => {
  await Promise.all(buses.splice(0).map((bus) => bus.close()));
});

const freshPrefix = () => `test.${randomBytes(6).toString('hex')}`;

async function bus(subjectPrefix: string, onError?: (err: Error, context: string) => void): Promise<NatsBus> {
  const b = await NatsBus.connect(TEST_NATS_URL, { subjectPrefix, ...(onError ? { onError } : {}) });
  buses.push(b);
  return b;
}

const device = (deviceId = 1): DeviceRef => ({ accountId: randomBytes(16).toString('hex'), deviceId });
const address = () => randomBytes(32).toString('base64url');

interface Recorded {
  queued: DeviceRef[];
  connected: [DeviceRef, string][];
  removed: DeviceRef[];
  provisioning: [string, number[]][];
}

function record(b: NatsBus): Recorded {
  const r: Recorded = { queued: [], connected: [], removed: [], provisioning: [] };
  b.onQueued((d) => r.queued.push(d));
  b.onConnected((d, id) => r.connected.push([d, id]));
  b.onRemoved((d) => r.removed.push(d));
  b.onProvisioning((a, body) => r.provisioning.push([a, [...body]]));
  return r;
}

async function eventually(check: () => void, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 150));

describe('NatsBus', () => {
  it('delivers a node’s own publishes to its own handlers, through NATS', async () => {
    const b = await bus(freshPrefix());
    const r = record(b);
    const d = device(7);
    const a = address();
    b.publishQueued(d);
    b.publishConnected(d, 'conn-1');
    b.publishRemoved(d);
    b.publishProvisioning(a, Uint8Array.of(1, 2, 3));
    // Nothing is delivered synchronously: every handler call comes back from the NATS server.
    expect(r).toEqual({ queued: [], connected: [], removed: [], provisioning: [] });
    await eventually(() =>
      expect(r).toEqual({ queued: [d], connected: [[d, 'conn-1']], removed: [d], provisioning: [[a, [1, 2, 3]]] }),
    );
    await settle();
    expect(r.queued).toHaveLength(1);
  });

  it('delivers every publish of one node once to every node with the same prefix', async () => {
    const prefix = freshPrefix();
    const a = await bus(prefix);
    const b = await bus(prefix);
    const ra = record(a);
    const rb = record(b);
    const devices = Array.from({ length: 50 }, (_, i) => device(i + 1));
    for (const d of devices) a.publishQueued(d);
    b.publishRemoved(devices[0]!);
    await eventually(() => {
      expect(rb.queued).toEqual(devices);
      expect(ra.queued).toEqual(devices);
      expect(ra.removed).toEqual([devices[0]]);
      expect(rb.removed).toEqual([devices[0]]);
    });
    await settle();
    expect(ra.queued).toHaveLength(50);
    expect(rb.queued).toHaveLength(50);
  });

  it('keeps deployments with different subject prefixes apart', async () => {
    const a = await bus(freshPrefix());
    const b = await bus(freshPrefix());
    const rb = record(b);
    const ra = record(a);
    a.publishQueued(device());
    a.publishProvisioning(address(), Uint8Array.of(1));
    await eventually(() => expect(ra.queued).toHaveLength(1));
    await settle();
    expect(rb).toEqual({ queued: [], connected: [], removed: [], provisioning: [] });
  });

  it('drops payloads that do not decode, reports them, and keeps delivering', async () => {
    const prefix = freshPrefix();
    const errors: string[] = [];
    const b = await bus(prefix, (_err, context) => errors.push(context));
    const r = record(b);
    const raw = await connect({ servers: TEST_NATS_URL });
    try {
      raw.publish(`${prefix}.queued`, Uint8Array.of(1, 2, 3));
      raw.publish(`${prefix}.queued`, Uint8Array.of(9, ...new Uint8Array(16), 1));
      raw.publish(`${prefix}.connected`, new Uint8Array(0));
      raw.publish(`${prefix}.removed`, Uint8Array.of(1, ...new Uint8Array(16), 1, 0));
      raw.publish(`${prefix}.provisioning.short`, Uint8Array.of(1));
      await raw.flush();
    } finally {
      await raw.close();
    }
    const d = device();
    b.publishQueued(d);
    await eventually(() => expect(r.queued).toEqual([d]));
    expect(errors).toHaveLength(5);
    expect(r).toEqual({ queued: [d], connected: [], removed: [], provisioning: [] });
  });

  it('isolates a throwing handler from the others and from later messages', async () => {
    const errors: string[] = [];
    const b = await bus(freshPrefix(), (_err, context) => errors.push(context));
    b.onQueued(() => {
      throw new Error('boom');
    });
    const r = record(b);
    const [d1, d2] = [device(), device()];
    b.publishQueued(d1);
    b.publishQueued(d2);
    await eventually(() => expect(r.queued).toEqual([d1, d2]));
    expect(errors).toEqual(['queued handler', 'queued handler']);
  });

  it('flushes publishes on close and stops calling handlers', async () => {
    const prefix = freshPrefix();
    const a = await bus(prefix);
    const b = await bus(prefix);
    const ra = record(a);
    const rb = record(b);
    const d = device();
    a.publishQueued(d);
    await a.close();
    await eventually(() => expect(rb.queued).toEqual([d]));
    // After close, publishing is a no-op and nothing more reaches a's handlers.
    a.publishQueued(device());
    b.publishQueued(device());
    await eventually(() => expect(rb.queued).toHaveLength(2));
    await settle();
    expect(ra.queued.length).toBeLessThanOrEqual(1);
    expect(rb.queued).toHaveLength(2);
  });

  it('refuses invalid input instead of publishing it', async () => {
    const b = await bus(freshPrefix());
    expect(() => b.publishQueued({ accountId: 'not hex', deviceId: 1 })).toThrow(TypeError);
    expect(() => b.publishProvisioning('a.b.>', Uint8Array.of(1))).toThrow(TypeError);
    await expect(NatsBus.connect(TEST_NATS_URL, { subjectPrefix: 'bad prefix' })).rejects.toThrow(TypeError);
  });

  it('fails to connect when no NATS server answers', async () => {
    await expect(NatsBus.connect('nats://127.0.0.1:1')).rejects.toThrow();
  });
});
