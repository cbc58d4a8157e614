#!/usr/bin/env node
/**
 * Protocol benchmark: the same workload, in the same process, on @samizdat/protocol (ours) and on
 * @signalapp/libsignal-client 0.103.0. See README.md beside this file.
 *
 *   npm run bench:protocol                      # from the repository root: builds, installs, runs
 *   npm run bench:protocol -- --messages 1000   # a shorter run
 *   node bench/protocol/run.mjs [--messages N] [--setups N] [--sealed N] [--rounds N] [--warmup N] [--only ours|libsignal]
 *
 * The last line of stdout is one JSON object with the results.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';

const { values: args } = parseArgs({
  options: {
    messages: { type: 'string', default: '10000' },
    setups: { type: 'string', default: '200' },
    sealed: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '3' },
    warmup: { type: 'string' },
    only: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (args.help) {
  console.log('usage: node bench/protocol/run.mjs [--messages N] [--setups N] [--sealed N] [--rounds N] [--warmup N] [--only ours|libsignal]');
  process.exit(0);
}

function positiveInt(name, text) {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${text}`);
  return n;
}

const MESSAGES = positiveInt('messages', args.messages);
const SETUPS = positiveInt('setups', args.setups);
/** Sealed messages (one direction) per round: each is a session message sealed, unsealed and decrypted. */
const SEALED = positiveInt('sealed', args.sealed);
const ROUNDS = positiveInt('rounds', args.rounds);
const WARMUP = args.warmup === undefined ? Math.min(2000, MESSAGES) : positiveInt('warmup', args.warmup);
const WARMUP_SETUPS = Math.min(10, SETUPS);
const WARMUP_SEALED = Math.min(200, SEALED);
const PLAINTEXT_BYTES = 100;
/** What ours pads a 100 B plaintext to (wire/padding.ts: at least 160 B). */
const PADDED_BYTES = 160;

if (args.only !== undefined && args.only !== 'ours' && args.only !== 'libsignal') {
  throw new Error('--only must be "ours" or "libsignal"');
}
// Each half is loaded only when it runs, so that one can be measured while the other is unavailable.
const adapters = [];
if (args.only !== 'libsignal') adapters.push((await import('./ours.mjs')).ours);
if (args.only !== 'ours') adapters.push((await import('./libsignal.mjs')).libsignal);

/**
 * Watchdog: a native deadlock in the main thread (seen in Node 20.20 when a KeyObject made by generateKeyPairSync is
 * exported as JWK while the GC collects its key-generation job) would hang the benchmark forever. The main thread
 * bumps a shared counter on every message and set-up; if it stops moving for WATCHDOG_SECONDS, a worker thread says
 * so on stderr and ends the process with SIGABRT, so that the run fails instead of hanging.
 */
const WATCHDOG_SECONDS = 120;
const heartbeat = new Int32Array(new SharedArrayBuffer(4));
const beat = () => Atomics.add(heartbeat, 0, 1);
new Worker(
  `const { workerData } = require('node:worker_threads');
  const { writeSync } = require('node:fs');
  let last = -1, since = Date.now();
  setInterval(() => {
    const now = Atomics.load(workerData.heartbeat, 0);
    if (now !== last) { last = now; since = Date.now(); return; }
    if (Date.now() - since > workerData.seconds * 1000) {
      writeSync(2, 'bench/protocol: no progress for ' + workerData.seconds + ' s (deadlocked?); aborting\\n');
      process.kill(process.pid, 'SIGABRT');
    }
  }, 1000);`,
  { eval: true, workerData: { heartbeat, seconds: WATCHDOG_SECONDS } },
).unref();

const plaintext = new Uint8Array(randomBytes(PLAINTEXT_BYTES));
const paddedPlaintext = new Uint8Array(randomBytes(PADDED_BYTES));
const collectGarbage = typeof globalThis.gc === 'function' ? () => globalThis.gc() : () => {};

class Sizes {
  count = 0;
  total = 0;
  min = Infinity;
  max = 0;
  add(n) {
    this.count++;
    this.total += n;
    if (n < this.min) this.min = n;
    if (n > this.max) this.max = n;
  }
  get mean() {
    return this.count === 0 ? 0 : this.total / this.count;
  }
  toJSON() {
    return { mean: round(this.mean, 1), min: this.min, max: this.max, count: this.count };
  }
}

const round = (x, digits = 0) => Math.round(x * 10 ** digits) / 10 ** digits;

/**
 * `count` encrypt+decrypt pairs in one established session; one pair counts as one message. `sealed`: every message
 * is also sealed to the recipient and unsealed by it (createSealedSession).
 */
async function runMessages(adapter, pattern, count, sealed = false) {
  const session = sealed ? await adapter.createSealedSession(plaintext) : await adapter.createSession(plaintext);
  const sizes = new Sizes();
  collectGarbage();
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const fromAlice = pattern === 'one-way' || i % 2 === 0;
    sizes.add(await session.send(fromAlice, plaintext));
    beat();
  }
  const seconds = (performance.now() - start) / 1000;
  const state = await session.stateBytes();
  // Untimed, after the state was measured: the size of one message whose plaintext is already 160 B, the length
  // ours pads a 100 B message to. Signal apps pad before calling libsignal; this is the like-for-like wire size.
  const padded160 = await session.send(pattern === 'one-way' || count % 2 === 0, paddedPlaintext);
  return { rate: count / seconds, seconds, sizes, state, padded160 };
}

/** `count` session set-ups; identities and prekeys are generated before the clock starts. */
async function runSetups(adapter, count) {
  const prepared = await adapter.prepareSetups(count);
  const sizes = new Sizes();
  collectGarbage();
  const start = performance.now();
  for (const item of prepared) {
    sizes.add(await adapter.runSetup(item, plaintext));
    beat();
  }
  const seconds = (performance.now() - start) / 1000;
  return { rate: count / seconds, seconds, sizes };
}

const tests = [
  { key: 'one_way', run: (a) => runMessages(a, 'one-way', MESSAGES) },
  { key: 'alternating', run: (a) => runMessages(a, 'alternating', MESSAGES) },
  { key: 'setups', run: (a) => runSetups(a, SETUPS) },
  { key: 'sealed', run: (a) => runMessages(a, 'one-way', SEALED, true) },
];

console.log(`Protocol benchmark — Node ${process.version}, ${process.platform}/${process.arch}`);
console.log(
  `${MESSAGES} messages of ${PLAINTEXT_BYTES} B per pattern, ${SETUPS} set-ups, ${SEALED} sealed messages, best of ${ROUNDS} round(s), ` +
    `order alternating between rounds; warm-up ${WARMUP} messages per pattern and ${WARMUP_SETUPS} set-ups each.`,
);
for (const a of adapters) console.log(`  ${a.name}: ${a.label}`);

for (const adapter of adapters) {
  await runMessages(adapter, 'one-way', WARMUP);
  await runMessages(adapter, 'alternating', WARMUP);
  await runSetups(adapter, WARMUP_SETUPS);
  await runMessages(adapter, 'one-way', WARMUP_SEALED, true);
}

/** results[adapter][test] = list of per-round results */
const results = Object.fromEntries(adapters.map((a) => [a.name, Object.fromEntries(tests.map((t) => [t.key, []]))]));
for (let r = 0; r < ROUNDS; r++) {
  // Interleaved: every test runs on both libraries back to back, and who goes first swaps each round.
  const order = r % 2 === 0 ? adapters : [...adapters].reverse();
  for (const test of tests) {
    for (const adapter of order) {
      const result = await test.run(adapter);
      results[adapter.name][test.key].push(result);
      process.stderr.write(`round ${r + 1} ${adapter.name} ${test.key}: ${result.rate.toFixed(0)}/s\n`);
    }
  }
}

const best = (name, key) => {
  const list = results[name]?.[key];
  return list && list.length > 0 ? list.reduce((a, b) => (b.rate > a.rate ? b : a)) : undefined;
};
const last = (name, key) => results[name]?.[key]?.at(-1);
/** Sizes pooled over every round. */
const pooled = (name, key) => {
  const out = new Sizes();
  for (const r of results[name]?.[key] ?? []) {
    out.count += r.sizes.count;
    out.total += r.sizes.total;
    out.min = Math.min(out.min, r.sizes.min);
    out.max = Math.max(out.max, r.sizes.max);
  }
  return out;
};

function summary(name) {
  if (!results[name]) return undefined;
  const rates = (key) => results[name][key].map((r) => round(r.rate));
  return {
    one_way: round(best(name, 'one_way').rate),
    alternating: round(best(name, 'alternating').rate),
    setups: round(best(name, 'setups').rate, 1),
    sealed: round(best(name, 'sealed').rate),
    rounds: { one_way: rates('one_way'), alternating: rates('alternating'), setups: rates('setups'), sealed: rates('sealed') },
    message_bytes_one_way: pooled(name, 'one_way'),
    message_bytes_alternating: pooled(name, 'alternating'),
    prekey_message_bytes: pooled(name, 'setups'),
    sealed_message_bytes: pooled(name, 'sealed'),
    message_bytes_160_plaintext: last(name, 'one_way').padded160,
    state_one_way: last(name, 'one_way').state,
    state_alternating: last(name, 'alternating').state,
  };
}

const ours = summary('ours');
const theirs = summary('libsignal');

// ---- table ----
const fmtRate = (x) => (x === undefined ? 'n/a' : Math.round(x).toLocaleString('en-US'));
const fmtSizes = (s) => (s === undefined ? 'n/a' : s.min === s.max ? `${s.min}` : `${round(s.mean, 1)} (${s.min}–${s.max})`);
const fmtState = (s) => (s === undefined ? 'n/a' : `${s.alice} / ${s.bob}`);
const ratio = (a, b) => (a === undefined || b === undefined ? undefined : a / b);
const fmtRatio = (x) => (x === undefined ? '' : `${x.toFixed(2)}×`);

const rows = [
  ['msg/s, one direction (best)', fmtRate(ours?.one_way), fmtRate(theirs?.one_way), fmtRatio(ratio(ours?.one_way, theirs?.one_way))],
  [
    'msg/s, alternating (best)',
    fmtRate(ours?.alternating),
    fmtRate(theirs?.alternating),
    fmtRatio(ratio(ours?.alternating, theirs?.alternating)),
  ],
  ['set-ups/s (best)', fmtRate(ours?.setups), fmtRate(theirs?.setups), fmtRatio(ratio(ours?.setups, theirs?.setups))],
  ['sealed msg/s, seal + unseal + decrypt (best)', fmtRate(ours?.sealed), fmtRate(theirs?.sealed), fmtRatio(ratio(ours?.sealed, theirs?.sealed))],
  ['msg/s one direction, each round', ours?.rounds.one_way.join(', ') ?? 'n/a', theirs?.rounds.one_way.join(', ') ?? 'n/a', ''],
  ['msg/s alternating, each round', ours?.rounds.alternating.join(', ') ?? 'n/a', theirs?.rounds.alternating.join(', ') ?? 'n/a', ''],
  ['set-ups/s, each round', ours?.rounds.setups.join(', ') ?? 'n/a', theirs?.rounds.setups.join(', ') ?? 'n/a', ''],
  ['sealed msg/s, each round', ours?.rounds.sealed.join(', ') ?? 'n/a', theirs?.rounds.sealed.join(', ') ?? 'n/a', ''],
  ['ratchet message B, one direction', fmtSizes(ours?.message_bytes_one_way), fmtSizes(theirs?.message_bytes_one_way), ''],
  ['ratchet message B, alternating', fmtSizes(ours?.message_bytes_alternating), fmtSizes(theirs?.message_bytes_alternating), ''],
  [
    'ratchet message B, 160 B plaintext',
    ours?.message_bytes_160_plaintext ?? 'n/a',
    theirs?.message_bytes_160_plaintext ?? 'n/a',
    '',
  ],
  ['initial (prekey) message B', fmtSizes(ours?.prekey_message_bytes), fmtSizes(theirs?.prekey_message_bytes), ''],
  ['sealed envelope B (100 B plaintext)', fmtSizes(ours?.sealed_message_bytes), fmtSizes(theirs?.sealed_message_bytes), ''],
  ['session record B after one direction (Alice / Bob)', fmtState(ours?.state_one_way), fmtState(theirs?.state_one_way), ''],
  ['session record B after alternating (Alice / Bob)', fmtState(ours?.state_alternating), fmtState(theirs?.state_alternating), ''],
];
const header = ['', 'ours', 'libsignal', 'ours / libsignal'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
const line = (cells) => cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
console.log('');
console.log(line(header));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const r of rows) console.log(line(r));
console.log('');
console.log('Notes:');
console.log('- Every encrypt and every decrypt loads the session record from bytes and stores it back as bytes:');
console.log('  ours through InMemoryProtocolStore (bytes only; session-cipher.ts runs decodeSessionRecord before and');
console.log('  encodeSessionRecord after each operation), libsignal through a SessionStore whose saveSession/getSession');
console.log('  run SessionRecord.serialize()/SessionRecord.deserialize().');
console.log('- Each message run starts from an established session (initial message and one reply, untimed).');
console.log('- Set-ups: identities and all prekeys (signed curve, one-time curve, one-time ML-KEM/Kyber) are generated');
console.log('  before the clock starts; timed: bundle processing + first message encryption + its decryption by Bob.');
console.log('- Ours pads every plaintext to at least 160 B inside the protocol; libsignal encrypts the 100 B as given');
console.log('  (Signal apps pad before calling it). The "160 B plaintext" row is one more message, untimed, whose');
console.log('  plaintext is 160 B: for libsignal the like-for-like size of the same padded content (ours pads it further).');
console.log('- Sealed: one direction in an established session; timed per message: the session encryption, sealing to');
console.log("  the recipient, unsealing (certificate chain, expiry and sender identity checked) and the inner decryption.");
console.log('  Ours: HPKE with X-Wing to the recipient\'s sealed-sender key, then X25519 static-static (protocol.md');
console.log('  "Sealed sender"); libsignal: sealed sender v1 (X25519 ephemeral-static, then static-static), no PQ layer.');

const json = {
  messages: MESSAGES,
  setups: SETUPS,
  rounds: ROUNDS,
  node: process.version,
  ours_one_way: ours?.one_way ?? null,
  ours_alternating: ours?.alternating ?? null,
  libsignal_one_way: theirs?.one_way ?? null,
  libsignal_alternating: theirs?.alternating ?? null,
  ratio_one_way: ours && theirs ? round(ratio(ours.one_way, theirs.one_way), 3) : null,
  ratio_alternating: ours && theirs ? round(ratio(ours.alternating, theirs.alternating), 3) : null,
  ours_setups_per_sec: ours?.setups ?? null,
  libsignal_setups_per_sec: theirs?.setups ?? null,
  ratio_setups: ours && theirs ? round(ratio(ours.setups, theirs.setups), 3) : null,
  sealed_ours: ours?.sealed ?? null,
  sealed_libsignal: theirs?.sealed ?? null,
  ratio_sealed: ours && theirs ? round(ratio(ours.sealed, theirs.sealed), 3) : null,
  ours_sealed_bytes: ours ? round(ours.sealed_message_bytes.mean, 1) : null,
  libsignal_sealed_bytes: theirs ? round(theirs.sealed_message_bytes.mean, 1) : null,
  // Steady-state ratchet message: mean size over the one-direction runs (details below).
  ours_message_bytes: ours ? round(ours.message_bytes_one_way.mean, 1) : null,
  libsignal_message_bytes: theirs ? round(theirs.message_bytes_one_way.mean, 1) : null,
  ours_prekey_message_bytes: ours ? round(ours.prekey_message_bytes.mean, 1) : null,
  libsignal_prekey_message_bytes: theirs ? round(theirs.prekey_message_bytes.mean, 1) : null,
  // Sender's (Alice's) serialized session record after the one-direction run (details below).
  ours_state_bytes: ours?.state_one_way.alice ?? null,
  libsignal_state_bytes: theirs?.state_one_way.alice ?? null,
  ours_detail: ours ?? null,
  libsignal_detail: theirs ?? null,
};
console.log(JSON.stringify(json));
