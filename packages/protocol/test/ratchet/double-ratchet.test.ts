import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/crypto/bytes.js';
import { ProtocolError } from '../../src/errors.js';
import { MAX_SKIP, MAX_SKIPPED_TOTAL, ratchetDecrypt } from '../../src/ratchet/double-ratchet.js';
import { decodeSessionState, encodeSessionState } from '../../src/ratchet/session-state.js';
import type { SessionState } from '../../src/ratchet/session-state.js';
import { decodeRatchetMessage } from '../../src/wire/ratchet-message.js';
import { providers } from '../helpers.js';
import type { Party } from './fixtures.js';
import { ratchetPair, receive, send } from './fixtures.js';

const snapshot = (s: SessionState) => toHex(encodeSessionState(s));

async function expectRejected(promise: Promise<unknown>): Promise<ProtocolError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(ProtocolError.is(err)).toBe(true);
  return err as ProtocolError;
}

describe.each(providers)('Double Ratchet (%s provider)', (_name, provider) => {
  async function pair(): Promise<{ alice: Party; bob: Party }> {
    const { alice, bob } = await ratchetPair(provider);
    return { alice: { state: alice }, bob: { state: bob } };
  }

  it('carries messages one way and in alternating directions', async () => {
    const { alice, bob } = await pair();
    for (let i = 0; i < 5; i++) expect(await receive(provider, bob, await send(provider, alice, `a${i}`))).toBe(`a${i}`);
    for (let i = 0; i < 6; i++) {
      const [from, to] = i % 2 === 0 ? [bob, alice] : [alice, bob];
      expect(await receive(provider, to, await send(provider, from, `m${i}`))).toBe(`m${i}`);
    }
  });

  it('decrypts messages delivered out of order, within a chain and across chains', async () => {
    const { alice, bob } = await pair();
    const first = [await send(provider, alice, 'a0'), await send(provider, alice, 'a1'), await send(provider, alice, 'a2')];
    expect(await receive(provider, bob, first[2]!)).toBe('a2');
    const reply = await send(provider, bob, 'b0');
    expect(await receive(provider, alice, reply)).toBe('b0');
    const second = await send(provider, alice, 'a3'); // a new chain
    expect(await receive(provider, bob, second)).toBe('a3');
    expect(await receive(provider, bob, first[0]!)).toBe('a0');
    expect(await receive(provider, bob, first[1]!)).toBe('a1');
    expect(bob.state.skipped).toHaveLength(0);
  });

  it('rejects a replayed message as a duplicate and leaves the state unchanged', async () => {
    const { alice, bob } = await pair();
    const m0 = await send(provider, alice, 'a0');
    const m1 = await send(provider, alice, 'a1');
    await receive(provider, bob, m0);
    await receive(provider, bob, m1);
    const before = snapshot(bob.state);
    for (const m of [m0, m1]) {
      const err = await expectRejected(ratchetDecrypt(provider, bob.state, decodeRatchetMessage(m)));
      expect(err.code).toBe('DUPLICATE_MESSAGE');
    }
    // A replay from an earlier chain, after the ratchet moved on.
    await receive(provider, alice, await send(provider, bob, 'b0'));
    await receive(provider, bob, await send(provider, alice, 'a2'));
    const err = await expectRejected(ratchetDecrypt(provider, bob.state, decodeRatchetMessage(m1)));
    expect(err.code).toBe('DUPLICATE_MESSAGE');
    expect(snapshot(bob.state)).not.toBe(before); // sanity: the state did move with the real messages
  });

  it('refuses a message that would skip more than MAX_SKIP keys, leaving the state unchanged', async () => {
    const { alice, bob } = await pair();
    await receive(provider, bob, await send(provider, alice, 'first'));
    const far = { state: alice.state };
    far.state = { ...far.state, sendingChain: { ...far.state.sendingChain!, index: MAX_SKIP + 5 } };
    const m = await send(provider, far, 'far ahead');
    const before = snapshot(bob.state);
    const err = await expectRejected(ratchetDecrypt(provider, bob.state, decodeRatchetMessage(m)));
    expect(err.code).toBe('TOO_MANY_SKIPPED');
    expect(snapshot(bob.state)).toBe(before);
  });

  it('keeps at most MAX_SKIPPED_TOTAL skipped keys however many chains skip', async () => {
    const { alice, bob } = await pair();
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 900; i++) await send(provider, alice, 'never delivered');
      await receive(provider, bob, await send(provider, alice, `r${round}`));
      await receive(provider, alice, await send(provider, bob, `ack${round}`));
    }
    expect(bob.state.skipped.length).toBeLessThanOrEqual(MAX_SKIPPED_TOTAL);
    expect(bob.state.skipped.length).toBe(MAX_SKIPPED_TOTAL);
  });

  it('rejects any single flipped byte of a message (version, header, ciphertext, tag) and keeps the state', async () => {
    const { alice, bob } = await pair();
    await receive(provider, bob, await send(provider, alice, 'warm-up'));
    await receive(provider, alice, await send(provider, bob, 'reply'));
    // One message in the current chain and one that starts a new chain on Bob's side.
    const inChain = await send(provider, alice, 'x'.repeat(20));
    const bobCopy: Party = { state: bob.state };
    for (const message of [inChain]) {
      const before = snapshot(bobCopy.state);
      for (let i = 0; i < message.length; i++) {
        for (const bit of [0x01, 0x80]) {
          const tampered = message.slice();
          tampered[i]! ^= bit;
          await expectRejected(
            (async () => ratchetDecrypt(provider, bobCopy.state, decodeRatchetMessage(tampered)))(),
          );
        }
      }
      expect(snapshot(bobCopy.state)).toBe(before);
      expect(await receive(provider, bobCopy, message)).toBe('x'.repeat(20));
    }
  });

  it('rejects flipped bytes in a message that starts a new ratchet chain and keeps the state', async () => {
    const { alice, bob } = await pair();
    await receive(provider, bob, await send(provider, alice, 'a'));
    const newChain = await send(provider, bob, 'from bob, new chain for alice');
    const before = snapshot(alice.state);
    for (let i = 0; i < newChain.length; i++) {
      const tampered = newChain.slice();
      tampered[i]! ^= 0x04;
      await expectRejected((async () => ratchetDecrypt(provider, alice.state, decodeRatchetMessage(tampered)))());
    }
    expect(snapshot(alice.state)).toBe(before);
    expect(await receive(provider, alice, newChain)).toBe('from bob, new chain for alice');
  });

  it('gives forward secrecy: a state captured after message n cannot decrypt messages before n', async () => {
    const { alice, bob } = await pair();
    const earlierChain = [await send(provider, alice, 'c0'), await send(provider, alice, 'c1')];
    for (const m of earlierChain) await receive(provider, bob, m);
    await receive(provider, alice, await send(provider, bob, 'b'));
    const sameChain = [await send(provider, alice, 'd0'), await send(provider, alice, 'd1'), await send(provider, alice, 'd2')];
    for (const m of sameChain) await receive(provider, bob, m);
    const captured = decodeSessionState(encodeSessionState(bob.state));
    for (const m of [...earlierChain, ...sameChain]) {
      await expectRejected(ratchetDecrypt(provider, captured, decodeRatchetMessage(m)));
    }
  });

  it('heals after compromise: a captured state cannot decrypt once a round trip has happened', async () => {
    const { alice, bob } = await pair();
    await receive(provider, bob, await send(provider, alice, 'before'));
    await receive(provider, alice, await send(provider, bob, 'before reply'));
    const attacker: Party = { state: decodeSessionState(encodeSessionState(bob.state)) };
    // The attacker can still read Alice's current chain...
    const m1 = await send(provider, alice, 'still readable');
    expect(await receive(provider, attacker, m1)).toBe('still readable');
    await receive(provider, bob, m1);
    // ...but after Bob answers with a fresh ratchet key and Alice ratchets, it cannot.
    await receive(provider, alice, await send(provider, bob, 'fresh ratchet key'));
    const m2 = await send(provider, alice, 'after healing');
    expect(await receive(provider, bob, m2)).toBe('after healing');
    await expectRejected(ratchetDecrypt(provider, attacker.state, decodeRatchetMessage(m2)));
  });

  it('survives serialization of the state at every step', async () => {
    const { alice, bob } = await pair();
    for (let i = 0; i < 8; i++) {
      const [from, to] = i % 3 === 0 ? [bob, alice] : [alice, bob];
      if (i === 0) {
        await receive(provider, bob, await send(provider, alice, 'start'));
      }
      const m = await send(provider, from, `m${i}`);
      to.state = decodeSessionState(encodeSessionState(to.state));
      from.state = decodeSessionState(encodeSessionState(from.state));
      expect(await receive(provider, to, m)).toBe(`m${i}`);
    }
  });
});

describe('session state encoding', () => {
  it('refuses an unknown version and truncated or extended records with typed errors', async () => {
    const [, provider] = providers[0]!;
    const { alice } = await ratchetPair(provider);
    const bytes = encodeSessionState(alice);
    const wrongVersion = bytes.slice();
    wrongVersion[0] = 99;
    expect(() => decodeSessionState(wrongVersion)).toThrow(expect.objectContaining({ code: 'UNKNOWN_VERSION' }));
    for (const cut of [1, 10, 100, bytes.length - 1]) {
      expect(() => decodeSessionState(bytes.subarray(0, cut))).toThrow(expect.objectContaining({ code: 'DECODE_ERROR' }));
    }
    const longer = new Uint8Array(bytes.length + 1);
    longer.set(bytes);
    expect(() => decodeSessionState(longer)).toThrow(expect.objectContaining({ code: 'DECODE_ERROR' }));
  });
});
