/**
 * This device's prekeys (PQXDH §3.2): what is generated at registration, how the one-time supply is kept topped up
 * on the server, and the schedule on which the signed curve prekey and the last-resort ML-KEM prekey are replaced.
 * Signal's schedule is followed: rotate every 2 days, keep a replaced key 30 days after its replacement for initial
 * messages still in flight, refill one-time keys below a threshold.
 */
import {
  generateKyberPreKey,
  generateOneTimePreKeys,
  generateSignedPreKey,
} from '@samizdat/protocol';
import type { CryptoProvider, IdentityKeyPair, KyberPreKey, OneTimePreKey, PreKeyId, SignedPreKey } from '@samizdat/protocol';
import type { ClientStore, StoreTx } from '../storage/store.js';

/** One-time keys of each kind uploaded at registration and at each refill. */
export const ONE_TIME_BATCH = 100;
export const KYBER_ONE_TIME_BATCH = 40;
/** Below this many left on the server, the client uploads another batch. */
export const REFILL_THRESHOLD = 20;
export const ROTATE_AFTER_MS = 2 * 24 * 60 * 60 * 1000;
export const KEEP_REPLACED_MS = 30 * 24 * 60 * 60 * 1000;

const NEXT_ID = {
  oneTime: 'prekeys.nextOneTimeId',
  signed: 'prekeys.nextSignedId',
  kyber: 'prekeys.nextKyberId',
} as const;

/** Prekey ids are u32 and wrap (Signal's MEDIUM_MAX_VALUE plays the same role). */
const MAX_ID = 0xffffff;

export interface PreKeyBatch {
  readonly signedPreKey?: SignedPreKey;
  readonly kyberLastResortPreKey?: KyberPreKey;
  readonly oneTimePreKeys: readonly OneTimePreKey[];
  readonly kyberPreKeys: readonly KyberPreKey[];
}

async function nextId(store: ClientStore, key: string): Promise<number> {
  const text = await store.getKv(key);
  return text === undefined ? 1 : Number(text);
}

const advance = (id: number, by: number) => ((id - 1 + by) % MAX_ID) + 1;

/**
 * Generates prekeys and stages them in a write batch (the caller uploads the public halves and then applies the
 * batch, or applies first: private halves stored but never uploaded do no harm).
 */
export async function generatePreKeys(
  crypto: CryptoProvider,
  store: ClientStore,
  identity: IdentityKeyPair,
  wanted: { signed?: boolean; lastResort?: boolean; oneTime?: number; kyberOneTime?: number },
  now = Date.now(),
): Promise<{ batch: PreKeyBatch; stage: (tx: StoreTx) => void }> {
  const oneTimeStart = await nextId(store, NEXT_ID.oneTime);
  const signedId = await nextId(store, NEXT_ID.signed);
  let kyberId = await nextId(store, NEXT_ID.kyber);

  // One at a time, so that one-time ids wrap at MAX_ID like the others (generateOneTimePreKeys counts on to 2^32).
  const oneTimePreKeys: OneTimePreKey[] = [];
  for (let i = 0, id = oneTimeStart; i < (wanted.oneTime ?? 0); i++, id = advance(id, 1)) {
    oneTimePreKeys.push(...(await generateOneTimePreKeys(crypto, id, 1)));
  }
  const signedPreKey = wanted.signed ? await generateSignedPreKey(crypto, identity, signedId, now) : undefined;
  let kyberLastResortPreKey: KyberPreKey | undefined;
  if (wanted.lastResort) {
    kyberLastResortPreKey = await generateKyberPreKey(crypto, identity, kyberId, true, now);
    kyberId = advance(kyberId, 1);
  }
  const kyberPreKeys: KyberPreKey[] = [];
  for (let i = 0; i < (wanted.kyberOneTime ?? 0); i++) {
    kyberPreKeys.push(await generateKyberPreKey(crypto, identity, kyberId, false, now));
    kyberId = advance(kyberId, 1);
  }
  const batch: PreKeyBatch = {
    ...(signedPreKey ? { signedPreKey } : {}),
    ...(kyberLastResortPreKey ? { kyberLastResortPreKey } : {}),
    oneTimePreKeys,
    kyberPreKeys,
  };
  const stage = (tx: StoreTx) => {
    for (const k of oneTimePreKeys) tx.putOneTimePreKey(k);
    for (const k of kyberPreKeys) tx.putKyberPreKey(k);
    if (signedPreKey) tx.putSignedPreKey(signedPreKey);
    if (kyberLastResortPreKey) tx.putKyberPreKey(kyberLastResortPreKey);
    tx.putKv(NEXT_ID.oneTime, String(advance(oneTimeStart, oneTimePreKeys.length)));
    if (signedPreKey) tx.putKv(NEXT_ID.signed, String(advance(signedId, 1)));
    tx.putKv(NEXT_ID.kyber, String(kyberId));
  };
  return { batch, stage };
}

/** What rotation is due now: a new signed prekey and/or a new last-resort ML-KEM prekey. */
export async function rotationDue(store: ClientStore, now = Date.now()): Promise<{ signed: boolean; lastResort: boolean }> {
  const signed = await store.listSignedPreKeys();
  const lastResort = (await store.listKyberPreKeys()).filter((k) => k.lastResort);
  const newest = (keys: readonly { createdAt: number }[]) => Math.max(-Infinity, ...keys.map((k) => k.createdAt));
  return { signed: now - newest(signed) >= ROTATE_AFTER_MS, lastResort: now - newest(lastResort) >= ROTATE_AFTER_MS };
}

/**
 * Stages the deletion of replaced keys whose replacement is older than KEEP_REPLACED_MS: an initial message that
 * used one has had a month to arrive (Signal keeps replaced signed prekeys the same way). The newest key of each
 * kind is never deleted. Call after the new keys are stored.
 */
export async function pruneReplaced(store: ClientStore, now = Date.now()): Promise<(tx: StoreTx) => void> {
  const expired = <K extends { readonly id: PreKeyId; readonly createdAt: number }>(keys: K[]): K[] => {
    const newestFirst = keys.sort((a, b) => b.createdAt - a.createdAt);
    // Each key was replaced when the next newer one was made.
    return newestFirst.filter((_, i) => i > 0 && now - (newestFirst[i - 1] as K).createdAt > KEEP_REPLACED_MS);
  };
  const oldSigned = expired(await store.listSignedPreKeys());
  const oldKyber = expired((await store.listKyberPreKeys()).filter((k) => k.lastResort));
  return (tx) => {
    for (const k of oldSigned) tx.removeSignedPreKey(k.id);
    for (const k of oldKyber) tx.removeKyberPreKey(k.id);
  };
}
