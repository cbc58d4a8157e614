// MLS group benchmark: our MlsEngine (ts-mls 1.6.4, default suite X-Wing + Ed25519) with the node:crypto provider
// against ts-mls's default provider in the same run, for groups of n = 100, 1,000 and 10,000 devices; and the
// sender's cost of one group message against sending it pairwise to n devices with the 1:1 protocol
// (SessionManager.encryptForDevices). Run with `npm run bench:groups` (builds first). Last line: one JSON object.
//
// The server's verification of each commit (MlsDeliveryService.verifyCommit, issue 14) is timed beside it: `ds_*_ms`,
// the event-loop time the server spends before it orders the commit.
//
// Environment: BENCH_GROUP_SIZES=100,1000,10000  BENCH_GROUP_PROVIDERS=native,default  BENCH_PAIRWISE=1  BENCH_FILLED=1
import { performance } from 'node:perf_hooks';
import {
  InMemoryProtocolStore,
  MlsDeliveryService,
  MlsEngine,
  SessionManager,
  encodeIdentityKey,
  epochOf,
  generateIdentityKeyPair,
  generateKyberPreKey,
  generateSignedPreKey,
  membersOfGroup,
  toHex,
} from '@samizdat/protocol';
import { NodeCryptoProvider } from '@samizdat/protocol/node';
import { nodeMlsCryptoProvider } from '@samizdat/protocol/groups-node';

const sizes = (process.env.BENCH_GROUP_SIZES ?? '100,1000,10000').split(',').map(Number);
const providerNames = (process.env.BENCH_GROUP_PROVIDERS ?? 'native,default').split(',');
const pairwise = process.env.BENCH_PAIRWISE !== '0';
const filled = process.env.BENCH_FILLED !== '0';
const crypto = new NodeCryptoProvider();
const DEVICES_PER_ACCOUNT = 10;

const ms = (t0) => Math.round((performance.now() - t0) * 10) / 10;
const kb = (bytes) => Math.round(bytes / 102.4) / 10;
const log = (...args) => console.log(...args);

/** Accounts of 10 devices each, every client pinning every account's identity key. */
async function population(n) {
  const pinned = new Map();
  const isTrustedIdentity = (accountId, identityKey) => pinned.get(accountId) === toHex(identityKey);
  const engine = new MlsEngine({ crypto, isTrustedIdentity, mlsCryptoProvider: nodeMlsCryptoProvider });
  const devices = [];
  let account;
  for (let i = 0; i < n; i++) {
    if (i % DEVICES_PER_ACCOUNT === 0) {
      const identity = await generateIdentityKeyPair(crypto);
      account = { accountId: toHex(crypto.randomBytes(16)), identity };
      pinned.set(account.accountId, toHex(encodeIdentityKey(identity.publicKey)));
    }
    const mls = await engine.createDeviceIdentity(account.identity, account.accountId, (i % DEVICES_PER_ACCOUNT) + 1);
    const [bundle] = await engine.generateKeyPackages(mls, 1);
    devices.push({ mls, bundle });
  }
  return { devices, isTrustedIdentity };
}

async function groupRun(n, providerName, people) {
  const mlsCryptoProvider = providerName === 'native' ? nodeMlsCryptoProvider : undefined;
  const options = { crypto, isTrustedIdentity: people.isTrustedIdentity, ...(mlsCryptoProvider ? { mlsCryptoProvider } : {}) };
  const a = new MlsEngine(options); // the creator, who also adds and removes
  const b = new MlsEngine(options); // a member who joins by Welcome and processes everything
  const ds = new MlsDeliveryService({ crypto, isTrustedIdentity: people.isTrustedIdentity, ...(mlsCryptoProvider ? { mlsCryptoProvider } : {}) });
  const [creator, joiner, removed, ...others] = people.devices;
  const extra = others.pop(); // added later, one by one
  const r = {};
  const commits = []; // every commit after the batch add, in order (for members who join late and catch up)
  /** The DS's verification of `commit`, which moves the group from `before` to `after` (GroupInfos exported untimed). */
  const verified = async (name, engine, before, commit, after) => {
    const current = await engine.exportGroupInfo(before);
    const next = await engine.exportGroupInfo(after);
    const t = performance.now();
    const result = await ds.verifyCommit(current, commit, next);
    r[`ds_${name}_ms`] = ms(t);
    if (result.next.members.length !== membersOfGroup(after).length) throw new Error(`${name}: the DS derived the wrong members`);
  };

  let t0 = performance.now();
  let stateA = await a.createGroup(creator.mls);
  const empty = stateA;
  const batch = await a.addMembers(stateA, [joiner, removed, ...others].map((d) => d.bundle.publicKeyPackage));
  stateA = batch.state;
  r.create_ms = ms(t0);
  r.welcome_kb = kb(batch.welcome.length);
  if (providerName === 'native') await verified('batch_add', a, empty, batch.commit, stateA);

  t0 = performance.now();
  let stateB = await b.joinFromWelcome(joiner.bundle.privateKeyPackage, batch.welcome);
  r.join_ms = ms(t0);
  if (membersOfGroup(stateB).length !== n - 1) throw new Error('join produced the wrong member count');

  const step = async (name, committer, make) => {
    const engines = committer === 'a' ? [a, b] : [b, a];
    const states = () => (committer === 'a' ? [stateA, stateB] : [stateB, stateA]);
    const [mine] = states();
    let t = performance.now();
    const result = await make(engines[0], mine);
    r[`${name}_create_ms`] = ms(t);
    r[`${name}_commit_kb`] = kb(result.commit.length);
    t = performance.now();
    const processed = await engines[1].processMessage(states()[1], result.commit);
    r[`${name}_process_ms`] = ms(t);
    if (providerName === 'native') await verified(name, engines[0], mine, result.commit, result.state);
    commits.push(result.commit);
    if (committer === 'a') [stateA, stateB] = [result.state, processed.state];
    else [stateB, stateA] = [result.state, processed.state];
    if (epochOf(stateA) !== epochOf(stateB)) throw new Error(`${name}: epochs diverged`);
  };
  await step('add', 'a', (e, s) => e.addMembers(s, [extra.bundle.publicKeyPackage]));
  await step('remove', 'a', (e, s) =>
    e.removeMembers(s, [{ accountId: removed.mls.accountId, deviceId: removed.mls.deviceId }]),
  );
  await step('update', 'b', (e, s) => e.update(s));

  const plaintext = new Uint8Array(256);
  t0 = performance.now();
  const sent = await a.encrypt(stateA, plaintext);
  r.app_encrypt_ms = ms(t0);
  r.app_message_bytes = sent.message.length;
  stateA = sent.state;
  t0 = performance.now();
  const received = await b.processMessage(stateB, sent.message);
  r.app_decrypt_ms = ms(t0);
  if (received.kind !== 'application') throw new Error('application message not decrypted');
  stateB = received.state;
  r.state_kb_creator = kb(a.encodeGroupState(stateA).length);
  // Storing the state: first after a commit (its tree not encoded yet; decoded by an engine that never saw it)...
  t0 = performance.now();
  let stored = b.encodeGroupState(stateB);
  r.state_encode_ms = ms(t0);
  r.state_kb_member = kb(stored.length);
  t0 = performance.now();
  new MlsEngine(options).decodeGroupState(stored);
  r.state_decode_ms = ms(t0);
  // ...then what a client adds to each message it receives: load the stored state, process, store it again.
  b.decodeGroupState(stored);
  const another = await a.encrypt(stateA, plaintext);
  stateA = another.state;
  t0 = performance.now();
  const loaded = b.decodeGroupState(stored);
  let storeMs = performance.now() - t0;
  const got = await b.processMessage(loaded, another.message);
  t0 = performance.now();
  stored = b.encodeGroupState(got.state);
  storeMs += performance.now() - t0;
  r.message_state_io_ms = Math.round(storeMs * 10) / 10;
  stateB = got.state;

  if (filled && providerName === 'native') {
    Object.assign(r, await filledRemove({ a, b, stateA, stateB, commits, welcome: batch.welcome, options, people }));
  }
  return r;
}

/**
 * A remove once the tree has filled. Right after a batch add every parent node is blank, so the remove above
 * encrypts to ~n leaves (RFC 9420 resolution); in a group whose members have committed, the committer's copath
 * nodes hold keys and a remove encrypts to O(log n) nodes. Here the creator's copath is filled the way it fills in
 * use: for every copath subtree [2^k, 2^(k+1)) of the creator (leaf 0), its first member joins from the batch
 * Welcome, catches up and commits an update (largest subtree first; the member at leaf 1 updated above, which filled
 * the creator's direct path). Then the creator removes the updater of [2, 4): the commit the goal is about, timed.
 */
async function filledRemove({ a, b, stateA, stateB, commits, welcome, options, people }) {
  const t0 = performance.now();
  const device = new Map(people.devices.map((d) => [`${d.mls.accountId}/${d.mls.deviceId}`, d]));
  const leaves = new Map(membersOfGroup(stateA).map((m) => [m.leafIndex, m]));
  const maxLeaf = Math.max(...leaves.keys());
  const updaters = [];
  for (let k = 1; 2 ** k <= maxLeaf; k++) {
    for (let leaf = 2 ** k; leaf < 2 ** (k + 1) && leaf <= maxLeaf; leaf++) {
      const member = leaves.get(leaf);
      if (member !== undefined) {
        updaters.push(member);
        break;
      }
    }
  }
  for (const member of [...updaters].reverse()) {
    const engine = new MlsEngine(options);
    const d = device.get(`${member.accountId}/${member.deviceId}`);
    let state = await engine.joinFromWelcome(d.bundle.privateKeyPackage, welcome);
    for (const commit of commits) state = (await engine.processMessage(state, commit)).state;
    const update = await engine.update(state);
    commits.push(update.commit);
    stateA = (await a.processMessage(stateA, update.commit)).state;
    stateB = (await b.processMessage(stateB, update.commit)).state;
  }
  const r = { filled_setup_ms: ms(t0), filled_updaters: updaters.length };
  const target = updaters[0]; // the member of [2, 4)
  let t = performance.now();
  const remove = await a.removeMembers(stateA, [{ accountId: target.accountId, deviceId: target.deviceId }]);
  r.filled_remove_create_ms = ms(t);
  r.filled_remove_commit_kb = kb(remove.commit.length);
  t = performance.now();
  const processed = await b.processMessage(stateB, remove.commit);
  r.filled_remove_process_ms = ms(t);
  if (epochOf(processed.state) !== epochOf(remove.state)) throw new Error('filled remove: epochs diverged');
  return r;
}

/** One sender, n recipient devices: sessions first (PQXDH), then the cost of one 256-byte message to all. */
async function pairwiseRun(n) {
  const identity = await generateIdentityKeyPair(crypto);
  const sender = new SessionManager(crypto, new InMemoryProtocolStore(identity));
  // One recipient key set behind every address: the sender's work per session is the same as with n distinct ones.
  const recipient = await generateIdentityKeyPair(crypto);
  const now = Date.now();
  const signed = await generateSignedPreKey(crypto, recipient, 1, now);
  const kyber = await generateKyberPreKey(crypto, recipient, 1000, true, now);
  const bundle = {
    identityKey: recipient.publicKey,
    deviceId: 1,
    signedPreKey: { id: signed.id, publicKey: signed.keyPair.publicKey, signature: signed.signature },
    kyberPreKey: { id: kyber.id, publicKey: kyber.keyPair.publicKey, signature: kyber.signature },
  };
  const addresses = [];
  for (let i = 0; i < n; i++) addresses.push({ account: `r${Math.floor(i / DEVICES_PER_ACCOUNT)}`, device: (i % DEVICES_PER_ACCOUNT) + 1 });
  let t0 = performance.now();
  for (const address of addresses) await sender.processPreKeyBundle(address, { ...bundle, deviceId: address.device });
  const setup = ms(t0);
  const plaintext = new Uint8Array(256);
  await sender.encryptForDevices(addresses, plaintext); // first send: prekey messages
  t0 = performance.now();
  const out = await sender.encryptForDevices(addresses, plaintext);
  const encrypt = ms(t0);
  let bytes = 0;
  for (const c of out) bytes += c.message.body.length;
  return { pairwise_session_setup_ms: setup, pairwise_encrypt_ms: encrypt, pairwise_kb: kb(bytes) };
}

const summary = { suite: 'MLS_256_XWING_AES256GCM_SHA512_Ed25519', node: process.version };
for (const n of sizes) {
  let t0 = performance.now();
  const people = await population(n);
  log(`\n== n = ${n} (devices and key packages prepared in ${ms(t0)} ms)`);
  const results = {};
  for (const providerName of providerNames) {
    t0 = performance.now();
    results[providerName] = await groupRun(n, providerName, people);
    log(`${providerName.padEnd(8)} ${JSON.stringify(results[providerName])} (run ${ms(t0)} ms)`);
    if (global.gc) global.gc();
  }
  for (const [key, value] of Object.entries(results.native ?? {})) summary[`${key}_${n}`] = value;
  if (results.native && results.default) {
    const ratios = {};
    for (const key of Object.keys(results.native)) {
      if (key.endsWith('_ms') && results.default[key] !== undefined) {
        ratios[key] = Math.round((results.default[key] / Math.max(results.native[key], 0.1)) * 10) / 10;
        summary[`default_${key}_${n}`] = results.default[key];
      }
    }
    log(`default/native time ratio ${JSON.stringify(ratios)}`);
    for (const [key, value] of Object.entries(ratios)) summary[`ratio_${key}_${n}`] = value;
  }
  if (pairwise) {
    const p = await pairwiseRun(n);
    log(`pairwise 1:1 to ${n} devices ${JSON.stringify(p)}; group message ${results.native?.app_encrypt_ms} ms`);
    for (const [key, value] of Object.entries(p)) summary[`${key}_${n}`] = value;
  }
}
console.log(JSON.stringify(summary));
