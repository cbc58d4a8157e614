/** The `samizdat-server` binary: flags and exit codes, the URL it prints, and graceful shutdown on SIGTERM. */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiOk, basicAuth, queuedIds, registerDevice, testEnvelope } from './helpers/server.js';
import { buildServer, runServer, spawnServer } from './helpers/child-server.js';
import type { ServerProcess } from './helpers/child-server.js';
import { b64 } from './helpers/http.js';

const dirs: string[] = [];
const running: ServerProcess[] = [];

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'samizdat-main-'));
  dirs.push(dir);
  return dir;
}

async function start(args: string[], env: NodeJS.ProcessEnv = {}): Promise<ServerProcess> {
  const server = await spawnServer(args, env);
  running.push(server);
  return server;
}

/** A port that was free a moment ago. */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const address = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return address.port;
}

function lines(text: string): string[] {
  return text.split('\n').filter((line) => line !== '');
}

beforeAll(async () => {
  await buildServer();
}, 180_000);

afterAll(async () => {
  for (const server of running) server.kill('SIGKILL');
  await Promise.all(running.map((s) => s.exited));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('samizdat-server configuration errors', () => {
  it('exits with 2 and one line on stderr for a bad flag or environment value', async () => {
    const cases: [string[], NodeJS.ProcessEnv][] = [
      [['--port', 'abc'], {}],
      [['--port', '70000'], {}],
      [[], { SAMIZDAT_PORT: 'abc' }],
      [['--log-level', 'loud'], {}],
      [[], { SAMIZDAT_LOG_LEVEL: 'loud' }],
      [['--database-url', 'mysql://localhost/samizdat'], {}],
      [['--nats-url', 'http://localhost:4222'], {}],
      [['--bogus'], {}],
      [['--port'], {}],
      [['--data-dir', dataDir()], { SAMIZDAT_USERNAME_KEY: 'not hex' }],
    ];
    const results = await Promise.all(cases.map(([args, env]) => runServer(args, env)));
    results.forEach((result, i) => {
      const [args, env] = cases[i] as [string[], NodeJS.ProcessEnv];
      expect({ args, env, code: result.code, stderrLines: lines(result.stderr).length, stdout: result.stdout }).toEqual({
        args,
        env,
        code: 2,
        stderrLines: 1,
        stdout: '',
      });
    });
  });

  it('exits with 1 and one line on stderr when it cannot start', async () => {
    const file = join(dataDir(), 'a-file');
    writeFileSync(file, '');
    const result = await runServer(['--port', '0', '--data-dir', join(file, 'data')]);
    expect(result.code).toBe(1);
    expect(lines(result.stderr)).toHaveLength(1);
  });

  it('exits with 1 and one line on stderr when the port is taken', async () => {
    const first = await start(['--port', '0', '--data-dir', dataDir(), '--log-level', 'warn']);
    const port = new URL(first.url).port;
    const result = await runServer(['--port', port, '--data-dir', dataDir(), '--log-level', 'warn']);
    expect(result.code).toBe(1);
    expect(lines(result.stderr)).toHaveLength(1);
    expect((await fetch(`${first.url}/health`)).status).toBe(200);
  });

  it('prints its usage with every flag for --help and exits with 0', async () => {
    const result = await runServer(['--help']);
    expect(result.code).toBe(0);
    const flags = ['--port', '--host', '--data-dir', '--database-url', '--nats-url', '--log-level', '--metrics-token', '--username-key-file', '--trust-root-key-file', '--max-connections-per-ip'];
    for (const flag of flags) expect(result.stdout).toContain(flag);
  });
});

describe('samizdat-server', () => {
  it('listens on the port it is given, prints its URL, answers /health and exits with 0 on SIGTERM', async () => {
    const port = await freePort();
    const dir = dataDir();
    const server = await start(['--port', String(port), '--data-dir', dir, '--log-level', 'warn']);
    expect(lines(server.stdout())).toContain(`Samizdat listening on http://127.0.0.1:${port}/`);
    expect(await apiOk(server, 'GET', '/health')).toEqual({ status: 'ok', store: 'sqlite' });
    server.kill('SIGTERM');
    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(server.stderr()).toBe('');
  });

  it('takes its settings from SAMIZDAT_* variables, and --port 0 prints the port the system chose', async () => {
    const port = await freePort();
    const fromEnv = await start([], { SAMIZDAT_PORT: String(port), SAMIZDAT_DATA_DIR: dataDir(), SAMIZDAT_LOG_LEVEL: 'warn' });
    expect(fromEnv.url).toBe(`http://127.0.0.1:${port}`);
    // The flag wins over the environment.
    const anyPort = await start(['--port', '0'], { SAMIZDAT_PORT: String(port), SAMIZDAT_DATA_DIR: dataDir(), SAMIZDAT_LOG_LEVEL: 'warn' });
    expect(anyPort.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(anyPort.url).not.toBe(fromEnv.url);
    expect((await apiOk(anyPort, 'GET', '/health')).status).toBe('ok');
    // Quiet on success at the default level too: info logs the start only.
    for (const server of [fromEnv, anyPort]) server.kill('SIGTERM');
    expect((await Promise.all([fromEnv.exited, anyPort.exited])).map((e) => e.code)).toEqual([0, 0]);
  });

  it('keeps the username key where --username-key-file says (0600), not in the data directory, and serves /metrics to --metrics-token', async () => {
    const dir = dataDir();
    const keys = dataDir();
    const keyFile = join(keys, 'username.key');
    const token = 'metrics-token-for-this-test-0123';
    const server = await start(['--port', '0', '--data-dir', dir, '--username-key-file', keyFile, '--metrics-token', token, '--log-level', 'warn']);
    expect(statSync(keyFile).size).toBe(32);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(existsSync(join(dir, 'username.key'))).toBe(false);
    expect((await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    expect((await fetch(`${server.url}/metrics`)).status).toBe(401);
    server.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
    expect(server.stderr()).not.toContain(token);
  });

  it('keeps the sealed-sender trust root in its file (0600) across restarts, and refuses to start on a corrupt one', async () => {
    const dir = dataDir();
    const keyFile = join(dataDir(), 'trust-root.key');
    const root = async () => {
      const server = await start(['--port', '0', '--data-dir', dir, '--trust-root-key-file', keyFile, '--log-level', 'warn']);
      const { publicKey } = await apiOk<{ publicKey: string }>(server, 'GET', '/v1/certificate/trust-root');
      server.kill('SIGTERM');
      expect((await server.exited).code).toBe(0);
      return publicKey;
    };
    const first = await root();
    expect(statSync(keyFile).size).toBe(64);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(existsSync(join(dir, 'trust-root.key'))).toBe(false);
    expect(await root()).toBe(first);
    // One flipped bit of the public half: refused, not replaced (clients pinned the root).
    const bytes = readFileSync(keyFile);
    bytes[40] = (bytes[40] ?? 0) ^ 1;
    writeFileSync(keyFile, bytes);
    const corrupt = await runServer(['--port', '0', '--data-dir', dir, '--trust-root-key-file', keyFile]);
    expect(corrupt.code).toBe(2);
    expect(lines(corrupt.stderr)).toEqual([`samizdat-server: cannot start: ${keyFile} is corrupt (its public key does not match its private key)`]);
    expect(readFileSync(keyFile).equals(bytes)).toBe(true);
  });

  it('finishes in-flight sends on SIGTERM: each answered 200 (and stored) or refused, never lost', async () => {
    const dir = dataDir();
    const server = await start(['--port', '0', '--data-dir', dir, '--log-level', 'warn']);
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const send = async (i: number) => {
      try {
        const res = await fetch(`${server.url}/v1/messages/${bob.accountId}`, {
          method: 'PUT',
          headers: { authorization: basicAuth(alice), 'content-type': 'application/json' },
          body: JSON.stringify({ messages: [{ deviceId: 1, registrationId: bob.registrationId, envelope: b64(testEnvelope(Uint8Array.of(i))) }] }),
        });
        const body = (await res.json()) as { ids?: string[]; code?: string };
        return { status: res.status, id: body.ids?.[0], code: body.code };
      } catch {
        return { status: 0 }; // refused: the server had stopped accepting connections
      }
    };
    const first = await send(0);
    expect(first.status).toBe(200);
    const sends = Array.from({ length: 40 }, (_, i) => send(i + 1));
    await new Promise((resolve) => setTimeout(resolve, 5));
    const stopping = Date.now();
    server.kill('SIGTERM');
    const results = [first, ...(await Promise.all(sends))];
    expect(await server.exited).toEqual({ code: 0, signal: null });
    // Kept-alive client connections do not hold the process open.
    expect(Date.now() - stopping).toBeLessThan(5000);
    for (const result of results) {
      if (result.status === 503) expect(result.code).toBe('SHUTTING_DOWN');
      else expect([0, 200]).toContain(result.status);
    }
    const stored = results.filter((r) => r.status === 200).map((r) => BigInt(r.id as string));

    const again = await start(['--port', '0', '--data-dir', dir, '--log-level', 'warn']);
    const queued = new Set<bigint>();
    for (let page = await queuedIds(again, bob); page.length > 0; ) {
      for (const id of page) queued.add(id);
      const next = await apiOk<{ messages: { id: string }[] }>(again, 'GET', `/v1/messages?after=${page.at(-1)}`, { auth: bob });
      page = next.messages.map((m) => BigInt(m.id));
    }
    expect(stored.filter((id) => !queued.has(id))).toEqual([]);
  });
});
