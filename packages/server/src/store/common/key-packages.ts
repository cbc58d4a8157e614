/**
 * Claiming MLS KeyPackages (RFC 9420 §10; the contract of Repository.claimKeyPackages): one for every device of each
 * account named, accounts in the order given (each once), devices in id order; of each device its oldest one-use
 * package, which is consumed, else its last-resort one, which stays; a device with neither is left out.
 *
 * The loop is written once, as a generator of the reads it needs, because the engines must answer them differently
 * inside their one transaction: SQLite synchronously (nothing may await while better-sqlite3 holds a transaction
 * open), PostgreSQL by awaiting each statement. claimKeyPackagesSync and claimKeyPackagesAsync drive it.
 */
import type { ClaimedKeyPackage } from '../repository.js';
import { bytes } from './rows.js';

/** The reads of the claiming loop, answered by the engine inside its transaction. */
export interface KeyPackageSource {
  /** The account's device ids, ascending. */
  devices(accountId: string): readonly number[];
  /** The device's oldest one-use key package, deleted; else its last-resort one, kept; else undefined. */
  take(accountId: string, deviceId: number): Uint8Array | undefined;
}

/** KeyPackageSource for an engine whose statements are awaited. */
export interface AsyncKeyPackageSource {
  devices(accountId: string): Promise<readonly number[]>;
  take(accountId: string, deviceId: number): Promise<Uint8Array | undefined>;
}

type Read = { readonly kind: 'devices'; readonly accountId: string } | { readonly kind: 'take'; readonly accountId: string; readonly deviceId: number };
type Answer = readonly number[] | Uint8Array | undefined;

function* claims(accountIds: readonly string[]): Generator<Read, ClaimedKeyPackage[], Answer> {
  const out: ClaimedKeyPackage[] = [];
  for (const accountId of new Set(accountIds)) {
    const devices = (yield { kind: 'devices', accountId }) as readonly number[];
    for (const deviceId of devices) {
      const keyPackage = (yield { kind: 'take', accountId, deviceId }) as Uint8Array | undefined;
      if (keyPackage) out.push({ accountId, deviceId, keyPackage: bytes(keyPackage) });
    }
  }
  return out;
}

export function claimKeyPackagesSync(accountIds: readonly string[], source: KeyPackageSource): ClaimedKeyPackage[] {
  const loop = claims(accountIds);
  let step = loop.next();
  while (!step.done) {
    const read = step.value;
    step = loop.next(read.kind === 'devices' ? source.devices(read.accountId) : source.take(read.accountId, read.deviceId));
  }
  return step.value;
}

export async function claimKeyPackagesAsync(accountIds: readonly string[], source: AsyncKeyPackageSource): Promise<ClaimedKeyPackage[]> {
  const loop = claims(accountIds);
  let step = loop.next();
  while (!step.done) {
    const read = step.value;
    step = loop.next(read.kind === 'devices' ? await source.devices(read.accountId) : await source.take(read.accountId, read.deviceId));
  }
  return step.value;
}
