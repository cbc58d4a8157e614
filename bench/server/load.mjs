/**
 * Load generator of bench/server: a child process forked by run.mjs, driven through IPC messages. It holds N
 * simulated devices and, in one of two modes, drives the same closed-loop load:
 *
 * - `samizdat`: registers N accounts (one device each, real keys) with POST /v1/accounts, opens N authenticated
 *   WebSockets at /v1/websocket, then every device sends 1:1 envelopes with PUT /v1/messages/:accountId to random
 *   other devices and acks every ENVELOPE it receives (ACK frames, one per socket per event-loop turn). Sends are
 *   sealed (sendMode 'sealed', the default: SealedSender envelopes in PUT /v1/sealed/messages/:accountId requests with
 *   no credentials, authorized by the recipient's Unidentified-Access-Key, which every account registers at set-up
 *   with PUT /v1/accounts/me/unidentified-access — what the client does for every 1:1 send to a contact), SEND
 *   frames on the device's socket (sendMode 'ws', answered by SEND_OK) or PUT /v1/messages/:accountId requests
 *   (sendMode 'http', answered by 200); the last two are identified sends.
 * - `relay`: N plain WebSockets to relay.mjs; a send is one binary frame [u32 recipient index][payload].
 *
 * Closed loop: each device has `inflight` slots; a slot is busy from the send until the message has been received by
 * its recipient (and, for samizdat, the sender has its 200 — the server's "durably stored"). Payloads are the same
 * size in both modes (256 bytes: the encoded envelope for samizdat, the forwarded payload for the relay) and start
 * with [f64 send time (performance.now())][u32 message id][u32 sender index]; the rest is random filler.
 *
 * IPC: parent → {cmd: 'setup' | 'retarget' | 'connect' | 'run' | 'close', ...}; child → {event: ..., ...} (see the
 * handlers; 'progress' events every 5 s during set-up).
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { ml_kem1024 } from '@noble/post-quantum/ml-kem.js';
import { WebSocket } from 'ws';
import { EnvelopeType, encodeEc, encodeEnvelope, encodeIdentityKey, encodeKem } from '../../packages/protocol/dist/index.js';
import { decodeServerFrame, encodeFrame } from '../../packages/protocol/dist/index.js';

const b64 = (bytes) => Buffer.from(bytes).toString('base64');

/** @type {{mode: 'samizdat'|'relay', url: string, devices: number, inflight: number, payloadBytes: number, registerConcurrency: number, connectConcurrency: number}} */
let opts;
/** @type {Array<{index: number, accountId?: string, registrationId?: number, auth?: string, path?: string, ws?: WebSocket, acks: bigint[], ackScheduled: boolean}>} */
let devices = [];
let agent;

const send = (message) => process.send?.(message);

function fail(err) {
  send({ event: 'error', message: err instanceof Error ? `${err.message}\n${err.stack}` : String(err) });
  setTimeout(() => process.exit(1), 100);
}

/** Runs `task(i)` for i in [0, count) with at most `limit` running at once. */
async function pool(count, limit, task) {
  let next = 0;
  const worker = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
}

function httpJson(method, path, body, headers = {}, via = agent) {
  const url = new URL(opts.url);
  const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        agent: via,
        host: url.hostname,
        port: url.port,
        method,
        path,
        headers: { ...headers, ...(data ? { 'content-type': 'application/json', 'content-length': data.length } : {}) },
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          if (res.statusCode === 204) resolve(undefined);
          else if (res.statusCode !== 200) reject(new Error(`${method} ${path} → ${res.statusCode} ${text.slice(0, 200)}`));
          else resolve(JSON.parse(text));
        });
      },
    );
    req.on('error', reject);
    // A set-up request never takes this long: fail loudly instead of waiting forever.
    req.setTimeout(60_000, () => req.destroy(new Error(`${method} ${path}: no response within 60 s`)));
    req.end(data);
  });
}

// ---- setup: accounts (samizdat only) ----

async function setup(message) {
  opts = message;
  agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: opts.devices * opts.inflight + 64 });
  devices = Array.from({ length: opts.devices }, (_, index) => ({ index, acks: [], ackScheduled: false }));
  if (opts.mode === 'relay') return { event: 'registered', keygenMs: 0, registerMs: 0 };

  // One X25519 signed-prekey public key and one ML-KEM-1024 key for everybody, signed by each account's own identity
  // key (the server verifies both signatures against it); identities are per account. Keys come from @noble (pure
  // JS), not node:crypto KeyObjects: a Node 20.20 deadlock around KeyObject JWK export has been seen on this machine
  // (bench/protocol/run.mjs), and a set-up that hangs without using CPU was seen once here.
  const t0 = performance.now();
  const sharedEc = x25519.getPublicKey(x25519.utils.randomSecretKey());
  const sharedKem = ml_kem1024.keygen().publicKey;
  const ecBytes = encodeEc(sharedEc);
  const kemBytes = encodeKem(sharedKem);
  const bodies = [];
  for (const device of devices) {
    const signingKey = ed25519.utils.randomSecretKey();
    const signing = { privateKey: signingKey, publicKey: ed25519.getPublicKey(signingKey) };
    const agreement = { publicKey: x25519.getPublicKey(x25519.utils.randomSecretKey()) };
    const registrationId = 1 + (randomBytes(4).readUInt32BE(0) % 0x7ffffffe);
    const password = randomBytes(24).toString('base64url');
    device.registrationId = registrationId;
    device.password = password;
    bodies.push({
      identityKey: b64(encodeIdentityKey({ signingKey: signing.publicKey, agreementKey: agreement.publicKey })),
      device: {
        registrationId,
        password,
        signedPreKey: { keyId: 1, publicKey: b64(sharedEc), signature: b64(ed25519.sign(ecBytes, signing.privateKey)) },
        kyberLastResortPreKey: { keyId: 1, publicKey: b64(sharedKem), signature: b64(ed25519.sign(kemBytes, signing.privateKey)) },
      },
    });
  }
  const t1 = performance.now();
  let registered = 0;
  const progress = setInterval(() => send({ event: 'progress', what: 'registered', done: registered, of: opts.devices }), 5000);
  await pool(opts.devices, opts.registerConcurrency, async (i) => {
    const res = await httpJson('POST', '/v1/accounts', bodies[i]);
    const device = devices[i];
    device.accountId = res.accountId;
    device.deviceId = res.deviceId;
    device.auth = `Basic ${Buffer.from(`${res.accountId}.${res.deviceId}:${device.password}`).toString('base64')}`;
    device.path = opts.sendMode === 'sealed' ? `/v1/sealed/messages/${res.accountId}` : `/v1/messages/${res.accountId}`;
    if (opts.sendMode === 'sealed') {
      // The client derives it from the profile key; to the server it is 16 opaque bytes, compared in constant time.
      device.accessKey = b64(randomBytes(16));
      await httpJson('PUT', '/v1/accounts/me/unidentified-access', { accessKey: device.accessKey, unrestricted: false }, { authorization: device.auth });
    }
    registered++;
  }).finally(() => clearInterval(progress));
  return { event: 'registered', keygenMs: t1 - t0, registerMs: performance.now() - t1 };
}

// ---- the load's bookkeeping ----

/** id → { sender, sentAt, responded, delivered } for every message sent and not yet both answered and received. */
const pending = new Map();
let nextId = 1;
let sending = false;
let windowStart = Infinity;
let windowEnd = Infinity;
const stats = {
  sent: 0,
  delivered: 0,
  deliveredInWindow: 0,
  duplicates: 0,
  sendErrors: 0,
  errorFrames: 0,
  unexpectedCloses: 0,
  /** End-to-end latency (ms) of the messages received inside the window. */
  latencies: [],
  /** Send → 200 (ms) of the sends answered inside the window (samizdat only). */
  sendLatencies: [],
  errorSamples: [],
  /** The slowest message received in the window: when it was sent (ms after the load started) and when answered. */
  slowest: { ms: 0, sentAfterStartMs: 0, answeredAfterMs: null },
};
let runStart = 0;

let envelopeTemplate; // samizdat: an encoded envelope of payloadBytes; the content is its last CONTENT bytes
let contentOffset = 0;

function makeTemplates() {
  const filler = new Uint8Array(randomBytes(opts.payloadBytes));
  if (opts.mode === 'relay') {
    envelopeTemplate = Buffer.concat([Buffer.alloc(4), filler]);
    contentOffset = 4;
    return;
  }
  // u8 version | u8 type | u64 timestamp | varint length | content: find the content length giving payloadBytes.
  for (let contentLength = opts.payloadBytes - 10; contentLength > 0; contentLength--) {
    const type = opts.sendMode === 'sealed' ? EnvelopeType.SealedSender : EnvelopeType.Message;
    const encoded = encodeEnvelope({ type, timestamp: Date.now(), content: filler.subarray(0, contentLength) });
    if (encoded.length === opts.payloadBytes) {
      envelopeTemplate = Buffer.from(encoded);
      contentOffset = encoded.length - contentLength;
      return;
    }
  }
  throw new Error(`cannot build an envelope of ${opts.payloadBytes} bytes`);
}

function pickRecipient(sender) {
  let r = Math.floor(Math.random() * (opts.devices - 1));
  if (r >= sender) r++;
  return r;
}

function settle(id, rec) {
  if (!rec.responded || !rec.delivered) return;
  pending.delete(id);
  if (sending) sendOne(rec.sender);
}

function onDelivered(id, now) {
  const rec = pending.get(id);
  if (!rec || rec.delivered) {
    stats.duplicates++;
    return;
  }
  rec.delivered = true;
  stats.delivered++;
  if (now >= windowStart && now < windowEnd) {
    stats.deliveredInWindow++;
    stats.latencies.push(now - rec.sentAt);
    if (now - rec.sentAt > stats.slowest.ms) {
      stats.slowest = { ms: now - rec.sentAt, sentAfterStartMs: rec.sentAt - runStart, answeredAfterMs: rec.responded ? rec.answeredAt - rec.sentAt : null };
    }
  }
  settle(id, rec);
}

function sendOne(sender) {
  const id = nextId++ >>> 0;
  const to = pickRecipient(sender);
  const payload = Buffer.from(envelopeTemplate);
  const sentAt = performance.now();
  payload.writeDoubleLE(sentAt, contentOffset);
  payload.writeUInt32LE(id, contentOffset + 8);
  payload.writeUInt32LE(sender, contentOffset + 12);
  const rec = { sender, sentAt, responded: false, delivered: false };
  pending.set(id, rec);
  stats.sent++;
  if (opts.mode === 'relay') {
    payload.writeUInt32BE(to, 0);
    rec.responded = true;
    devices[sender].ws.send(payload);
    return;
  }
  const recipient = devices[to];
  if (opts.sendMode === 'ws') {
    // The message id doubles as the request id: SEND_OK / SEND_ERROR carry it back.
    devices[sender].ws.send(
      encodeFrame({
        kind: 'send',
        requestId: id,
        accountId: recipient.accountId,
        copies: [{ deviceId: recipient.deviceId, registrationId: recipient.registrationId, envelope: payload }],
      }),
    );
    return;
  }
  const body = `{"messages":[{"deviceId":${recipient.deviceId},"registrationId":${recipient.registrationId},"envelope":"${payload.toString('base64')}"}]}`;
  const req = http.request(
    {
      agent: devices[sender].agent,
      host: '127.0.0.1',
      port: serverPort,
      method: 'PUT',
      path: recipient.path,
      headers: {
        ...(opts.sendMode === 'sealed' ? { 'unidentified-access-key': recipient.accessKey } : { authorization: devices[sender].auth }),
        'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    },
    (res) => {
      const ok = res.statusCode === 200;
      const chunks = ok ? undefined : [];
      res.on('data', (c) => chunks?.push(c));
      res.on('end', () => {
        const now = performance.now();
        if (!ok) return sendFailed(id, rec, `${res.statusCode} ${Buffer.concat(chunks).toString().slice(0, 200)}`);
        if (now >= windowStart && now < windowEnd) stats.sendLatencies.push(now - sentAt);
        rec.responded = true;
        rec.answeredAt = now;
        settle(id, rec);
      });
    },
  );
  req.on('error', (err) => sendFailed(id, rec, err.message));
  req.end(body);
}

function sampleError(why) {
  if (stats.errorSamples.length >= 5) return;
  const at = windowStart === Infinity ? 'set-up or warm-up' : `${((performance.now() - windowStart) / 1000).toFixed(2)} s after the window opened`;
  stats.errorSamples.push(`${why} (${at})`);
}

function sendFailed(id, rec, why) {
  stats.sendErrors++;
  sampleError(why);
  pending.delete(id);
  // Back off a little so that a failing server is not hammered in a tight loop.
  if (sending) setTimeout(() => sending && sendOne(rec.sender), 10);
}

// ---- connect ----

/** The server was restarted between set-up and connect (same data): point at its new address. */
async function retarget({ url }) {
  opts.url = url;
  agent.destroy();
  agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: opts.devices * opts.inflight + 64 });
  return { event: 'retargeted' };
}

function flushAcks(device) {
  device.ackScheduled = false;
  const ids = device.acks;
  device.acks = [];
  for (let i = 0; i < ids.length; i += 1000) device.ws.send(encodeFrame({ kind: 'ack', ids: ids.slice(i, i + 1000) }));
}

function connectOne(device) {
  return new Promise((resolve, reject) => {
    const base = opts.url.replace(/^http/, 'ws');
    const ws =
      opts.mode === 'relay'
        ? new WebSocket(`${base}/?id=${device.index}`, { perMessageDeflate: false })
        : new WebSocket(`${base}/v1/websocket`, { perMessageDeflate: false, headers: { authorization: device.auth } });
    device.ws = ws;
    let ready = false;
    ws.on('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    ws.on('error', (err) => {
      if (!ready) reject(err);
    });
    ws.on('close', () => {
      if (!closing) stats.unexpectedCloses++;
    });
    if (opts.mode === 'relay') {
      ws.on('open', () => {
        ready = true;
        resolve();
      });
      // The relay forwards the payload without the 4-byte recipient index: the id is at byte 8 of what arrives.
      ws.on('message', (data) => onDelivered(data.readUInt32LE(8), performance.now()));
      return;
    }
    ws.on('message', (data) => {
      const now = performance.now();
      const frame = decodeServerFrame(new Uint8Array(data.buffer, data.byteOffset, data.length));
      switch (frame.kind) {
        case 'envelope': {
          const env = frame.envelope;
          const id = Buffer.from(env.buffer, env.byteOffset, env.length).readUInt32LE(contentOffset + 8);
          device.acks.push(frame.id);
          if (!device.ackScheduled) {
            device.ackScheduled = true;
            setImmediate(flushAcks, device);
          }
          onDelivered(id, now);
          break;
        }
        case 'queue-empty':
          if (!ready) {
            ready = true;
            resolve();
          }
          break;
        case 'send-ok': {
          const rec = pending.get(frame.requestId);
          if (!rec) break;
          if (now >= windowStart && now < windowEnd) stats.sendLatencies.push(now - rec.sentAt);
          rec.responded = true;
          rec.answeredAt = now;
          settle(frame.requestId, rec);
          break;
        }
        case 'send-error': {
          const rec = pending.get(frame.requestId);
          if (rec) sendFailed(frame.requestId, rec, `SEND_ERROR ${frame.code}`);
          break;
        }
        case 'error':
          stats.errorFrames++;
          sampleError(`ERROR frame ${frame.code}`);
          break;
        default:
          break;
      }
    });
  });
}

let serverPort = 0;

/** Connects devices [from, to). */
async function connect({ from, to }) {
  if (envelopeTemplate === undefined) makeTemplates();
  serverPort = Number(new URL(opts.url).port);
  const t0 = performance.now();
  let connected = from;
  const progress = setInterval(() => send({ event: 'progress', what: 'connected', done: connected, of: opts.devices }), 5000);
  await pool(to - from, opts.connectConcurrency, async (i) => {
    await connectOne(devices[from + i]);
    connected++;
  }).finally(() => clearInterval(progress));
  return { event: 'connected', connectMs: performance.now() - t0 };
}

// ---- run ----

/**
 * Each device sends over its own keep-alive HTTP connection(s), as a real client would, opened here before the load
 * (GET /health, 32 at a time) — not in a burst of N new connections at the start of the load, which overflows the
 * server's accept queue and delays some requests by seconds of SYN retransmits. The set-up's shared agent is dropped:
 * its sockets may have idled past the server's keep-alive timeout.
 */
async function openHttpConnections() {
  agent.destroy();
  for (const device of devices) device.agent = new http.Agent({ keepAlive: true, maxSockets: opts.inflight, maxFreeSockets: opts.inflight });
  await pool(opts.devices, 32, (i) =>
    Promise.all(Array.from({ length: opts.inflight }, () => httpJson('GET', '/health', undefined, {}, devices[i].agent))),
  );
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function run({ warmupMs, durationMs, drainMs }) {
  if (opts.mode === 'samizdat' && opts.sendMode !== 'ws') await openHttpConnections();
  runStart = performance.now();
  sending = true;
  // Start the devices over the first quarter of the warm-up (at most 1 s) rather than all in one burst.
  const spreadMs = Math.min(1000, warmupMs / 4);
  for (const device of devices) {
    setTimeout(() => {
      for (let slot = 0; slot < opts.inflight && sending; slot++) sendOne(device.index);
    }, (device.index / devices.length) * spreadMs);
  }
  await sleep(warmupMs);
  windowStart = performance.now();
  send({ event: 'window-start' });
  await sleep(durationMs);
  windowEnd = performance.now();
  send({ event: 'window-end' });
  sending = false;
  const drainStart = performance.now();
  while (pending.size > 0 && performance.now() - drainStart < drainMs) await sleep(20);
  let answeredNotReceived = 0;
  let unanswered = 0;
  for (const rec of pending.values()) {
    if (rec.responded && !rec.delivered) answeredNotReceived++;
    if (!rec.responded) unanswered++;
  }
  const latencies = Float64Array.from(stats.latencies).sort();
  const sendLatencies = Float64Array.from(stats.sendLatencies).sort();
  const windowS = (windowEnd - windowStart) / 1000;
  return {
    event: 'result',
    windowS,
    msgsPerSec: stats.deliveredInWindow / windowS,
    deliveredInWindow: stats.deliveredInWindow,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies.length ? latencies[latencies.length - 1] : null,
    sendP50: percentile(sendLatencies, 50),
    sendP99: percentile(sendLatencies, 99),
    sent: stats.sent,
    delivered: stats.delivered,
    duplicates: stats.duplicates,
    sendErrors: stats.sendErrors,
    errorFrames: stats.errorFrames,
    unexpectedCloses: stats.unexpectedCloses,
    /** Accepted with 200 but not received within the drain time: must be 0. */
    undelivered: answeredNotReceived,
    unanswered,
    errorSamples: stats.errorSamples,
    slowest: stats.slowest,
  };
}

let closing = false;

async function close() {
  closing = true;
  for (const device of devices) device.ws?.close();
  agent?.destroy();
  for (const device of devices) device.agent?.destroy();
  await sleep(200);
  return { event: 'closed' };
}

process.on('message', (message) => {
  const handlers = { setup, retarget, connect, run, close };
  const handler = handlers[message.cmd];
  if (!handler) return fail(new Error(`unknown command ${message.cmd}`));
  handler(message).then((reply) => {
    send(reply);
    if (message.cmd === 'close') process.exit(0);
  }, fail);
});
process.on('disconnect', () => process.exit(0));
send({ event: 'started' });
