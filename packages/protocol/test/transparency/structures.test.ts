/**
 * The key-transparency structures around the trees: TLS encoding, binary ladders (draft-ietf-keytrans-protocol-06
 * appendix "Binary Ladder"), commitments, tree head signatures and Samizdat's labels.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../src/errors.js';
import { baseBinaryLadder, monitoringBinaryLadder, searchBinaryLadder } from '../../src/transparency/binary-ladder.js';
import { COMMITMENT_OPENING_LENGTH, commitment, vrfInput } from '../../src/transparency/commitment.js';
import {
  accountLabel,
  decodeAccountValue,
  decodeDeviceValue,
  decodeUsernameValue,
  deviceLabel,
  encodeAccountValue,
  encodeDeviceValue,
  encodeUsernameValue,
  usernameLabel,
} from '../../src/transparency/labels.js';
import { TlsReader, TlsWriter } from '../../src/transparency/tls.js';
import {
  decodeConfiguration,
  encodeConfiguration,
  encodeTreeHead,
  readTreeHead,
  signAuditorTreeHead,
  signTreeHead,
  verifyAuditorTreeHead,
  verifyTreeHead,
} from '../../src/transparency/tree-head.js';
import type { KtConfiguration } from '../../src/transparency/tree-head.js';
import { nodeProvider, providers } from '../helpers.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return ProtocolError.is(err) ? err.code : 'not a ProtocolError';
  }
  return 'no error';
};
const asyncCodeOf = (p: Promise<unknown>) => p.then(() => 'no error', (err: unknown) => (ProtocolError.is(err) ? err.code : 'not a ProtocolError'));

describe('TLS encoding', () => {
  it('writes big-endian integers and length-prefixed vectors, and reads them back strictly', () => {
    const bytes = new TlsWriter().u8(1).u16(0x0203).u32(0x04050607).u64(0x08090a0b0c0d).vector(Uint8Array.of(9, 9), 1).vector(Uint8Array.of(7), 2).finish();
    expect(hex(bytes)).toBe('01' + '0203' + '04050607' + '000008090a0b0c0d' + '02' + '0909' + '0001' + '07');
    const r = new TlsReader(bytes);
    expect([r.u8('a'), r.u16('b'), r.u32('c'), r.u64('d')]).toEqual([1, 0x0203, 0x04050607, 0x08090a0b0c0d]);
    expect([...r.vector(1, 'e')]).toEqual([9, 9]);
    expect([...r.vector(2, 'f')]).toEqual([7]);
    r.end('test');
    expect(codeOf(() => new TlsReader(bytes.subarray(0, bytes.length - 1)).fixed(bytes.length, 'all'))).toBe('DECODE_ERROR');
    expect(codeOf(() => new TlsReader(Uint8Array.of(5, 1)).vector(1, 'short'))).toBe('DECODE_ERROR');
    expect(codeOf(() => new TlsReader(Uint8Array.of(2, 1, 1)).vector(1, 'capped', 1))).toBe('DECODE_ERROR');
    expect(codeOf(() => new TlsReader(Uint8Array.of(2)).optional('x', (o) => o.u8('x')))).toBe('DECODE_ERROR');
    expect(codeOf(() => new TlsReader(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)).u64('huge'))).toBe('DECODE_ERROR');
    expect(codeOf(() => new TlsReader(Uint8Array.of(1)).end('x'))).toBe('DECODE_ERROR');
    expect(codeOf(() => new TlsWriter().u8(256))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => new TlsWriter().vector(new Uint8Array(256), 1))).toBe('INVALID_ARGUMENT');
  });

  it('round-trips lists of vectors', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 20 }), (items) => {
        const bytes = new TlsWriter().list(items, 2, (w, item) => w.vector(item, 1)).finish();
        const r = new TlsReader(bytes);
        expect(r.list(2, 'items', (i) => i.vector(1, 'item'))).toEqual(items);
        r.end('list');
      }),
    );
  });
});

describe('binary ladders', () => {
  it("looks up 0, 1, 3, 7, 5, 6 to establish version 6 (the draft's example)", () => {
    expect(baseBinaryLadder(6)).toEqual([0, 1, 3, 7, 5, 6]);
    expect(baseBinaryLadder(0)).toEqual([0, 1]);
    expect(baseBinaryLadder(1)).toEqual([0, 1, 3, 2]);
    expect(baseBinaryLadder(0xffffffff).at(-1)).toBe(0xffffffff);
    expect(codeOf(() => baseBinaryLadder(-1))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => baseBinaryLadder(2 ** 32))).toBe('INVALID_ARGUMENT');
  });

  it('pins the greatest version: the ladder of n shows versions ≤ n present and > n absent, and no other n fits', () => {
    fc.assert(
      fc.property(fc.oneof(fc.nat(300), fc.integer({ min: 0, max: 0xffffffff })), (n) => {
        const ladder = baseBinaryLadder(n);
        expect(new Set(ladder).size).toBe(ladder.length);
        expect(ladder).toContain(n);
        if (n < 0xffffffff) expect(ladder).toContain(n + 1);
        // Another greatest version m would give some lookup of this ladder the other outcome.
        for (const m of [n - 1, n + 1, 0, n * 2 + 1].filter((m) => m >= 0 && m !== n && m <= 0xffffffff)) {
          expect(ladder.some((v) => v <= n !== v <= m)).toBe(true);
        }
      }),
    );
  });

  it('stops a search ladder once the target is settled, and a monitoring ladder holds only versions up to the target', () => {
    expect(searchBinaryLadder(6, 6)).toEqual([0, 1, 3, 7, 5, 6]);
    expect(searchBinaryLadder(2, 6)).toEqual([0, 1, 3]); // 3 > 2 is present: the greatest is above the target
    expect(searchBinaryLadder(9, 6)).toEqual([0, 1, 3, 7]); // 7 ≤ 9 is absent: the greatest is below it
    expect(monitoringBinaryLadder(6)).toEqual([0, 1, 3, 5, 6]);
  });
});

describe('commitments', () => {
  it('are HMAC-SHA256 under Kc over opening ‖ label ‖ version ‖ value, the same on both providers', async () => {
    const opening = new Uint8Array(COMMITMENT_OPENING_LENGTH).fill(0x11);
    const label = Uint8Array.of(1, 2, 3);
    const value = Uint8Array.of(4, 5);
    const expected = (await import('node:crypto'))
      .createHmac('sha256', Buffer.from('d821f8790d97709796b4d7903357c3f5', 'hex'))
      .update(Buffer.concat([opening, Buffer.from('03010203', 'hex'), Buffer.from('00000007', 'hex'), Buffer.from('000000020405', 'hex')]))
      .digest('hex');
    for (const [, crypto] of providers) expect(hex(await commitment(crypto, opening, label, 7, value))).toBe(expected);
    expect(hex(vrfInput(label, 7))).toBe('03010203' + '00000007');
    expect(await asyncCodeOf(commitment(nodeProvider, new Uint8Array(15), label, 0, value))).toBe('INVALID_ARGUMENT');
    expect(await asyncCodeOf(commitment(nodeProvider, opening, new Uint8Array(0), 0, value))).toBe('INVALID_ARGUMENT');
    expect(await asyncCodeOf(commitment(nodeProvider, opening, label, -1, value))).toBe('INVALID_ARGUMENT');
  });

  it('differ for any other opening, label, version or value', async () => {
    const base = await commitment(nodeProvider, new Uint8Array(16), Uint8Array.of(1), 0, Uint8Array.of(1));
    for (const other of [
      commitment(nodeProvider, new Uint8Array(16).fill(1), Uint8Array.of(1), 0, Uint8Array.of(1)),
      commitment(nodeProvider, new Uint8Array(16), Uint8Array.of(2), 0, Uint8Array.of(1)),
      commitment(nodeProvider, new Uint8Array(16), Uint8Array.of(1), 1, Uint8Array.of(1)),
      commitment(nodeProvider, new Uint8Array(16), Uint8Array.of(1), 0, Uint8Array.of(1, 0)),
    ]) {
      expect(hex(await other)).not.toBe(hex(base));
    }
  });
});

describe('tree heads', () => {
  async function config(): Promise<{ config: KtConfiguration; signingKey: Uint8Array }> {
    const signing = await nodeProvider.ed25519GenerateKeyPair();
    const vrf = await nodeProvider.ed25519GenerateKeyPair();
    return {
      signingKey: signing.privateKey,
      config: { signaturePublicKey: signing.publicKey, vrfPublicKey: vrf.publicKey, maxAhead: 300_000, maxBehind: 86_400_000, reasonableMonitoringWindow: 86_400_000 },
    };
  }

  it('signs the configuration, tree size and root; any change to them breaks the signature', async () => {
    const { config: c, signingKey } = await config();
    expect(decodeConfiguration(encodeConfiguration(c))).toEqual(c);
    const root = new Uint8Array(32).fill(3);
    for (const [, crypto] of providers) {
      const head = await signTreeHead(crypto, signingKey, c, 5, root);
      await verifyTreeHead(crypto, c, head, root);
      const decoded = readTreeHead(new TlsReader(encodeTreeHead(head)));
      expect(decoded).toEqual(head);
      expect(await asyncCodeOf(verifyTreeHead(crypto, c, { ...head, treeSize: 6 }, root))).toBe('INVALID_PROOF');
      expect(await asyncCodeOf(verifyTreeHead(crypto, c, head, new Uint8Array(32).fill(4)))).toBe('INVALID_PROOF');
      expect(await asyncCodeOf(verifyTreeHead(crypto, { ...c, maxBehind: 1 }, head, root))).toBe('INVALID_PROOF');
      expect(await asyncCodeOf(verifyTreeHead(crypto, c, { ...head, signature: head.signature.subarray(1) }, root))).toBe('INVALID_PROOF');
    }
  });

  it("verifies an auditor's countersignature only under that auditor's key and over that head", async () => {
    const { config: c } = await config();
    const auditor = await nodeProvider.ed25519GenerateKeyPair();
    const other = await nodeProvider.ed25519GenerateKeyPair();
    const root = new Uint8Array(32).fill(9);
    const head = await signAuditorTreeHead(nodeProvider, auditor.privateKey, c, 1_000, 4, root);
    await verifyAuditorTreeHead(nodeProvider, c, auditor.publicKey, head, root);
    expect(await asyncCodeOf(verifyAuditorTreeHead(nodeProvider, c, other.publicKey, head, root))).toBe('INVALID_PROOF');
    expect(await asyncCodeOf(verifyAuditorTreeHead(nodeProvider, c, auditor.publicKey, { ...head, timestamp: 1_001 }, root))).toBe('INVALID_PROOF');
  });

  it('refuses a configuration of another suite or mode, or with an expiry', async () => {
    const { config: c } = await config();
    const bytes = encodeConfiguration(c);
    for (const [at, value] of [[1, 1], [2, 3], [bytes.length - 1, 1]] as const) {
      const bad = bytes.slice();
      bad[at] = value;
      expect(codeOf(() => decodeConfiguration(bad))).toBe('DECODE_ERROR');
    }
  });
});

describe('labels', () => {
  const accountId = '00112233445566778899aabbccddeeff';

  it('name an account, a username (by its hash) and a device, each with its type byte', async () => {
    expect(hex(accountLabel(accountId))).toBe('01' + accountId);
    expect(hex(deviceLabel(accountId, 2))).toBe('03' + accountId + '00000002');
    const username = await usernameLabel(nodeProvider, 'alice');
    expect(hex(username)).toBe('02' + (await import('node:crypto')).createHash('sha256').update('alice').digest('hex'));
    expect(codeOf(() => accountLabel('ABC'))).toBe('INVALID_ARGUMENT');
  });

  it('encode values that decode to the same thing, and refuse malformed ones', () => {
    const identityKey = new Uint8Array(65).fill(1);
    expect(decodeAccountValue(encodeAccountValue({ identityKey }))).toEqual({ identityKey });
    expect(decodeUsernameValue(encodeUsernameValue(accountId))).toBe(accountId);
    expect(decodeDeviceValue(encodeDeviceValue({ registrationId: 77, active: false }))).toEqual({ registrationId: 77, active: false });
    expect(codeOf(() => decodeAccountValue(new Uint8Array(64)))).toBe('DECODE_ERROR');
    expect(codeOf(() => decodeAccountValue(Uint8Array.of(...identityKey, 0, 0)))).toBe('DECODE_ERROR');
    expect(codeOf(() => decodeDeviceValue(Uint8Array.of(0, 0, 0, 1, 2)))).toBe('DECODE_ERROR');
    expect(codeOf(() => decodeUsernameValue(new Uint8Array(15)))).toBe('DECODE_ERROR');
  });
});
