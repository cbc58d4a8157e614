/**
 * Login flood (issue 14): how much a flood of wrong secrets slows a normal send. A script, not a test.
 *
 * Starts packages/server/dist/main.js (SQLite, a fresh data directory) as a child process, registers Alice and Bob,
 * then measures the latency of Alice's sends to Bob (one at a time, PUT /v1/messages/:accountId) three ways: alone,
 * while `--flood` requests with a wrong secret for Bob's real device run `--concurrency` at a time, and while the same
 * flood names devices that do not exist (random account ids). Prints p50 / p99 / max per phase, the flood's answers
 * by status and its duration, and as its last line one JSON object.
 *
 *   npm run build && node bench/server/login-flood.mjs                    # 600 requests, 64 at a time
 *   node bench/server/login-flood.mjs --flood 2000 --concurrency 128
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { ml_kem1024 } from '@noble/post-quantum/ml-kem.js';
import { EnvelopeType, encodeEc, encodeEnvelope, encodeIdentityKey, encodeKem } from '../../packages/protocol/dist/index.js';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const FLOOD = arg('flood', 600);
const CONCURRENCY = arg('concurrency', 64);
const BASELINE_SENDS = arg('baseline', 200);

const b64 = (bytes) => Buffer.from(bytes).toString('base64');
const root = fileURLToPath(new URL('../../', import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), 'samizdat-login-flood-'));

function startServer() {
  const child = spawn(process.execPath, [join(root, 'packages/server/dist/main.js'), '--port', '0', '--data-dir', dataDir, '--log-level', 'warn'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.on('exit', (code) => reject(new Error(`server exited (${code})`)));
    child.stdout.setEncoding('utf8').on('data', (d) => {
      out += d;
      const match = /Samizdat listening on (http:\/\/[^\s]+?)\/?$/m.exec(out);
      if (match) resolve({ child, url: new URL(match[1]) });
    });
  });
}

function request(server, agent, method, path, { body, auth } = {}) {
  const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        agent,
        host: server.url.hostname,
        port: server.url.port,
        method,
        path,
        headers: { ...(auth ? { authorization: auth } : {}), ...(data ? { 'content-type': 'application/json', 'content-length': data.length } : {}) },
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', reject);
    req.setTimeout(60_000, () => req.destroy(new Error(`${method} ${path}: no response within 60 s`)));
    req.end(data);
  });
}

async function register(server, agent) {
  const signingKey = ed25519.utils.randomSecretKey();
  const ec = x25519.getPublicKey(x25519.utils.randomSecretKey());
  const kem = ml_kem1024.keygen().publicKey;
  const password = randomBytes(24).toString('base64url');
  const registrationId = 1 + (randomBytes(4).readUInt32BE(0) % 0x7ffffffe);
  const body = {
    identityKey: b64(encodeIdentityKey({ signingKey: ed25519.getPublicKey(signingKey), agreementKey: x25519.getPublicKey(x25519.utils.randomSecretKey()) })),
    device: {
      registrationId,
      password,
      signedPreKey: { keyId: 1, publicKey: b64(ec), signature: b64(ed25519.sign(encodeEc(ec), signingKey)) },
      kyberLastResortPreKey: { keyId: 1, publicKey: b64(kem), signature: b64(ed25519.sign(encodeKem(kem), signingKey)) },
    },
  };
  const res = await request(server, agent, 'POST', '/v1/accounts', { body });
  if (res.status !== 200) throw new Error(`register → ${res.status} ${res.body}`);
  const { accountId, deviceId } = JSON.parse(res.body);
  return { accountId, deviceId, registrationId, auth: `Basic ${Buffer.from(`${accountId}.${deviceId}:${password}`).toString('base64')}` };
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
const summary = (ms) => {
  const sorted = [...ms].sort((a, b) => a - b);
  return { sends: sorted.length, p50: +percentile(sorted, 0.5).toFixed(1), p99: +percentile(sorted, 0.99).toFixed(1), max: +sorted.at(-1).toFixed(1) };
};

/** Alice's sends to Bob, one at a time, until `until()` says stop (or `count` sends); latencies in ms. */
async function sends(server, agent, alice, bob, { count = Infinity, until = () => false }) {
  const ms = [];
  const path = `/v1/messages/${bob.accountId}`;
  while (ms.length < count && !until()) {
    const envelope = encodeEnvelope({ type: EnvelopeType.Message, timestamp: Date.now(), content: new Uint8Array(randomBytes(200)) });
    const body = { messages: [{ deviceId: bob.deviceId, registrationId: bob.registrationId, envelope: b64(envelope) }] };
    const t0 = performance.now();
    const res = await request(server, agent, 'PUT', path, { body, auth: alice.auth });
    if (res.status !== 200) throw new Error(`send → ${res.status} ${res.body}`);
    ms.push(performance.now() - t0);
  }
  return ms;
}

/** `FLOOD` requests, `CONCURRENCY` at a time, each with the login `login(i)`; answers by status. */
async function flood(server, login) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const statuses = {};
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < FLOOD) {
        const auth = `Basic ${Buffer.from(login(next++)).toString('base64')}`;
        const { status } = await request(server, agent, 'GET', '/v1/accounts/me', { auth });
        statuses[status] = (statuses[status] ?? 0) + 1;
      }
    }),
  );
  agent.destroy();
  return { statuses, seconds: +((performance.now() - t0) / 1000).toFixed(2) };
}

async function underFlood(server, agent, alice, bob, login) {
  let done = false;
  const floodDone = flood(server, login).finally(() => (done = true));
  const ms = await sends(server, agent, alice, bob, { until: () => done });
  return { ...summary(ms), flood: await floodDone };
}

const server = await startServer();
try {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const alice = await register(server, agent);
  const bob = await register(server, agent);
  await sends(server, agent, alice, bob, { count: 20 }); // warm-up: Alice's secret is verified once, code compiled
  const result = { flood: FLOOD, concurrency: CONCURRENCY };
  result.baseline = summary(await sends(server, agent, alice, bob, { count: BASELINE_SENDS }));
  const wrong = () => randomBytes(24).toString('base64url');
  result.wrongSecret = await underFlood(server, agent, alice, bob, () => `${bob.accountId}.${bob.deviceId}:${wrong()}`);
  result.unknownDevices = await underFlood(server, agent, alice, bob, () => `${randomBytes(16).toString('hex')}.1:${wrong()}`);
  for (const phase of ['baseline', 'wrongSecret', 'unknownDevices']) {
    const r = result[phase];
    const extra = r.flood ? `   flood: ${JSON.stringify(r.flood.statuses)} in ${r.flood.seconds} s` : '';
    console.log(`${phase.padEnd(15)} sends ${String(r.sends).padStart(4)}  p50 ${r.p50} ms  p99 ${r.p99} ms  max ${r.max} ms${extra}`);
  }
  console.log(JSON.stringify(result));
} finally {
  server.child.removeAllListeners('exit');
  server.child.kill('SIGTERM');
  await new Promise((resolve) => server.child.once('exit', resolve));
  rmSync(dataDir, { recursive: true, force: true });
}
