import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { fromHex, toHex, utf8 } from '../src/crypto/bytes.js';
import { ProtocolError, ProtocolErrorCode } from '../src/errors.js';
import {
  FINGERPRINT_ITERATIONS,
  SAFETY_NUMBER_DIGITS,
  SCANNABLE_VERSION,
  compareScannable,
  formatSafetyNumber,
  safetyNumber,
} from '../src/safety-number.js';
import type { SafetyNumber, SafetyNumberParty } from '../src/safety-number.js';
import { codeOf, nodeProvider as nodeHashProvider, providers } from './helpers.js';


async function asyncCodeOf(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
  } catch (err) {
    if (ProtocolError.is(err)) return err.code;
    throw err;
  }
  throw new Error('expected a ProtocolError');
}

interface VectorCase {
  description: string;
  local: { identifier: string; identityKey: string };
  remote: { identifier: string; identityKey: string };
  digits: string;
  scannable: string;
}
interface VectorFile {
  iterations: number;
  scannableVersion: number;
  cases: VectorCase[];
}
const vectors = JSON.parse(
  readFileSync(new URL('./vectors/safety-number.json', import.meta.url), 'utf8'),
) as VectorFile;

const party = (p: { identifier: string; identityKey: string }): SafetyNumberParty => ({
  identifier: fromHex(p.identifier),
  identityKey: fromHex(p.identityKey),
});

/**
 * The published algorithm written out again with synchronous node:crypto and Buffer, independently of
 * src/safety-number.ts: h = 0x0000 || key || id, then 5200 × h = SHA-512(h || key); six 5-byte big-endian chunks of
 * the first 30 bytes, each mod 100000; the two 30-digit halves in ascending order.
 */
function referenceSafetyNumber(local: SafetyNumberParty, remote: SafetyNumberParty): string {
  const fingerprint = ({ identifier, identityKey }: SafetyNumberParty): Buffer => {
    let hash = Buffer.concat([Buffer.from([0, 0]), identityKey, identifier]);
    for (let i = 0; i < 5200; i++) hash = createHash('sha512').update(hash).update(identityKey).digest();
    return hash;
  };
  const digits = (hash: Buffer): string =>
    [0, 5, 10, 15, 20, 25].map((at) => String(hash.readUIntBE(at, 5) % 100000).padStart(5, '0')).join('');
  const halves = [digits(fingerprint(local)), digits(fingerprint(remote))].sort();
  return halves.join('');
}

const alice: SafetyNumberParty = {
  identifier: fromHex('95ca87309bdf192397e2d570a9d5131d'),
  identityKey: new Uint8Array([0x01, ...new Uint8Array(64).fill(0x11)]),
};
const bob: SafetyNumberParty = {
  identifier: fromHex('4007b8f8a01640ea23029749364d34ed'),
  identityKey: new Uint8Array([0x01, ...new Uint8Array(64).fill(0x22)]),
};

function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const out = bytes.slice();
  const index = Math.floor(bit / 8) % out.length;
  out[index] = (out[index] as number) ^ (1 << bit % 8);
  return out;
}

const partyArb: fc.Arbitrary<SafetyNumberParty> = fc.record({
  identifier: fc.oneof(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.uint8Array({ minLength: 1, maxLength: 32 })),
  identityKey: fc.uint8Array({ minLength: 65, maxLength: 65 }),
});

describe('safety numbers', () => {
  it("matches libsignal's published fingerprint vector", async () => {
    // libsignal rust/protocol/src/fingerprint.rs, fingerprint_test_v1 (5200 iterations, 33-byte libsignal keys).
    const a = {
      identifier: utf8('+14152222222'),
      identityKey: fromHex('0506863bc66d02b40d27b8d49ca7c09e9239236f9d7d25d6fcca5ce13c7064d868'),
    };
    const b = {
      identifier: utf8('+14153333333'),
      identityKey: fromHex('05f781b6fb32fed9ba1cf2de978d4d5da28dc34046ae814402b5c0dbd96fda907b'),
    };
    const aliceFingerprint = '1e301a0353dce3dbe7684cb8336e85136cdc0ee96219494ada305d62a7bd61df';
    const bobFingerprint = 'd62cbf73a11592015b6b9f1682ac306fea3aaf3885b84d12bca631e9d4fb3a4d';
    const fromAlice = await safetyNumber(nodeHashProvider, a, b);
    const fromBob = await safetyNumber(nodeHashProvider, b, a);
    expect(fromAlice.digits).toBe('300354477692869396892869876765458257569162576843440918079131');
    expect(fromBob.digits).toBe(fromAlice.digits);
    expect(toHex(fromAlice.scannable)).toBe('01' + aliceFingerprint + bobFingerprint);
    expect(toHex(fromBob.scannable)).toBe('01' + bobFingerprint + aliceFingerprint);
  });

  describe.each(providers)('on %s', (_name, provider) => {
    it('reproduces every known answer in test/vectors/safety-number.json', async () => {
      expect(vectors.iterations).toBe(FINGERPRINT_ITERATIONS);
      expect(vectors.scannableVersion).toBe(SCANNABLE_VERSION);
      expect(vectors.cases.length).toBeGreaterThan(0);
      for (const vector of vectors.cases) {
        const result = await safetyNumber(provider, party(vector.local), party(vector.remote));
        expect(result.digits, vector.description).toBe(vector.digits);
        expect(toHex(result.scannable), vector.description).toBe(vector.scannable);
      }
    });
  });

  it('agrees with an independent node:crypto computation of the published algorithm', async () => {
    const expected = referenceSafetyNumber(alice, bob);
    expect(expected).toMatch(/^[0-9]{60}$/);
    expect((await safetyNumber(nodeHashProvider, alice, bob)).digits).toBe(expected);
    const vector = vectors.cases[1] as VectorCase;
    expect(referenceSafetyNumber(party(vector.local), party(vector.remote))).toBe(vector.digits);
  });

  it('gives both sides the same 60 digits', async () => {
    await fc.assert(
      fc.asyncProperty(partyArb, partyArb, async (local, remote) => {
        const ours = await safetyNumber(nodeHashProvider, local, remote);
        const theirs = await safetyNumber(nodeHashProvider, remote, local);
        expect(ours.digits).toHaveLength(SAFETY_NUMBER_DIGITS);
        expect(ours.digits).toMatch(/^[0-9]+$/);
        expect(theirs.digits).toBe(ours.digits);
        expect(compareScannable(ours.scannable, theirs.scannable)).toBe(true);
        expect(compareScannable(theirs.scannable, ours.scannable)).toBe(true);
      }),
      { numRuns: 8 },
    );
  });

  it('changes when either identity key changes, by any single bit', async () => {
    const base = await safetyNumber(nodeHashProvider, alice, bob);
    for (const bit of [0, 7, 8, 300, 519]) {
      const newAlice = { ...alice, identityKey: flipBit(alice.identityKey, bit) };
      const newBob = { ...bob, identityKey: flipBit(bob.identityKey, bit) };
      const localChanged = await safetyNumber(nodeHashProvider, newAlice, bob);
      const remoteChanged = await safetyNumber(nodeHashProvider, alice, newBob);
      expect(localChanged.digits).not.toBe(base.digits);
      expect(remoteChanged.digits).not.toBe(base.digits);
      expect(compareScannable(base.scannable, localChanged.scannable)).toBe(false);
    }
  });

  it('changes when either identifier changes', async () => {
    const base = await safetyNumber(nodeHashProvider, alice, bob);
    const newAlice = { ...alice, identifier: flipBit(alice.identifier, 3) };
    const newBob = { ...bob, identifier: flipBit(bob.identifier, 3) };
    const localChanged = await safetyNumber(nodeHashProvider, newAlice, bob);
    const remoteChanged = await safetyNumber(nodeHashProvider, alice, newBob);
    expect(localChanged.digits).not.toBe(base.digits);
    expect(remoteChanged.digits).not.toBe(base.digits);
  });

  it('rejects an empty identifier or identity key', async () => {
    const empty = new Uint8Array(0);
    for (const [local, remote] of [
      [{ ...alice, identifier: empty }, bob],
      [{ ...alice, identityKey: empty }, bob],
      [alice, { ...bob, identifier: empty }],
      [alice, { ...bob, identityKey: empty }],
    ] as const) {
      expect(await asyncCodeOf(() => safetyNumber(nodeHashProvider, local, remote))).toBe(
        ProtocolErrorCode.InvalidArgument,
      );
    }
  });

  describe('formatting', () => {
    it('shows the digits as 12 groups of 5', () => {
      const digits = '012345678901234567890123456789012345678901234567890123456789';
      expect(formatSafetyNumber(digits)).toBe(
        '01234 56789 01234 56789 01234 56789 01234 56789 01234 56789 01234 56789',
      );
    });

    it('refuses anything but 60 decimal digits', () => {
      for (const digits of ['', '1'.repeat(59), '1'.repeat(61), 'a'.repeat(60), `${'1'.repeat(59)} `]) {
        expect(codeOf(() => formatSafetyNumber(digits))).toBe(ProtocolErrorCode.InvalidArgument);
      }
    });
  });

  describe('scannable codes', () => {
    const mallory = { ...bob, identityKey: new Uint8Array([0x01, ...new Uint8Array(64).fill(0x66)]) };
    let fromAlice: SafetyNumber;
    let fromBob: SafetyNumber;
    /** Alice talks to Mallory believing she is Bob; Bob talks to Alice's real key. */
    let aliceFooled: SafetyNumber;
    beforeAll(async () => {
      fromAlice = await safetyNumber(nodeHashProvider, alice, bob);
      fromBob = await safetyNumber(nodeHashProvider, bob, alice);
      aliceFooled = await safetyNumber(nodeHashProvider, alice, mallory);
    });

    it("accepts the code scanned from the other side's screen, in both directions", () => {
      expect(compareScannable(fromAlice.scannable, fromBob.scannable)).toBe(true);
      expect(compareScannable(fromBob.scannable, fromAlice.scannable)).toBe(true);
    });

    it('rejects our own code scanned back', () => {
      const ours = fromAlice.scannable;
      expect(compareScannable(ours, ours.slice())).toBe(false);
    });

    it('rejects a code when a key was substituted on one side', () => {
      expect(compareScannable(aliceFooled.scannable, fromBob.scannable)).toBe(false);
      expect(compareScannable(fromBob.scannable, aliceFooled.scannable)).toBe(false);
    });

    it('rejects a code that differs in any single bit of either fingerprint', () => {
      const ours = fromAlice.scannable;
      const theirs = fromBob.scannable;
      for (let bit = 8; bit < theirs.length * 8; bit += 37) {
        expect(compareScannable(ours, flipBit(theirs, bit))).toBe(false);
      }
    });

    it('rejects a code of another scannable version with UNKNOWN_VERSION', () => {
      const ours = fromAlice.scannable;
      const theirs = fromBob.scannable;
      for (const version of [0, SCANNABLE_VERSION + 1, 0xff]) {
        const other = theirs.slice();
        other[0] = version;
        expect(codeOf(() => compareScannable(ours, other))).toBe(ProtocolErrorCode.UnknownVersion);
        expect(codeOf(() => compareScannable(other, ours))).toBe(ProtocolErrorCode.UnknownVersion);
      }
    });

    it('rejects a truncated, extended or empty code with DECODE_ERROR', () => {
      const ours = fromAlice.scannable;
      const theirs = fromBob.scannable;
      const malformed = [new Uint8Array(0), theirs.subarray(0, 1), theirs.subarray(0, 64), new Uint8Array([...theirs, 0])];
      for (const bad of malformed) {
        expect(codeOf(() => compareScannable(ours, bad))).toBe(ProtocolErrorCode.Decode);
      }
    });

    it('throws only ProtocolError on random scanned input', () => {
      const ours = fromAlice.scannable;
      const accepted = new Set<string>([ProtocolErrorCode.Decode, ProtocolErrorCode.UnknownVersion]);
      fc.assert(
        fc.property(
          fc.oneof(
            fc.uint8Array({ maxLength: 80 }),
            fc.uint8Array({ minLength: 64, maxLength: 66 }).map((b) => new Uint8Array([SCANNABLE_VERSION, ...b])),
          ),
          (scanned) => {
            try {
              expect(compareScannable(ours, scanned)).toBe(false);
            } catch (err) {
              expect(ProtocolError.is(err) && accepted.has(err.code)).toBe(true);
            }
          },
        ),
        { numRuns: 2000 },
      );
    });
  });
});
