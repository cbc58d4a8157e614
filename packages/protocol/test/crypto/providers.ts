/** Shared fixtures of the crypto tests: both providers, vector loading, and error assertions. */
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import type { CryptoProvider, KemEncapsulation } from '../../src/crypto/provider.js';
import { NodeCryptoProvider } from '../../src/crypto/node-provider.js';
import { WebCryptoProvider } from '../../src/crypto/web-provider.js';
import { ProtocolError } from '../../src/errors.js';
import type { ProtocolErrorCode } from '../../src/errors.js';

/** A provider plus the known-answer hook both implementations carry (FIPS 203 ML-KEM.Encaps_internal). */
export type TestedProvider = CryptoProvider & {
  mlkem1024EncapsulateWithRandomness(publicKey: Uint8Array, m: Uint8Array): Promise<KemEncapsulation>;
};

export const nodeProvider = new NodeCryptoProvider();
export const webProvider = new WebCryptoProvider();
export const providers: ReadonlyArray<readonly [string, TestedProvider]> = [
  ['node', nodeProvider],
  ['web', webProvider],
];

const VECTORS_DIR = new URL('../vectors/', import.meta.url);
/** Project Wycheproof's files, committed under test/vectors/wycheproof/ (see the README there). */
const WYCHEPROOF_DIR = new URL('wycheproof/', VECTORS_DIR);

export function readWycheproof<T>(file: string): T {
  return JSON.parse(readFileSync(new URL(file, WYCHEPROOF_DIR), 'utf8')) as T;
}

export function readVectors<T>(file: string): T {
  return JSON.parse(readFileSync(new URL(file, VECTORS_DIR), 'utf8')) as T;
}

/** The code of the ProtocolError that `promise` rejects with; fails the test on success or on any other error. */
export async function rejectionCode(promise: Promise<unknown>): Promise<ProtocolErrorCode> {
  try {
    await promise;
  } catch (err) {
    expect(ProtocolError.is(err), `expected a ProtocolError, got ${String(err)}`).toBe(true);
    return (err as ProtocolError).code;
  }
  throw new Error('expected a rejection');
}

/** Settles `promise` into a value or the ProtocolError it rejected with (anything else is a crash and rethrown). */
export async function settle<T>(promise: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; code: string }> {
  try {
    return { ok: true, value: await promise };
  } catch (err) {
    if (ProtocolError.is(err)) return { ok: false, code: err.code };
    throw err;
  }
}

export function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const out = bytes.slice();
  out[bit >> 3] = (out[bit >> 3] as number) ^ (1 << (bit & 7));
  return out;
}
