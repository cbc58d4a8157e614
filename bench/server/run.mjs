#!/usr/bin/env node
/**
 * Server benchmark: N devices connected, each sending 1:1 envelopes to random others in a closed loop for a fixed
 * time, through (1) a bare `ws` relay (the ceiling), (2) samizdat-server on SQLite, (3) samizdat-server on
 * PostgreSQL. See README.md beside this file.
 *
 *   npm run bench:server                                   # from the repository root: builds, then runs
 *   npm run bench:server -- --devices 100 --duration 5     # a short run
 *   node bench/server/run.mjs [--devices N] [--duration S] [--warmup S] [--inflight K] [--only relay,sqlite,postgres]
 *                             [--database-url URL] [--profile DIR] ...       (after `npm run build`; --help lists all)
 *
 * Every server and the load generator are child processes of this one (which only orchestrates), so each one's RSS
 * and CPU time are read separately from /proc. The last line of stdout is one JSON object with the results.
 */
import { execFileSync, fork, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { formatSummary, summarize } from './profile-summary.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const SERVER_MAIN = join(ROOT, 'packages/server/dist/main.js');

const USAGE = `usage: node bench/server/run.mjs [options]
  --devices N              connected devices (default 1000)
  --duration S             measured seconds per target (default 20)
  --warmup S               seconds of load before measuring (default 5)
  --drain S                at most this long to wait for messages still in flight at the end (default 10)
  --inflight K             messages in flight per device (default 1)
  --payload B              envelope / relay payload bytes (default 256)
  --send sealed|ws|http    how samizdat devices send: sealed (default, what the client does for a contact): one
                           PUT /v1/sealed/messages request each with no credentials, authorized by the
                           recipient's access key; ws: identified SEND frames on their open WebSocket; http:
                           identified PUT /v1/messages requests
  --only LIST              comma-separated subset of relay,sqlite,postgres (default all three)
  --database-url URL       PostgreSQL to create the bench database in
                           (default $SAMIZDAT_TEST_DATABASE_URL or postgres://postgres@127.0.0.1:5432/test)
  --register-concurrency N concurrent account registrations during set-up (default 8)
  --connect-concurrency N  concurrent WebSocket connects during set-up (default 16)
  --profile DIR            run the samizdat servers with node --cpu-prof, profiles written to DIR`;

const { values: args } = parseArgs({
  options: {
    devices: { type: 'string', default: '1000' },
    duration: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '5' },
    drain: { type: 'string', default: '10' },
    inflight: { type: 'string', default: '1' },
    payload: { type: 'string', default: '256' },
    send: { type: 'string', default: 'sealed' },
    only: { type: 'string', default: 'relay,sqlite,postgres' },
    'database-url': { type: 'string', default: process.env.SAMIZDAT_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
    'register-concurrency': { type: 'string', default: '8' },
    'connect-concurrency': { type: 'string', default: '16' },
    profile: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (args.help) {
  console.log(USAGE);
  process.exit(0);
}

function number(name, text, { min = 1, max = Infinity, integer = true } = {}) {
  const n = Number(text);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min || n > max) {
    console.error(`--${name}: expected ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got "${text}"\n\n${USAGE}`);
    process.exit(2);
  }
  return n;
}

const DEVICES = number('devices', args.devices, { min: 2, max: 10_000 });
const DURATION_S = number('duration', args.duration, { min: 1, max: 600, integer: false });
const WARMUP_S = number('warmup', args.warmup, { min: 0, max: 60, integer: false });
const DRAIN_S = number('drain', args.drain, { min: 1, max: 60, integer: false });
const INFLIGHT = number('inflight', args.inflight, { max: 64 });
const PAYLOAD = number('payload', args.payload, { min: 32, max: 60_000 });
const REGISTER_CONCURRENCY = number('register-concurrency', args['register-concurrency'], { max: 256 });
const CONNECT_CONCURRENCY = number('connect-concurrency', args['connect-concurrency'], { max: 1024 });
if (!['sealed', 'ws', 'http'].includes(args.send)) {
  console.error(`--send: expected sealed, ws or http, got "${args.send}"\n\n${USAGE}`);
  process.exit(2);
}
const SEND_MODE = args.send;
const TARGETS = args.only.split(',').map((t) => t.trim());
for (const t of TARGETS) {
  if (!['relay', 'sqlite', 'postgres'].includes(t)) {
    console.error(`--only: unknown target "${t}" (relay, sqlite, postgres)\n\n${USAGE}`);
    process.exit(2);
  }
}
/** Registration and connection each do one scrypt per device on the server (~25 ms of CPU): allow ample time. */
const SETUP_TIMEOUT_MS = (120 + DEVICES * 0.25) * 1000;
const PROFILE_DIR = args.profile === undefined ? undefined : resolve(args.profile);
if (PROFILE_DIR) mkdirSync(PROFILE_DIR, { recursive: true });

/**
 * Bench-only rate limits: one IP (loopback) sends everything, and with few devices one recipient takes more sealed
 * sends than its default budget (600 a minute).
 */
const SERVER_ENV = {
  ...process.env,
  SAMIZDAT_RATE_LIMIT_ACCOUNT_PER_MIN: '1000000000',
  SAMIZDAT_RATE_LIMIT_IP_PER_MIN: '1000000000',
  SAMIZDAT_RATE_LIMIT_SEALED_PER_RECIPIENT_BURST: '1000000000',
  SAMIZDAT_RATE_LIMIT_SEALED_PER_RECIPIENT_PER_MIN: '1000000000',
};

const log = (text) => console.log(text);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- /proc ----

let CLK_TCK = 100;
try {
  CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
} catch {
  // keep 100
}

function rssKb(pid) {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) : NaN;
}

/** CPU seconds (user + system) used so far by one process. */
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** TcpExt ListenOverflows: connections the kernel dropped because a listener's accept queue was full. */
function listenOverflows() {
  const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n');
  const header = lines.find((l) => l.startsWith('TcpExt:'))?.split(' ');
  const values = lines.filter((l) => l.startsWith('TcpExt:'))[1]?.split(' ');
  const i = header?.indexOf('ListenOverflows') ?? -1;
  return i > 0 && values ? Number(values[i]) : NaN;
}

/** CPU seconds the whole machine was busy (all cores) so far. */
function machineBusySeconds() {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const [user, nice, system, , , irq, softirq, steal] = line.split(/\s+/).slice(1).map(Number);
  return (user + nice + system + irq + softirq + steal) / CLK_TCK;
}

// ---- child processes ----

const children = new Set();

/** Spawns a server and resolves with its process and base URL once it prints its listening line. */
function startServer(kind, extraArgs, tag, profile = false) {
  const script = kind === 'relay' ? join(HERE, 'relay.mjs') : SERVER_MAIN;
  const nodeArgs = profile && PROFILE_DIR ? ['--cpu-prof', '--cpu-prof-dir', PROFILE_DIR, '--cpu-prof-name', `server-${tag}.cpuprofile`] : [];
  // Every simulated device connects from 127.0.0.1: lift the per-IP connection limit (default 256) for the servers.
  const limits = kind === 'relay' ? [] : ['--max-connections-per-ip', '1000000'];
  const child = spawn(process.execPath, [...nodeArgs, script, '--port', '0', '--host', '127.0.0.1', ...limits, ...extraArgs], {
    env: SERVER_ENV,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let output = '';
  const pattern = kind === 'relay' ? /relay listening on ws:\/\/([^/\s]+)\// : /Samizdat listening on http:\/\/([^/\s]+)\//;
  return new Promise((resolvePromise, reject) => {
    let listening = false;
    const timer = setTimeout(() => reject(new Error(`${kind} did not start within 60 s:\n${output}`)), 60_000);
    child.stdout.on('data', (chunk) => {
      output = (output + chunk).slice(-20_000);
      const match = listening ? null : pattern.exec(output);
      if (match) {
        listening = true;
        clearTimeout(timer);
        resolvePromise({ child, url: `http://${match[1]}`, output: () => output });
      }
    });
    child.stderr.on('data', (chunk) => (output = (output + chunk).slice(-20_000)));
    child.on('exit', (code, signal) => {
      children.delete(child);
      clearTimeout(timer);
      reject(new Error(`${kind} exited (${code ?? signal}) before listening:\n${output}`));
    });
  });
}

/** Stops a child: SIGTERM (a graceful stop, which also writes a --cpu-prof profile), SIGKILL after 20 s. */
function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolvePromise) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('exit', () => {
      clearTimeout(timer);
      children.delete(child);
      resolvePromise();
    });
    child.kill('SIGTERM');
  });
}

/** The load generator (load.mjs) with a request/response helper over IPC. */
async function startLoad() {
  const child = fork(join(HERE, 'load.mjs'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.add(child);
  const listeners = new Set();
  let exited;
  child.on('message', (message) => {
    for (const listener of [...listeners]) listener(message);
  });
  child.on('exit', (code, signal) => {
    children.delete(child);
    exited = `load generator exited (${code ?? signal})`;
    for (const listener of [...listeners]) listener({ event: 'exit' });
  });
  /** Resolves with the first message whose event is `event`; calls onEvent for the others. */
  const waitFor = (event, timeoutMs, onEvent = () => undefined) =>
    new Promise((resolvePromise, reject) => {
      const timer = setTimeout(() => {
        listeners.delete(listener);
        reject(new Error(`load generator: no "${event}" within ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
      const listener = (message) => {
        if (message.event === event) {
          clearTimeout(timer);
          listeners.delete(listener);
          resolvePromise(message);
        } else if (message.event === 'error' || message.event === 'exit') {
          clearTimeout(timer);
          listeners.delete(listener);
          reject(new Error(message.event === 'error' ? `load generator failed: ${message.message}` : exited));
        } else onEvent(message);
      };
      listeners.add(listener);
    });
  await waitFor('started', 30_000);
  return {
    child,
    waitFor,
    request(cmd, event, timeoutMs, payload = {}, onEvent) {
      const reply = waitFor(event, timeoutMs, onEvent);
      child.send({ cmd, ...payload });
      return reply;
    },
  };
}

// ---- PostgreSQL: a fresh database per run ----

async function createDatabase(adminUrl) {
  const name = `bench_${randomBytes(6).toString('hex')}`;
  const sql = postgres(adminUrl, { max: 1, onnotice: () => undefined, connect_timeout: 10 });
  try {
    await sql.unsafe(`CREATE DATABASE "${name}"`);
  } finally {
    await sql.end({ timeout: 1 });
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const admin = postgres(adminUrl, { max: 1, onnotice: () => undefined, connect_timeout: 10 });
      try {
        await admin.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await admin.end({ timeout: 1 });
      }
    },
  };
}

// ---- one target ----

const fmt = (n, digits = 0) => (n === null || n === undefined || Number.isNaN(n) ? '—' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));

async function runTarget(target, cleanUps) {
  log(`\n== ${target} ==`);
  const mode = target === 'relay' ? 'relay' : 'samizdat';
  let serverArgs = [];
  let dataDir;
  if (mode === 'samizdat') {
    dataDir = mkdtempSync(join(tmpdir(), `samizdat-bench-${target}-`));
    cleanUps.push(() => rmSync(dataDir, { recursive: true, force: true }));
    serverArgs = ['--data-dir', dataDir, '--log-level', 'warn'];
    if (target === 'postgres') {
      const db = await createDatabase(args['database-url']);
      cleanUps.push(() => db.drop());
      serverArgs.push('--database-url', db.url);
    }
  }
  let server = await startServer(mode, serverArgs, target);
  let pid = server.child.pid;
  const load = await startLoad();
  let lastProgress = 'none';
  const onProgress = (message) => {
    if (message.event === 'progress') lastProgress = `${message.done}/${message.of} ${message.what}`;
  };
  try {
    const setup = await load.request('setup', 'registered', SETUP_TIMEOUT_MS, {
      mode,
      url: server.url,
      devices: DEVICES,
      inflight: INFLIGHT,
      payloadBytes: PAYLOAD,
      sendMode: SEND_MODE,
      registerConcurrency: REGISTER_CONCURRENCY,
      connectConcurrency: CONNECT_CONCURRENCY,
    }, onProgress);
    if (mode === 'samizdat') {
      log(`set-up: ${DEVICES} accounts registered in ${fmt(setup.registerMs / 1000, 1)} s (keys generated in ${fmt(setup.keygenMs / 1000, 2)} s)`);
      // Restart on the same data, so that the RSS baseline holds no registration garbage and the measured process
      // is one that has only ever served connected devices (as after a deploy: clients reconnect).
      await stopChild(server.child);
      server = await startServer(mode, serverArgs, target, true);
      pid = server.child.pid;
      await load.request('retarget', 'retargeted', 30_000, { url: server.url });
    }
    // RSS per device: a first group of devices connects untimed (it pays one-time costs: scrypt's working memory in
    // the thread pool, code compiled on first use), then the rest connect between two RSS readings.
    const warmGroup = Math.min(Math.floor(DEVICES / 2), Math.max(32, Math.floor(DEVICES / 10)));
    const first = await load.request('connect', 'connected', SETUP_TIMEOUT_MS, { from: 0, to: warmGroup }, onProgress);
    await sleep(1000);
    const rssBefore = rssKb(pid);
    const rest = await load.request('connect', 'connected', SETUP_TIMEOUT_MS, { from: warmGroup, to: DEVICES }, onProgress);
    await sleep(2000);
    const rssAfter = rssKb(pid);
    const rssPerDeviceKb = (rssAfter - rssBefore) / (DEVICES - warmGroup);
    const connected = { connectMs: first.connectMs + rest.connectMs };
    log(
      `connected ${DEVICES} WebSockets in ${fmt(connected.connectMs / 1000, 1)} s; server RSS ${fmt(rssBefore / 1024, 1)} MB with ${warmGroup} ` +
        `connected → ${fmt(rssAfter / 1024, 1)} MB with ${DEVICES} = ${fmt(rssPerDeviceKb, 1)} KB per device`,
    );

    let cpuAtStart;
    const onWindow = (message) => {
      const sample = {
        server: cpuSeconds(pid),
        load: cpuSeconds(load.child.pid),
        machine: machineBusySeconds(),
        at: performance.now(),
        monotonicUs: Number(process.hrtime.bigint() / 1000n),
      };
      if (message.event === 'window-start') cpuAtStart = sample;
      else if (message.event === 'window-end' && cpuAtStart) {
        const wall = (sample.at - cpuAtStart.at) / 1000;
        const server = (sample.server - cpuAtStart.server) / wall;
        const loadCpu = (sample.load - cpuAtStart.load) / wall;
        const other = (sample.machine - cpuAtStart.machine) / wall - server - loadCpu;
        cpuAtStart = { ...cpuAtStart, split: { server, load: loadCpu, other: Math.max(0, other) }, windowUs: [cpuAtStart.monotonicUs, sample.monotonicUs] };
      }
    };
    log(`load: ${WARMUP_S} s warm-up, ${DURATION_S} s measured, ${INFLIGHT} in flight per device…`);
    const overflowsBefore = listenOverflows();
    const result = await load.request(
      'run',
      'result',
      (WARMUP_S + DURATION_S + DRAIN_S + 60) * 1000,
      { warmupMs: WARMUP_S * 1000, durationMs: DURATION_S * 1000, drainMs: DRAIN_S * 1000 },
      onWindow,
    );
    const rssEnd = rssKb(pid);
    const overflows = listenOverflows() - overflowsBefore;
    const split = cpuAtStart?.split;
    log(
      `${fmt(result.msgsPerSec)} msgs/s delivered, p50 ${fmt(result.p50, 1)} ms, p99 ${fmt(result.p99, 1)} ms` +
        (mode === 'samizdat' ? `; send → stored (SEND_OK or 200): p50 ${fmt(result.sendP50, 1)} ms, p99 ${fmt(result.sendP99, 1)} ms` : ''),
    );
    if (split) {
      log(`CPU during the window (1.00 = one core): server ${fmt(split.server, 2)}, load generator ${fmt(split.load, 2)}, rest of the machine ${fmt(split.other, 2)}${target === 'postgres' ? ' (PostgreSQL backends and anything else)' : ''}`);
    }
    log(
      `checks: sent ${fmt(result.sent)}, delivered ${fmt(result.delivered)}, duplicates ${result.duplicates}, send errors ${result.sendErrors}, ` +
        `ERROR frames ${result.errorFrames}, unexpected closes ${result.unexpectedCloses}, accepted but not delivered after drain ${result.undelivered}, ` +
        `unanswered after drain ${result.unanswered}; accept-queue overflows (whole machine) ${overflows}`,
    );
    const { slowest } = result;
    log(
      `slowest message received in the window: ${fmt(slowest.ms, 0)} ms, sent ${fmt(slowest.sentAfterStartMs / 1000, 2)} s after the load started` +
        (slowest.answeredAfterMs === null || slowest.answeredAfterMs === undefined ? '' : `, answered 200 after ${fmt(slowest.answeredAfterMs, 0)} ms`),
    );
    for (const sample of result.errorSamples) log(`  error sample: ${sample}`);
    await load.request('close', 'closed', 30_000).catch(() => undefined);
    await stopChild(server.child);
    // The server logs at "warn": anything it wrote is a warning or an error worth seeing.
    const logLines = server.output().split('\n').filter((line) => line.startsWith('{'));
    if (logLines.length > 0) {
      const kinds = new Map();
      for (const line of logLines) {
        let key = line.slice(0, 120);
        try {
          const entry = JSON.parse(line);
          key = `level ${entry.level} "${entry.msg}"${entry.err ? ` ${entry.err.type ?? ''} ${entry.err.code ?? ''}` : ''}${entry.route ? ` on ${entry.route}` : ''}`;
        } catch {
          // not JSON: keep the start of the line
        }
        kinds.set(key, (kinds.get(key) ?? 0) + 1);
      }
      log(`server wrote ${logLines.length} warning/error log line(s):`);
      for (const [key, count] of kinds) log(`  ${count} × ${key}`);
    }
    let profile;
    if (PROFILE_DIR && mode === 'samizdat') {
      const file = join(PROFILE_DIR, `server-${target}.cpuprofile`);
      const [fromUs, toUs] = cpuAtStart?.windowUs ?? [];
      try {
        profile = summarize(file, { fromUs, toUs });
        log(`server CPU profile of the measured window (${file}):`);
        for (const line of formatSummary(profile, 20)) log(`  ${line}`);
      } catch (err) {
        log(`no CPU profile summary: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    return {
      target,
      msgsPerSec: result.msgsPerSec,
      p50: result.p50,
      p99: result.p99,
      max: result.max,
      sendP50: result.sendP50,
      sendP99: result.sendP99,
      rssPerDeviceKb,
      rssBeforeKb: rssBefore,
      rssAfterKb: rssAfter,
      rssEndKb: rssEnd,
      registerS: setup.registerMs / 1000,
      connectS: connected.connectMs / 1000,
      cpu: split,
      sent: result.sent,
      delivered: result.delivered,
      duplicates: result.duplicates,
      sendErrors: result.sendErrors,
      undelivered: result.undelivered,
    };
  } catch (err) {
    // Say where it stopped and what the server said before the children go.
    let state = 'exited';
    try {
      state = /^State:\s+(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '?';
    } catch {
      // the server is gone
    }
    const message = err instanceof Error ? err.message : String(err);
    throw new Error(`${target}: ${message}\nlast progress: ${lastProgress}; server process state: ${state}\nserver output (tail):\n${server.output().slice(-3000)}`);
  } finally {
    await stopChild(load.child);
    await stopChild(server.child);
  }
}

// ---- main ----

const deadlineS = 3 * ((2 * SETUP_TIMEOUT_MS) / 1000 + WARMUP_S + DURATION_S + DRAIN_S + 120);
const watchdog = setTimeout(() => {
  console.error(`bench/server: still running after ${deadlineS} s, giving up`);
  for (const child of children) child.kill('SIGKILL');
  process.exit(1);
}, deadlineS * 1000);
watchdog.unref();

const stopAll = () => {
  for (const child of children) child.kill('SIGKILL');
  process.exit(130);
};
process.on('SIGINT', stopAll);
process.on('SIGTERM', stopAll);

const cpuModel = cpus()[0]?.model ?? 'unknown CPU';
log(`bench/server: ${DEVICES} devices, ${DURATION_S} s measured (+${WARMUP_S} s warm-up) per target, ${INFLIGHT} in flight per device, ${PAYLOAD} B payload, samizdat sends ${
    { sealed: 'sealed over HTTP (PUT /v1/sealed/messages, access key, no credentials)', ws: 'identified over the WebSocket (SEND frames)', http: 'identified over HTTP (PUT /v1/messages)' }[SEND_MODE]
  }`);
const loadAverage = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
log(`machine: ${cpus().length} × ${cpuModel}, Node ${process.version}; loopback only; load average before the run ${loadAverage}`);
if (Number(loadAverage.split(' ')[0]) > 0.5) log('note: the machine is already busy — every figure below is skewed by whatever else is running');
log('split: each server is 1 Node process; the load generator is 1 other Node process holding all devices; this process only orchestrates; all share the machine’s cores');

const results = {};
const cleanUps = [];
let failed = false;
try {
  for (const target of TARGETS) results[target] = await runTarget(target, cleanUps);
} catch (err) {
  failed = true;
  console.error(`bench/server failed: ${err instanceof Error ? err.message : String(err)}`);
} finally {
  for (const step of cleanUps.reverse()) {
    try {
      await step();
    } catch (err) {
      console.error(`clean-up failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}
if (failed) {
  for (const child of children) child.kill('SIGKILL');
  process.exit(1);
}

const relay = results.relay?.msgsPerSec;
const fraction = (r) => (r && relay ? r.msgsPerSec / relay : null);
const rows = [
  ['target', 'msgs/s', 'of relay', 'p50 ms', 'p99 ms', 'send→ok p99 ms', 'RSS/device KB', 'CPU srv/load/other', 'set-up s (reg + conn)'],
];
const names = { relay: 'bare ws relay', sqlite: 'samizdat, SQLite', postgres: 'samizdat, PostgreSQL' };
for (const target of TARGETS) {
  const r = results[target];
  rows.push([
    names[target],
    fmt(r.msgsPerSec),
    target === 'relay' ? '1.00' : fmt(fraction(r), 2),
    fmt(r.p50, 1),
    fmt(r.p99, 1),
    target === 'relay' ? '—' : fmt(r.sendP99, 1),
    fmt(r.rssPerDeviceKb, 1),
    r.cpu ? `${fmt(r.cpu.server, 2)} / ${fmt(r.cpu.load, 2)} / ${fmt(r.cpu.other, 2)}` : '—',
    target === 'relay' ? fmt(r.connectS, 1) : `${fmt(r.registerS, 1)} + ${fmt(r.connectS, 1)}`,
  ]);
}
const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
log('');
for (const [i, row] of rows.entries()) {
  log(row.map((cell, j) => (j === 0 ? cell.padEnd(widths[j]) : cell.padStart(widths[j]))).join('  '));
  if (i === 0) log(widths.map((w) => '-'.repeat(w)).join('  '));
}
const s = results.sqlite;
const p = results.postgres;
if (s) {
  const ok = fraction(s) !== null && fraction(s) >= 0.5 && s.p99 < 100;
  log(`\ngoal (SQLite: ≥ 0.50 of the relay, p99 < 100 ms): ${ok ? 'met' : 'NOT met'}`);
}
if (PROFILE_DIR) {
  const files = readdirSync(PROFILE_DIR).filter((f) => f.endsWith('.cpuprofile'));
  log(`CPU profiles in ${PROFILE_DIR}: ${files.join(', ') || 'none'} (summarize with node bench/server/profile-summary.mjs FILE)`);
}

const round = (n, digits = 1) => (n === null || n === undefined || Number.isNaN(n) ? null : Number(n.toFixed(digits)));
console.log(
  JSON.stringify({
    msgs_per_sec: round(s?.msgsPerSec, 0),
    p50_ms: round(s?.p50),
    p99_ms: round(s?.p99),
    rss_per_device_kb: round(s?.rssPerDeviceKb),
    fraction_of_relay: round(fraction(s), 3),
    relay_msgs_per_sec: round(relay, 0),
    relay_p50_ms: round(results.relay?.p50),
    relay_p99_ms: round(results.relay?.p99),
    relay_rss_per_device_kb: round(results.relay?.rssPerDeviceKb),
    pg_msgs_per_sec: round(p?.msgsPerSec, 0),
    pg_p50_ms: round(p?.p50),
    pg_p99_ms: round(p?.p99),
    pg_rss_per_device_kb: round(p?.rssPerDeviceKb),
    pg_fraction_of_relay: round(fraction(p), 3),
    devices: DEVICES,
    duration_s: DURATION_S,
    inflight_per_device: INFLIGHT,
    payload_bytes: PAYLOAD,
    send: SEND_MODE,
    cpus: cpus().length,
  }),
);
process.exit(0);
