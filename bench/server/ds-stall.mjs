/**
 * Delivery Service stall (issue 14): how long verifying one commit to a large group holds the server's event loop,
 * on the event loop (`--ds-threads 0`) and on a worker thread (the default), in the same run. A script, not a test.
 *
 * Builds a group of `--members` devices (one account each, every identity key registered) with MlsEngine, then a
 * commit adding one more device, and verifies it with packages/server/dist's in-process and threaded verifiers in
 * turn, `--rounds` times each, while a timer that should fire every millisecond samples the event loop. Prints one
 * line per round and, as its last line, one JSON object.
 *
 *   npx tsc -b && node bench/server/ds-stall.mjs                 # 2,000 members
 *   node bench/server/ds-stall.mjs --members 10000 --rounds 2
 */
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { sampleEventLoop } from './event-loop.mjs';
import { MlsEngine, encodeIdentityKey, generateIdentityKeyPair, toHex } from '@samizdat/protocol';
import { NodeCryptoProvider } from '@samizdat/protocol/node';
import { nodeMlsCryptoProvider } from '@samizdat/protocol/groups-node';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const MEMBERS = Number(arg('members', 2000));
const ROUNDS = Number(arg('rounds', 3));
const root = resolve(fileURLToPath(new URL('../../', import.meta.url)));
const dist = (path) => import(pathToFileURL(join(root, 'packages/server/dist', path)).href);
const { inProcessVerifier } = await dist('ds/commit-verifier.js');
const { ThreadedVerifier } = await dist('ds/threaded-verifier.js');

const crypto = new NodeCryptoProvider();
const registered = new Map();
const engine = new MlsEngine({ crypto, isTrustedIdentity: () => true, mlsCryptoProvider: nodeMlsCryptoProvider });
/** A repository that answers getAccount from the registered keys: what the verifiers ask of one. */
const repo = { getAccount: async (id) => (registered.has(id) ? { identityKey: registered.get(id) } : undefined) };

async function device() {
  const identity = await generateIdentityKeyPair(crypto);
  const accountId = toHex(crypto.randomBytes(16));
  registered.set(accountId, encodeIdentityKey(identity.publicKey));
  return engine.createDeviceIdentity(identity, accountId, 1);
}

const t0 = performance.now();
let state = await engine.createGroup(await device());
const packages = [];
for (let i = 1; i < MEMBERS; i++) packages.push((await engine.generateKeyPackages(await device(), 1))[0].publicKeyPackage);
state = (await engine.addMembers(state, packages)).state;
const current = await engine.exportGroupInfo(state);
const add = await engine.addMembers(state, [(await engine.generateKeyPackages(await device(), 1))[0].publicKeyPackage]);
const next = await engine.exportGroupInfo(add.state);
console.log(`group of ${MEMBERS} built in ${Math.round(performance.now() - t0)} ms; GroupInfo ${Math.round(current.length / 1024)} KiB`);

/** Runs `work`, sampling the event loop every millisecond meanwhile; the longest gap is the stall. */
async function measured(work) {
  const { stallMs, wallMs } = await sampleEventLoop(work);
  return { stallMs, wallMs };
}

const local = inProcessVerifier(repo, crypto);
const threaded = new ThreadedVerifier({
  threads: 1,
  maxQueued: 8,
  isRegistered: async (id, key) => registered.has(id) && Buffer.compare(Buffer.from(registered.get(id)), Buffer.from(key)) === 0,
  addsOf: (c) => local.addsOf(c),
  workerUrl: pathToFileURL(join(root, 'packages/server/dist/ds/ds-worker.js')),
});
const results = { inProcess: [], threaded: [] };
await threaded.verifyCommit(current, add.commit, next); // the worker's first run loads its modules
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, verifier] of [['inProcess', local], ['threaded', threaded]]) {
    const r = await measured(async () => {
      const verified = await verifier.verifyCommit(current, add.commit, next);
      if (verified.next.members.length !== MEMBERS + 1) throw new Error('wrong member count');
    });
    results[name].push(r);
    console.log(`round ${round + 1} ${name.padEnd(9)} event-loop stall ${r.stallMs} ms, verification ${r.wallMs} ms`);
  }
}
await threaded.close();
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const summary = {
  members: MEMBERS,
  in_process_stall_ms: median(results.inProcess.map((r) => r.stallMs)),
  in_process_verify_ms: median(results.inProcess.map((r) => r.wallMs)),
  threaded_stall_ms: median(results.threaded.map((r) => r.stallMs)),
  threaded_verify_ms: median(results.threaded.map((r) => r.wallMs)),
};
summary.stall_ratio = Math.round((summary.in_process_stall_ms / Math.max(summary.threaded_stall_ms, 0.1)) * 10) / 10;
console.log(JSON.stringify(summary));
