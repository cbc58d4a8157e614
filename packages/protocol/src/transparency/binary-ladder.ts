/**
 * Binary ladders (draft-ietf-keytrans-protocol-06 §"Binary Ladder", appendix "Binary Ladder"): the series of
 * lookups of a label's versions in one prefix tree that establishes the greatest version that exists there —
 * versions 2^k - 1 until the first one absent, then a binary search between the last present and the first absent.
 * A proof that shows each of these lookups' outcome pins the greatest version: the log cannot prove another one.
 */
import { ProtocolError, ProtocolErrorCode } from '../errors.js';

/** The greatest version a label can have (versions are uint32). */
export const MAX_VERSION = 0xffffffff;

function checkVersion(n: number): void {
  if (!Number.isInteger(n) || n < 0 || n > MAX_VERSION) throw new ProtocolError(ProtocolErrorCode.InvalidArgument, 'a version is a uint32');
}

/**
 * The versions looked up to establish that `n` is the greatest version (appendix "base_binary_ladder"), in order;
 * versions above MAX_VERSION are left out (the draft: such a lookup counts as absent without being made).
 */
export function baseBinaryLadder(n: number): number[] {
  checkVersion(n);
  const out: number[] = [];
  for (;;) {
    const value = 2 ** out.length - 1;
    out.push(value);
    if (value > n) break;
  }
  let lower = out[out.length - 2] as number;
  let upper = out[out.length - 1] as number;
  while (lower + 1 < upper) {
    const value = Math.floor((lower + upper) / 2);
    out.push(value);
    if (value <= n) lower = value;
    else upper = value;
  }
  return out.filter((v) => v <= MAX_VERSION);
}

/**
 * A search binary ladder for target version `t` in a prefix tree whose greatest version is `n` (§"Binary Ladder"
 * of "Greatest-Version Search"): the base ladder of `n`, ending after the first lookup that settles how `n` compares
 * with `t` (a version above `t` present, or one at most `t` absent). For a greatest-version search in the tree where
 * `t` is the greatest version, t = n and the whole base ladder is looked up.
 */
export function searchBinaryLadder(t: number, n: number): number[] {
  checkVersion(t);
  const out = baseBinaryLadder(n);
  const end = out.findIndex((v) => (v <= n && v > t) || (v > n && v <= t));
  return end === -1 ? out : out.slice(0, end + 1);
}

/** A monitoring binary ladder for version `t` (§"Monitoring the Tree" / "Binary Ladder"): every lookup shows inclusion. */
export function monitoringBinaryLadder(t: number): number[] {
  return baseBinaryLadder(t).filter((v) => v <= t);
}
