/**
 * Key transparency: proof sizes, verification time and epoch time on trees of 10^4, 10^5 and 10^6 labels
 * (packages/protocol/src/transparency/, docs/protocol.md "Key transparency").
 *
 * Each tree is built here, not stored: N - 1 background labels with one version each (their VRF outputs and
 * commitments are random bytes — what real ones are indistinguishable from — because proving 10^6 VRFs would take
 * the bench an hour and changes nothing in the trees), plus one real label, account `bob`, whose version 0 has a
 * real VRF proof and commitment. The log holds two days of 60-second epochs (2,880 entries). For `bob` it then makes
 * the search response the log would send (transparency-log.ts does the same steps) and measures:
 *   - proof bytes for a first lookup (no retained view) and for a client that last looked an hour ago;
 *   - the same response in the IETF draft's layout (its PrefixProof encoding, 1-byte ladder length), for comparison;
 *   - the client's verifySearch time (median of 50), and as a ratio to one Ed25519 verify measured in the same run;
 *   - memory of the trees (array buffers);
 *   - an epoch of 10,000 updates on the 10^6 tree: 10,000 VRF proofs, their outputs, commitments, the batched
 *     prefix-tree insert, the log append and the tree head signature, in the order publishEpoch runs them;
 *   - monitoring bytes per day: an owner device checks its three labels (account, username, device) once a day
 *     with a view a day old.
 *
 *   npm run bench:kt                      # all sizes
 *   node bench/kt/run.mjs --sizes 10000   # after npm run build
 * The last line is one JSON object.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { NodeCryptoProvider } from '../../packages/protocol/dist/crypto/node-provider.js';
import {
  LogTree,
  PrefixTree,
  accountLabel,
  baseBinaryLadder,
  commitment,
  encodeAccountValue,
  encodeCompactPrefixProof,
  encodeSearchResponse,
  signTreeHead,
  verifySearch,
  vrfGenerateKeyPair,
  vrfInput,
  vrfOutput32,
  vrfProofToHash,
  vrfProve,
} from '../../packages/protocol/dist/index.js';
import { encodePrefixProof } from '../../packages/protocol/dist/transparency/prefix-tree.js';

const crypto = new NodeCryptoProvider();
const args = process.argv.slice(2);
const sizesArg = args.indexOf('--sizes');
const SIZES = sizesArg >= 0 ? String(args[sizesArg + 1]).split(',').map(Number) : [10_000, 100_000, 1_000_000];
const EPOCH_MS = 60_000;
const ENTRIES = 2 * 24 * 60; // two days of epochs
const HOUR_ENTRIES = 60;
const DAY_ENTRIES = 24 * 60;
const EPOCH_UPDATES = 10_000;
const T0 = Date.now() - ENTRIES * EPOCH_MS;
const BOB = 'b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0';

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function timeIt(runs, fn) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await fn();
    times.push(performance.now() - start);
  }
  return median(times);
}

function randomLeaves(count) {
  const bytes = randomBytes(count * 64);
  const leaves = new Array(count);
  for (let i = 0; i < count; i++) leaves[i] = { vrfOutput: bytes.subarray(i * 64, i * 64 + 32), commitment: bytes.subarray(i * 64 + 32, i * 64 + 64) };
  return leaves;
}

async function build(n, keys, config) {
  global.gc?.();
  const before = process.memoryUsage().arrayBuffers;
  const prefix = new PrefixTree();
  const started = performance.now();
  for (let done = 0; done < n - 1; done += 100_000) prefix.insertMany(randomLeaves(Math.min(100_000, n - 1 - done)));
  const label = accountLabel(BOB);
  const value = encodeAccountValue({ identityKey: new Uint8Array(65).fill(2) });
  const opening = randomBytes(16);
  const proof0 = await vrfProve(crypto, keys.vrf.privateKey, vrfInput(label, 0));
  const own = await commitment(crypto, opening, label, 0, value);
  prefix.insert(vrfOutput32(await vrfProofToHash(crypto, proof0)), own);
  const log = new LogTree();
  for (let i = 0; i < ENTRIES - 1; i++) log.append(T0 + i * EPOCH_MS, randomBytes(32));
  const timestamp = T0 + (ENTRIES - 1) * EPOCH_MS;
  log.append(timestamp, prefix.root());
  const buildMs = performance.now() - started;
  global.gc?.();
  const memory = process.memoryUsage().arrayBuffers - before;
  const treeHead = await signTreeHead(crypto, keys.signing.privateKey, config, ENTRIES, log.root());

  // The search response, as TransparencyLog.search makes it.
  const ladder = [];
  const searchKeys = [];
  for (const v of baseBinaryLadder(0)) {
    const proof = v === 0 ? proof0 : await vrfProve(crypto, keys.vrf.privateKey, vrfInput(label, v));
    ladder.push({ proof });
    searchKeys.push(vrfOutput32(await vrfProofToHash(crypto, proof)));
  }
  const prefixProof = prefix.prove(searchKeys);
  const response = (previousSize) => ({
    treeHead,
    auditors: [],
    version: 0,
    opening,
    value,
    ladder,
    timestamp,
    prefixProof,
    inclusion: log.prove([ENTRIES - 1], previousSize === undefined ? {} : { previousSize }),
  });
  return { prefix, log, label, response, buildMs, memory, prefixProof };
}

async function main() {
  const keys = { signing: await crypto.ed25519GenerateKeyPair(), vrf: await vrfGenerateKeyPair(crypto) };
  const config = { signaturePublicKey: keys.signing.publicKey, vrfPublicKey: keys.vrf.publicKey, maxAhead: 300_000, maxBehind: 86_400_000, reasonableMonitoringWindow: 86_400_000 };
  const message = randomBytes(100);
  const signature = await crypto.ed25519Sign(keys.signing.privateKey, message);
  const ed25519Ms = await timeIt(200, () => crypto.ed25519Verify(keys.signing.publicKey, message, signature));
  const out = { entries: ENTRIES, ed25519_verify_ms: Number(ed25519Ms.toFixed(4)) };
  let largest;
  for (const n of SIZES) {
    const tree = await build(n, keys, config);
    const first = tree.response(undefined);
    const firstBytes = encodeSearchResponse(first).length;
    const returning = tree.response(ENTRIES - HOUR_ENTRIES);
    const returningBytes = encodeSearchResponse(returning).length;
    const dayOld = encodeSearchResponse(tree.response(ENTRIES - DAY_ENTRIES)).length;
    // The draft's layout: its PrefixProof encoding (zero stand-ins sent in full, 1-byte results length) and a
    // 1-byte binary_ladder length instead of our 2.
    const draftBytes = firstBytes - encodeCompactPrefixProof(tree.prefixProof).length + encodePrefixProof(tree.prefixProof).length - 1;
    // The client's check of a first lookup.
    const verifyMs = await timeIt(50, () => verifySearch(crypto, config, tree.label, first, { now: Date.now() }));
    out[`build_ms_${n}`] = Math.round(tree.buildMs);
    out[`memory_mib_${n}`] = Number((tree.memory / 2 ** 20).toFixed(1));
    out[`proof_bytes_${n}`] = firstBytes;
    out[`proof_bytes_returning_${n}`] = returningBytes;
    out[`proof_bytes_draft_layout_${n}`] = draftBytes;
    out[`verify_ms_${n}`] = Number(verifyMs.toFixed(3));
    out[`verify_in_ed25519_verifies_${n}`] = Number((verifyMs / ed25519Ms).toFixed(1));
    out[`monitor_bytes_per_day_${n}`] = 3 * dayOld;
    console.log(`${n} labels: built in ${Math.round(tree.buildMs)} ms, ${out[`memory_mib_${n}`]} MiB; proof ${firstBytes} B first lookup, ${returningBytes} B an hour later (draft layout ${draftBytes} B); verify ${verifyMs.toFixed(2)} ms (${out[`verify_in_ed25519_verifies_${n}`]} Ed25519 verifies)`);
    largest = tree;
  }

  // An epoch of 10,000 updates on the largest tree, step by step as publishEpoch runs them.
  const started = performance.now();
  const leaves = [];
  for (let i = 0; i < EPOCH_UPDATES; i++) {
    const label = accountLabel(i.toString(16).padStart(32, '0'));
    const value = encodeAccountValue({ identityKey: new Uint8Array(65).fill(i & 0xff) });
    const proof = await vrfProve(crypto, keys.vrf.privateKey, vrfInput(label, 1));
    const vrfOutput = vrfOutput32(await vrfProofToHash(crypto, proof));
    leaves.push({ vrfOutput, commitment: await commitment(crypto, randomBytes(16), label, 1, value) });
  }
  const vrfDone = performance.now();
  largest.prefix.insertMany(leaves);
  largest.log.append(Date.now(), largest.prefix.root());
  await signTreeHead(crypto, keys.signing.privateKey, config, largest.log.size, largest.log.root());
  const epochMs = performance.now() - started;
  out.epoch_ms_10000_updates = Math.round(epochMs);
  out.epoch_vrf_and_commitments_ms = Math.round(vrfDone - started);
  out.epoch_tree_ms = Math.round(performance.now() - vrfDone);
  const n = SIZES.at(-1);
  out.monitor_bytes_per_day = out[`monitor_bytes_per_day_${n}`];
  console.log(`epoch of ${EPOCH_UPDATES} updates on ${n} labels: ${Math.round(epochMs)} ms (VRF + commitments ${out.epoch_vrf_and_commitments_ms} ms, trees + signature ${out.epoch_tree_ms} ms)`);
  console.log(JSON.stringify(out));
}

await main();
