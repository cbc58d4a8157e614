// Where one membership change of an n-member group spends its time: builds the group (batch add),
// has a member join, then takes a V8 CPU profile (node:inspector) around each of: creating an add commit, processing
// it, creating a remove commit, processing it. Prints the functions with the most self time (grouped by function and
// file) and each step's wall time. Not part of `npm run bench:groups`; run after `npm run build`:
//
//   BENCH_GROUP_SIZE=2000 [BENCH_PROVIDER=default] node --expose-gc bench/groups/profile.mjs
import { Session } from 'node:inspector/promises';
import { performance } from 'node:perf_hooks';
import { MlsEngine, encodeIdentityKey, generateIdentityKeyPair, toHex } from '@samizdat/protocol';
import { NodeCryptoProvider } from '@samizdat/protocol/node';
import { nodeMlsCryptoProvider } from '@samizdat/protocol/groups-node';

const n = Number(process.env.BENCH_GROUP_SIZE ?? 2000);
const top = Number(process.env.BENCH_PROFILE_TOP ?? 25);
const crypto = new NodeCryptoProvider();
const pinned = new Map();
const isTrustedIdentity = (accountId, identityKey) => pinned.get(accountId) === toHex(identityKey);
// BENCH_PROVIDER=default profiles ts-mls's default provider instead of ours.
const options = { crypto, isTrustedIdentity, ...(process.env.BENCH_PROVIDER === 'default' ? {} : { mlsCryptoProvider: nodeMlsCryptoProvider }) };

const devices = [];
let account;
for (let i = 0; i < n + 1; i++) {
  if (i % 10 === 0) {
    const identity = await generateIdentityKeyPair(crypto);
    account = { accountId: toHex(crypto.randomBytes(16)), identity };
    pinned.set(account.accountId, toHex(encodeIdentityKey(identity.publicKey)));
  }
  const engine = new MlsEngine(options);
  const mls = await engine.createDeviceIdentity(account.identity, account.accountId, (i % 10) + 1);
  const [bundle] = await engine.generateKeyPackages(mls, 1);
  devices.push({ mls, bundle });
}
const a = new MlsEngine(options);
const b = new MlsEngine(options);
const [creator, joiner, removed, ...others] = devices;
const extra = others.pop();
let t0 = performance.now();
let stateA = await a.createGroup(creator.mls);
const batch = await a.addMembers(stateA, [joiner, removed, ...others].map((d) => d.bundle.publicKeyPackage));
stateA = batch.state;
console.log(`n = ${n}: batch create ${Math.round(performance.now() - t0)} ms`);
let stateB = await b.joinFromWelcome(joiner.bundle.privateKeyPackage, batch.welcome);

const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.setSamplingInterval', { interval: 200 });

async function profiled(label, run) {
  if (global.gc) global.gc();
  await session.post('Profiler.start');
  const t = performance.now();
  const result = await run();
  const wall = performance.now() - t;
  const { profile } = await session.post('Profiler.stop');
  const self = new Map();
  const total = profile.endTime - profile.startTime;
  const dt = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    dt.set(profile.samples[i], (dt.get(profile.samples[i]) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  // Native frames (no file) are charged to their nearest caller that has one, named after it.
  const parentOf = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node);
  const name = (node) => {
    const { functionName, url, lineNumber } = node.callFrame;
    const file = url.replace(/^.*node_modules\//, '').replace(/^.*\/packages\//, '');
    return `${functionName || '(anonymous)'} ${file}:${lineNumber + 1}`;
  };
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  for (const node of profile.nodes) {
    let key = name(node);
    if (node.callFrame.url === '' && !node.callFrame.functionName.startsWith('(')) {
      let caller = parentOf.get(node.id);
      while (caller !== undefined && caller.callFrame.url === '') caller = parentOf.get(caller.id);
      if (caller !== undefined) key = `${node.callFrame.functionName} <- ${name(caller)}`;
    }
    self.set(key, (self.get(key) ?? 0) + (dt.get(node.id) ?? 0));
  }
  // Inclusive time per function: each sample counts once for every distinct function on its stack.
  const inclusive = new Map();
  for (const [id, us] of dt) {
    const keys = new Set();
    for (let node = byId.get(id); node !== undefined; node = parentOf.get(node.id)) keys.add(name(node));
    for (const key of keys) inclusive.set(key, (inclusive.get(key) ?? 0) + us);
  }
  console.log(`\n-- ${label}: ${Math.round(wall)} ms wall`);
  const print = (title, map) => {
    console.log(title);
    for (const [key, us] of [...map.entries()].sort((x, y) => y[1] - x[1]).slice(0, top)) {
      console.log(`${((us / total) * 100).toFixed(1).padStart(5)}%  ${key}`);
    }
  };
  print('self time:', self);
  print('inclusive time:', inclusive);
  return result;
}

const add = await profiled('add: create', () => a.addMembers(stateA, [extra.bundle.publicKeyPackage]));
const afterAdd = await profiled('add: process', () => b.processMessage(stateB, add.commit));
stateA = add.state;
stateB = afterAdd.state;
const remove = await profiled('remove: create', () =>
  a.removeMembers(stateA, [{ accountId: removed.mls.accountId, deviceId: removed.mls.deviceId }]),
);
await profiled('remove: process', () => b.processMessage(stateB, remove.commit));
session.disconnect();
