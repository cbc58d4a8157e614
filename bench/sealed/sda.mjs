/**
 * The statistical-disclosure attack on sealed sender through delivery receipts (Martiny et al., "Improving Signal's
 * Sealed Sender", NDSS 2021, §4), simulated: how many messages Alice must send Bob before a server that sees every
 * sealed envelope's recipient and time (never its sender) singles Alice out as Bob's correspondent.
 *
 * The server's view: after each delivery to Bob it opens an epoch — the window in which Bob's delivery receipt, if
 * any, is sent — and notes every account that receives a sealed envelope in it. Alice (the receipt's recipient) is in
 * every epoch; everyone else only when background traffic happens to reach them. She is singled out at the first
 * message after which her count is above everyone else's (and stays so for the next 5 messages too).
 *
 * Cases: receipts at once (0.05–0.5 s of network and processing; the attacker's window 1 s), receipts after the
 * client's random delay (DEFAULT_RECEIPT_DELAY from packages/client, read from its build; the attacker's window
 * exactly that range), and no receipts. Each Alice→Bob message is delivered alone, the attacker's best case (a
 * batch of several messages answered by one receipt gives it fewer epochs still). Background: R sealed envelopes a
 * second over the whole server, to recipients drawn uniformly among N accounts.
 *
 * Deterministic (seeded PRNG): no timing is measured, so nothing here depends on the machine.
 *   npm run build && node bench/sealed/sda.mjs
 * The last line is JSON: {"messages_to_identify": {case: {rate: median}}, ...}.
 */
import { DEFAULT_RECEIPT_DELAY } from '../../packages/client/dist/outbox/delivery-receipts.js';

const ACCOUNTS = 1_000;
const RATES = [2, 20, 100]; // sealed envelopes per second, server-wide
const TRIALS = 200;
const CAP = 2_000; // messages: past this Alice counts as never singled out
const STABLE = 5;

/** mulberry32: a small seeded PRNG (the simulation must be reproducible, not secret). */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Poisson-distributed count with mean `mean` (Knuth for small means, normal approximation above 60). */
function poisson(random, mean) {
  if (mean > 60) {
    const u = 1 - random();
    const v = random();
    return Math.max(0, Math.round(mean + Math.sqrt(mean) * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)));
  }
  const limit = Math.exp(-mean);
  let k = 0;
  let p = random();
  while (p > limit) {
    k++;
    p *= random();
  }
  return k;
}

/**
 * One trial: messages until Alice (account 0) is singled out, or CAP. `receipt(random)` is the receipt's delay
 * after the delivery in seconds (undefined: none); `window` the attacker's epoch length in seconds.
 */
function trial(random, rate, window, receipt) {
  const counts = new Int32Array(ACCOUNTS);
  const seen = new Int32Array(ACCOUNTS).fill(-1);
  let bestOther = 0;
  let stableSince = -1;
  for (let message = 0; message < CAP; message++) {
    const delay = receipt(random);
    if (delay !== undefined && delay <= window) {
      seen[0] = message;
      counts[0]++;
    }
    const background = poisson(random, rate * window);
    for (let i = 0; i < background; i++) {
      const to = Math.floor(random() * ACCOUNTS);
      if (seen[to] === message) continue; // An epoch counts each account once.
      seen[to] = message;
      counts[to]++;
      if (to !== 0 && counts[to] > bestOther) bestOther = counts[to];
    }
    if (counts[0] > bestOther) {
      if (stableSince < 0) stableSince = message;
      if (message - stableSince >= STABLE) return stableSince + 1;
    } else stableSince = -1;
  }
  return CAP;
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

const min = DEFAULT_RECEIPT_DELAY.minMs / 1000;
const max = DEFAULT_RECEIPT_DELAY.maxMs / 1000;
const CASES = {
  immediate: { window: 1, receipt: (r) => 0.05 + 0.45 * r() },
  delayed: { window: max, receipt: (r) => min + (max - min) * r() },
  // For comparison, not the client's default: a delay of up to a minute.
  'delayed-60s': { window: 60, receipt: (r) => min + (60 - min) * r() },
  off: { window: max, receipt: () => undefined },
};

const result = {};
const rows = [];
for (const [name, { window, receipt }] of Object.entries(CASES)) {
  result[name] = {};
  for (const rate of RATES) {
    const random = prng(0x5eed + rate);
    const needed = [];
    for (let t = 0; t < TRIALS; t++) needed.push(trial(random, rate, window, receipt));
    needed.sort((a, b) => a - b);
    const median = percentile(needed, 0.5);
    const p90 = percentile(needed, 0.9);
    result[name][rate] = median;
    rows.push({ case: name, rate, median, p90, never: needed.filter((n) => n >= CAP).length });
  }
}

console.log(`accounts ${ACCOUNTS}, ${TRIALS} trials per cell, receipt delay ${min}–${max} s, cap ${CAP} messages`);
console.log('case         envelopes/s   median   p90   trials never singled out');
for (const r of rows) {
  console.log(`${r.case.padEnd(12)} ${String(r.rate).padStart(11)} ${String(r.median).padStart(8)} ${String(r.p90).padStart(5)}   ${r.never}`);
}
console.log(JSON.stringify({ accounts: ACCOUNTS, trials: TRIALS, delay_s: [min, max], cap: CAP, messages_to_identify: result }));
