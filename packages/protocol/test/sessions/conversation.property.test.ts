/**
 * A seeded random conversation between two accounts with two devices each: messages fan out to every other device,
 * and the network delivers late, reorders, duplicates, drops and tampers, while devices restart from their
 * serialized state. Every message delivered decrypts exactly once to what was sent; nothing else decrypts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CryptoProvider } from '../../src/crypto/provider.js';
import { ProtocolError } from '../../src/errors.js';
import type { CiphertextMessage } from '../../src/sessions/session-cipher.js';
import type { TestDevice } from '../helpers.js';
import { makeDevice, providers, restart, text, utf8 } from '../helpers.js';

type Op =
  | { kind: 'send'; from: number }
  | { kind: 'deliver'; pick: number }
  | { kind: 'duplicate'; pick: number }
  | { kind: 'drop'; pick: number }
  | { kind: 'tamper'; pick: number; at: number }
  | { kind: 'restart'; device: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('send' as const), from: fc.nat(3) }) },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('deliver' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('duplicate' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('drop' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('tamper' as const), pick: fc.nat(), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('restart' as const), device: fc.nat(3) }) },
);

interface InFlight {
  readonly from: number;
  readonly to: number;
  readonly body: string;
  readonly message: CiphertextMessage;
}

async function runConversation(provider: CryptoProvider, ops: readonly Op[]): Promise<void> {
  const a1 = await makeDevice(provider, { account: 'alice', device: 1 }, { oneTimePreKeys: 2, oneTimeKyberPreKeys: 1 });
  const a2 = await makeDevice(provider, { account: 'alice', device: 2 }, { identity: a1.identity, oneTimePreKeys: 1 });
  const b1 = await makeDevice(provider, { account: 'bob', device: 1 }, { oneTimePreKeys: 2 });
  const b2 = await makeDevice(provider, { account: 'bob', device: 2 }, { identity: b1.identity, oneTimePreKeys: 0 });
  const devices: TestDevice[] = [a1, a2, b1, b2];
  const pending: InFlight[] = [];
  const delivered: InFlight[] = [];
  let sent = 0;

  for (const op of ops) {
    switch (op.kind) {
      case 'send': {
        const sender = devices[op.from]!;
        const targets = devices.filter((d) => d !== sender);
        for (const t of await sender.manager.missingSessions(targets.map((d) => d.address))) {
          const target = devices.find((d) => d.address.account === t.account && d.address.device === t.device)!;
          await sender.manager.processPreKeyBundle(t, target.bundle());
        }
        const body = `message ${sent++} from ${op.from}`;
        const out = await sender.manager.encryptForDevices(
          targets.map((d) => d.address),
          utf8(body),
        );
        out.forEach((c, i) => pending.push({ from: op.from, to: devices.indexOf(targets[i]!), body, message: c.message }));
        break;
      }
      case 'deliver': {
        if (pending.length === 0) break;
        const [m] = pending.splice(op.pick % pending.length, 1) as [InFlight];
        const result = await devices[m.to]!.manager.decrypt(devices[m.from]!.address, m.message);
        expect(result.kind).toBe('message');
        if (result.kind === 'message') expect(text(result.plaintext)).toBe(m.body);
        delivered.push(m);
        break;
      }
      case 'duplicate': {
        if (delivered.length === 0) break;
        const m = delivered[op.pick % delivered.length]!;
        const result = await devices[m.to]!.manager.decrypt(devices[m.from]!.address, m.message);
        expect(result.kind).toBe('duplicate');
        break;
      }
      case 'drop':
        if (pending.length > 0) pending.splice(op.pick % pending.length, 1);
        break;
      case 'tamper': {
        if (pending.length === 0) break;
        const m = pending[op.pick % pending.length]!;
        const body = m.message.body.slice();
        body[op.at % body.length]! ^= 0x01 << op.at % 8;
        const outcome = await devices[m.to]!.manager.decrypt(devices[m.from]!.address, { type: m.message.type, body }).then(
          (r) => r.kind,
          (e: unknown) => (ProtocolError.is(e) ? 'rejected' : `crashed: ${String(e)}`),
        );
        expect(['rejected', 'duplicate']).toContain(outcome);
        break;
      }
      case 'restart':
        restart(provider, devices[op.device]!);
        break;
    }
  }
  // Whatever is still in flight decrypts when it finally arrives, in any order.
  while (pending.length > 0) {
    const m = pending.pop()!;
    const result = await devices[m.to]!.manager.decrypt(devices[m.from]!.address, m.message);
    expect(result.kind === 'message' && text(result.plaintext)).toBe(m.body);
  }
}

describe.each(providers)('random multi-device conversation (%s provider)', (name, provider) => {
  it('decrypts every delivered message exactly once and nothing else', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 10, maxLength: 60 }), (ops) => runConversation(provider, ops)),
      { numRuns: name === 'node' ? 40 : 6, seed: Number(process.env.SAMIZDAT_SEED ?? 20261127) },
    );
  });
});
