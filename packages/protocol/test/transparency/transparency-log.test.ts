/**
 * Samizdat's transparency log end to end, without I/O: a log publishes epochs, clients verify greatest-version
 * searches against the views they keep, an auditor replays the log — and a lying log is caught, each attack by the
 * party the test names (docs/protocol.md "Key transparency").
 */
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../src/errors.js';
import { Auditor } from '../../src/transparency/auditor.js';
import { accountLabel, decodeAccountValue, encodeAccountValue } from '../../src/transparency/labels.js';
import { decodeSearchResponse, encodeSearchResponse, verifySearch } from '../../src/transparency/search.js';
import type { KtViewState, SearchResponse } from '../../src/transparency/search.js';
import { TransparencyLog } from '../../src/transparency/transparency-log.js';
import type { EpochRecord } from '../../src/transparency/transparency-log.js';
import type { KtConfiguration } from '../../src/transparency/tree-head.js';
import { vrfGenerateKeyPair } from '../../src/transparency/vrf.js';
import { nodeProvider as crypto, providers } from '../helpers.js';

const T0 = 1_800_000_000_000;
const MINUTE = 60_000;
const ALICE = 'a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1';
const BOB = 'b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0';
const identity = (fill: number) => encodeAccountValue({ identityKey: new Uint8Array(65).fill(fill) });

async function newLog(): Promise<{ log: TransparencyLog; config: KtConfiguration; keys: { signingKey: Uint8Array; vrfSecretKey: Uint8Array } }> {
  const signing = await crypto.ed25519GenerateKeyPair();
  const vrf = await vrfGenerateKeyPair(crypto);
  const config: KtConfiguration = { signaturePublicKey: signing.publicKey, vrfPublicKey: vrf.publicKey, maxAhead: 5 * MINUTE, maxBehind: 24 * 60 * MINUTE, reasonableMonitoringWindow: 24 * 60 * MINUTE };
  const keys = { signingKey: signing.privateKey, vrfSecretKey: vrf.privateKey };
  return { log: new TransparencyLog(crypto, config, keys), config, keys };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => 'no error',
    (err: unknown) => (ProtocolError.is(err) ? err.code : String(err)),
  );
}

async function search(log: TransparencyLog, accountId: string, state?: KtViewState): Promise<SearchResponse> {
  const response = await log.search(accountLabel(accountId), state?.treeSize);
  if (!response) throw new Error('no such label');
  return response;
}

describe('transparency log', () => {
  it("proves a label's greatest version to a client, then its change, each consistent with what the client saw", async () => {
    const { log, config } = await newLog();
    log.stage(accountLabel(ALICE), identity(1));
    log.stage(accountLabel(BOB), identity(2));
    await log.publishEpoch(T0);
    for (let i = 1; i <= 5; i++) await log.publishEpoch(T0 + i * MINUTE);

    for (const [, provider] of providers) {
      const first = await verifySearch(provider, config, accountLabel(BOB), await search(log, BOB), { now: T0 + 6 * MINUTE });
      expect(first.version).toBe(0);
      expect(decodeAccountValue(first.value).identityKey[0]).toBe(2);
      expect(first.state.treeSize).toBe(6);
    }

    const alice = await verifySearch(crypto, config, accountLabel(BOB), await search(log, BOB), { now: T0 + 6 * MINUTE });
    // Bob's key changes: a new version, in a later epoch. Alice's next lookup proves it from her view.
    expect(log.stage(accountLabel(BOB), identity(2))).toBe(false); // the same value is not a change
    expect(log.stage(accountLabel(BOB), identity(3))).toBe(true);
    await log.publishEpoch(T0 + 7 * MINUTE);
    const changed = await verifySearch(crypto, config, accountLabel(BOB), await search(log, BOB, alice.state), { state: alice.state, now: T0 + 7 * MINUTE });
    expect(changed.version).toBe(1);
    expect(decodeAccountValue(changed.value).identityKey[0]).toBe(3);
    expect(changed.state.treeSize).toBe(7);
    // Asking again at the same size verifies against the retained view too.
    const again = await verifySearch(crypto, config, accountLabel(BOB), await search(log, BOB, changed.state), { state: changed.state, now: T0 + 7 * MINUTE });
    expect(again.version).toBe(1);
  });

  it('sends a proof that decodes to itself, in under 2 KB for a label with one version', async () => {
    const { log, config } = await newLog();
    for (let i = 0; i < 200; i++) log.stage(accountLabel(i.toString(16).padStart(32, '0')), identity(i & 0xff));
    log.stage(accountLabel(BOB), identity(2));
    await log.publishEpoch(T0);
    const response = await search(log, BOB);
    const bytes = encodeSearchResponse(response);
    expect(decodeSearchResponse(bytes)).toEqual(response);
    expect(bytes.length).toBeLessThan(2048);
    await verifySearch(crypto, config, accountLabel(BOB), decodeSearchResponse(bytes), { now: T0 });
    for (const cut of [1, 10, bytes.length - 1]) expect(() => decodeSearchResponse(bytes.subarray(0, cut))).toThrow(ProtocolError);
    expect(() => decodeSearchResponse(Uint8Array.of(...bytes, 0))).toThrow(ProtocolError);
  });

  it('refuses a response whose value, version, ladder, timestamp or signature was changed', async () => {
    const { log, config } = await newLog();
    log.stage(accountLabel(BOB), identity(2));
    await log.publishEpoch(T0);
    log.stage(accountLabel(BOB), identity(3));
    await log.publishEpoch(T0 + MINUTE);
    const honest = await search(log, BOB);
    const label = accountLabel(BOB);
    const now = T0 + MINUTE;
    expect(await codeOf(verifySearch(crypto, config, label, honest, { now }))).toBe('no error');
    const bad: SearchResponse[] = [
      { ...honest, value: identity(9) }, // another key for bob
      { ...honest, version: 0 }, // hide the change: version 1 exists and cannot be proved absent
      { ...honest, ladder: honest.ladder.slice(1) },
      { ...honest, ladder: [honest.ladder[1], honest.ladder[0], ...honest.ladder.slice(2)] as SearchResponse['ladder'] },
      { ...honest, timestamp: honest.timestamp + 1 },
      { ...honest, treeHead: { ...honest.treeHead, signature: honest.treeHead.signature.map((b, i) => (i === 0 ? b ^ 1 : b)) } },
      { ...honest, opening: new Uint8Array(16) },
    ];
    for (const response of bad) expect(await codeOf(verifySearch(crypto, config, label, response, { now }))).toBe('INVALID_PROOF');
    // Another label's proof does not pass for bob's.
    expect(await codeOf(verifySearch(crypto, config, accountLabel(ALICE), honest, { now }))).toBe('INVALID_PROOF');
    // Nor a log with another VRF key.
    const other = await newLog();
    expect(await codeOf(verifySearch(crypto, { ...config, vrfPublicKey: other.config.vrfPublicKey }, label, honest, { now }))).toBe('INVALID_PROOF');
  });

  it('refuses a log that has stopped (older than max_behind) or runs ahead of the clock', async () => {
    const { log, config } = await newLog();
    log.stage(accountLabel(BOB), identity(2));
    await log.publishEpoch(T0);
    const response = await search(log, BOB);
    expect(await codeOf(verifySearch(crypto, config, accountLabel(BOB), response, { now: T0 + config.maxBehind + 1 }))).toBe('INVALID_PROOF');
    expect(await codeOf(verifySearch(crypto, config, accountLabel(BOB), response, { now: T0 - config.maxAhead - 1 }))).toBe('INVALID_PROOF');
  });

  it('lying log (c), rolling back an epoch: caught by the client, whose view is ahead of it', async () => {
    const { log, config } = await newLog();
    log.stage(accountLabel(BOB), identity(2));
    await log.publishEpoch(T0);
    const old = await search(log, BOB);
    await log.publishEpoch(T0 + MINUTE);
    const seen = await verifySearch(crypto, config, accountLabel(BOB), await search(log, BOB), { now: T0 + MINUTE });
    expect(await codeOf(verifySearch(crypto, config, accountLabel(BOB), old, { state: seen.state, now: T0 + MINUTE }))).toBe('INVALID_PROOF');
  });

  it('lying log (b), forking tree heads between two clients: caught by a client that requires an auditor', async () => {
    // The operator runs two logs from the same keys: alice is served a fork where bob has a key the operator holds.
    const { log: main, config, keys } = await newLog();
    const fork = new TransparencyLog(crypto, config, keys);
    const records: EpochRecord[] = [];
    main.stage(accountLabel(ALICE), identity(1));
    main.stage(accountLabel(BOB), identity(2));
    records.push(await main.publishEpoch(T0));
    for (const record of records) await fork.replay(record);
    fork.stage(accountLabel(BOB), identity(66));
    await fork.publishEpoch(T0 + MINUTE);
    await main.publishEpoch(T0 + MINUTE);

    // The auditor follows the log everyone else sees, and countersigns it.
    const auditor = new Auditor(crypto, config);
    const auditorKeys = await crypto.ed25519GenerateKeyPair();
    for (let index = 0; index < main.size; index++) {
      const { timestamp, updates } = main.epochUpdates(index);
      await auditor.check({ index, timestamp, updates, treeHead: index === main.size - 1 ? (main.treeHead as never) : records[index]!.treeHead });
    }
    const countersigned = await auditor.countersign(auditorKeys.privateKey);
    await main.addAuditorHead(auditorKeys.publicKey, countersigned);
    // The fork cannot take the countersignature: it signs another root at that size.
    expect(await codeOf(fork.addAuditorHead(auditorKeys.publicKey, countersigned))).toBe('INVALID_PROOF');

    const required = [{ publicKey: auditorKeys.publicKey, maxLag: 10 * MINUTE }];
    const onMain = await verifySearch(crypto, config, accountLabel(BOB), await search(main, BOB), { now: T0 + MINUTE, auditors: required });
    expect(onMain.version).toBe(0);
    // Without an auditor alice would accept the fork's key; requiring one, she refuses it.
    const forked = await search(fork, BOB);
    expect((await verifySearch(crypto, config, accountLabel(BOB), forked, { now: T0 + MINUTE })).version).toBe(1);
    expect(await codeOf(verifySearch(crypto, config, accountLabel(BOB), forked, { now: T0 + MINUTE, auditors: required }))).toBe('INVALID_PROOF');
    // Grafting the main log's auditor proof onto the fork's response does not help either.
    const grafted: SearchResponse = { ...forked, auditors: (await search(main, BOB)).auditors };
    expect(await codeOf(verifySearch(crypto, config, accountLabel(BOB), grafted, { now: T0 + MINUTE, auditors: required }))).toBe('INVALID_PROOF');
  });

  it('lying log (a), a fresh key for bob shown to alice only, in the one log: caught by bob, who sees a version he never published', async () => {
    const { log, config } = await newLog();
    log.stage(accountLabel(BOB), identity(2));
    await log.publishEpoch(T0);
    const bobPublished = [identity(2)];
    // The operator adds a key of its own for bob; to make alice accept it, it must be in the log.
    log.stage(accountLabel(BOB), identity(66));
    await log.publishEpoch(T0 + MINUTE);
    const alice = await verifySearch(crypto, config, accountLabel(BOB), await search(log, BOB), { now: T0 + MINUTE });
    expect(alice.version).toBe(1);
    // Bob monitors his own label: the log's greatest version is one he did not publish.
    const own = await verifySearch(crypto, config, accountLabel(BOB), await search(log, BOB), { now: T0 + MINUTE });
    expect(own.version).toBeGreaterThan(bobPublished.length - 1);
  });

  it("lying log (d), a key change left out of bob's monitoring: the auditor refuses the tree that lost it, and bob, requiring the auditor, refuses it too", async () => {
    const { log, config, keys } = await newLog();
    const auditor = new Auditor(crypto, config);
    const auditorKeys = await crypto.ed25519GenerateKeyPair();
    log.stage(accountLabel(BOB), identity(2));
    const first = await log.publishEpoch(T0);
    log.stage(accountLabel(BOB), identity(66)); // the operator's key, which alice is shown
    const second = await log.publishEpoch(T0 + MINUTE);
    for (const record of [first, second]) {
      await auditor.check({ index: record.index, timestamp: record.timestamp, updates: log.epochUpdates(record.index).updates, treeHead: record.treeHead });
    }
    await log.addAuditorHead(auditorKeys.publicKey, await auditor.countersign(auditorKeys.privateKey));
    const required = [{ publicKey: auditorKeys.publicKey, maxLag: 10 * MINUTE }];
    expect((await verifySearch(crypto, config, accountLabel(BOB), await search(log, BOB), { now: T0 + MINUTE, auditors: required })).version).toBe(1);

    // What bob is shown: the same first epoch, then entries without his version 1, signed with the log's key.
    const forBob = new TransparencyLog(crypto, config, keys);
    await forBob.replay(first);
    await forBob.publishEpoch(T0 + MINUTE);
    const hidden = await forBob.publishEpoch(T0 + 2 * MINUTE);
    const bobSees = await search(forBob, BOB);
    expect((await verifySearch(crypto, config, accountLabel(BOB), bobSees, { now: T0 + 2 * MINUTE })).version).toBe(0); // fooled without an auditor
    // The auditor, handed that head as the log's entry 2 (no new leaves), computes another root and refuses it.
    expect(await codeOf(auditor.check({ index: 2, timestamp: T0 + 2 * MINUTE, updates: [], treeHead: hidden.treeHead }))).toBe('INVALID_PROOF');
    expect(auditor.failed).toBeDefined();
    expect(await codeOf(auditor.countersign(auditorKeys.privateKey))).toBe('INVALID_PROOF');
    // Bob requiring the auditor's countersignature refuses what he is shown, with or without the real log's auditor proof.
    expect(await codeOf(verifySearch(crypto, config, accountLabel(BOB), bobSees, { now: T0 + 2 * MINUTE, auditors: required }))).toBe('INVALID_PROOF');
    const grafted: SearchResponse = { ...bobSees, auditors: (await search(log, BOB)).auditors };
    expect(await codeOf(verifySearch(crypto, config, accountLabel(BOB), grafted, { now: T0 + 2 * MINUTE, auditors: required }))).toBe('INVALID_PROOF');
  });

  it('an auditor refuses an entry that re-adds a search key it already holds, or goes back in time', async () => {
    const { log, config } = await newLog();
    const auditor = new Auditor(crypto, config);
    log.stage(accountLabel(BOB), identity(2));
    const first = await log.publishEpoch(T0);
    await auditor.check({ index: 0, timestamp: T0, updates: log.epochUpdates(0).updates, treeHead: first.treeHead });
    const second = await log.publishEpoch(T0 + MINUTE);
    const again = new Auditor(crypto, config);
    await again.check({ index: 0, timestamp: T0, updates: log.epochUpdates(0).updates, treeHead: first.treeHead });
    expect(await codeOf(again.check({ index: 1, timestamp: T0 + MINUTE, updates: log.epochUpdates(0).updates, treeHead: second.treeHead }))).toBe('INVALID_PROOF');
    expect(await codeOf(auditor.check({ index: 1, timestamp: T0 - 1, updates: [], treeHead: second.treeHead }))).toBe('INVALID_PROOF');
  });

  it('rebuilds from its stored epochs to the same signed tree, answering the same searches', async () => {
    const { log, config, keys } = await newLog();
    const records: EpochRecord[] = [];
    for (let e = 0; e < 4; e++) {
      log.stage(accountLabel(ALICE), identity(10 + e));
      log.stage(accountLabel(BOB), identity(20 + e));
      records.push(await log.publishEpoch(T0 + e * MINUTE));
    }
    const restored = new TransparencyLog(crypto, config, keys);
    for (const record of records) await restored.replay(record);
    expect(restored.treeHead).toEqual(log.treeHead);
    const response = await search(restored, BOB);
    expect((await verifySearch(crypto, config, accountLabel(BOB), response, { now: T0 + 3 * MINUTE })).version).toBe(3);
    // A stored record that was altered does not replay to its signature: the first search proves it.
    const tampered = new TransparencyLog(crypto, config, keys);
    const first = records[0] as EpochRecord;
    await tampered.replay({ ...first, versions: first.versions.map((v) => ({ ...v, value: identity(99) })) });
    const lie = await search(tampered, ALICE);
    expect(await codeOf(verifySearch(crypto, config, accountLabel(ALICE), lie, { now: T0 }))).toBe('INVALID_PROOF');
  });
});
