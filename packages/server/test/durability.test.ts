/**
 * "A server crash loses nothing it had acknowledged to the sender" (docs/architecture.md, Delivery), tested on the real binary:
 * senders stream messages with several requests in flight, the server process is killed with SIGKILL in the middle,
 * restarted on the same data directory (or PostgreSQL schema), and a receiver drains the queue. Every message that
 * got a 200 must be there exactly once; after the receiver's acks, none comes back — not even after another SIGKILL.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeEnvelope } from '@samizdat/protocol';
import { SQLITE_FILE_NAME } from '../src/store/open-repository.js';
import { TEST_POSTGRES_URL, apiOk, basicAuth, newPostgresSchema, registerDevice, testEnvelope } from './helpers/server.js';
import type { TestDevice } from './helpers/server.js';
import { buildServer, spawnServer } from './helpers/child-server.js';
import type { ServerProcess } from './helpers/child-server.js';
import { b64 } from './helpers/http.js';

const SENDERS = 6;
/** Kill once this many sends have been acknowledged (with SENDERS more in flight). */
const ACKED_BEFORE_KILL = 150;

beforeAll(async () => {
  await buildServer();
}, 180_000);

interface Engine {
  /** Extra command-line flags for the store. */
  readonly flags: () => Promise<string[]>;
  /** Accounts in the store this engine set up (to check that the server really used it). */
  readonly accounts: (dataDir: string) => Promise<number>;
  readonly cleanUp: () => Promise<void>;
}

function sqlite(): Engine {
  return {
    flags: async () => [],
    async accounts(dataDir) {
      const db = new Database(join(dataDir, SQLITE_FILE_NAME), { readonly: true });
      try {
        return db.prepare('SELECT count(*) FROM accounts').pluck().get() as number;
      } finally {
        db.close();
      }
    },
    cleanUp: async () => undefined,
  };
}

/** A fresh schema, selected through the URL (postgres.js passes `search_path` on as a connection parameter). */
function postgresSchema(): Engine {
  const schema = newPostgresSchema();
  return {
    async flags() {
      const sql = postgres(TEST_POSTGRES_URL, { max: 1, onnotice: () => undefined });
      try {
        await sql.unsafe(`CREATE SCHEMA "${schema.name}"`);
      } finally {
        await sql.end({ timeout: 1 });
      }
      return ['--database-url', `${TEST_POSTGRES_URL}?search_path=${schema.name}`];
    },
    async accounts() {
      const sql = postgres(TEST_POSTGRES_URL, { max: 1, onnotice: () => undefined });
      try {
        const [row] = await sql.unsafe<{ n: number }[]>(`SELECT count(*)::int AS n FROM "${schema.name}".accounts`);
        return row?.n ?? 0;
      } finally {
        await sql.end({ timeout: 1 });
      }
    },
    cleanUp: () => schema.drop(),
  };
}

/** The counter every envelope carries as its content (4 bytes, big-endian). */
function counterOf(envelopeBase64: string): number {
  const { content } = decodeEnvelope(new Uint8Array(Buffer.from(envelopeBase64, 'base64')));
  return Buffer.from(content).readUInt32BE(0);
}

function envelopeWith(counter: number): Uint8Array {
  const content = Buffer.alloc(4);
  content.writeUInt32BE(counter);
  return testEnvelope(new Uint8Array(content));
}

/**
 * Sends back to back until the connection breaks (the server is gone), reporting each counter that got a 200. It does
 * not stop on its own, so every stream's last send is one the server never answered: in flight when it died, or sent
 * after. (A stream that stopped when told could be between two sends at the kill, leaving nothing in flight.)
 */
async function streamMessages(url: string, from: TestDevice, to: TestDevice, next: () => number, acked: (counter: number) => void): Promise<void> {
  for (;;) {
    const counter = next();
    const body = JSON.stringify({ messages: [{ deviceId: to.deviceId, registrationId: to.registrationId, envelope: b64(envelopeWith(counter)) }] });
    let status: number;
    try {
      const res = await fetch(`${url}/v1/messages/${to.accountId}`, {
        method: 'PUT',
        headers: { authorization: basicAuth(from), 'content-type': 'application/json' },
        body,
      });
      await res.arrayBuffer();
      status = res.status;
    } catch {
      return; // the connection broke: the server is gone
    }
    if (status === 200) acked(counter);
    else throw new Error(`a send answered ${status}`);
  }
}

/** Every envelope in `device`'s queue: its id and counter, in queue order. */
async function drain(url: string, device: TestDevice): Promise<{ id: string; counter: number }[]> {
  const out: { id: string; counter: number }[] = [];
  for (let after = '0'; ; ) {
    const page = await apiOk<{ messages: { id: string; envelope: string }[]; more: boolean }>({ url }, 'GET', `/v1/messages?after=${after}`, { auth: device });
    out.push(...page.messages.map((m) => ({ id: m.id, counter: counterOf(m.envelope) })));
    if (!page.more) return out;
    after = out.at(-1)?.id ?? after;
  }
}

describe.each([
  ['SQLite', sqlite],
  ['PostgreSQL', postgresSchema],
])('a server killed with SIGKILL while messages stream in (%s)', (_name, makeEngine) => {
  const engine = makeEngine();
  const dataDir = mkdtempSync(join(tmpdir(), 'samizdat-durability-'));
  const running: ServerProcess[] = [];

  afterAll(async () => {
    for (const server of running) server.kill('SIGKILL');
    await Promise.all(running.map((s) => s.exited));
    await engine.cleanUp();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function start(flags: string[]): Promise<ServerProcess> {
    const server = await spawnServer(['--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir, '--log-level', 'warn', ...flags]);
    running.push(server);
    return server;
  }

  it('delivers every acknowledged message exactly once after restart, and none again once acked', async () => {
    const flags = await engine.flags();
    const first = await start(flags);
    const alice = await registerDevice(first);
    const bob = await registerDevice(first);

    let counter = 0;
    const acked: number[] = [];
    const streams = Array.from({ length: SENDERS }, () =>
      streamMessages(first.url, alice, bob, () => counter++, (c) => acked.push(c)),
    );
    const deadline = Date.now() + 20_000;
    while (acked.length < ACKED_BEFORE_KILL && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    first.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    await Promise.all(streams);
    expect(acked.length).toBeGreaterThanOrEqual(ACKED_BEFORE_KILL);
    // Every stream's last send went unanswered (its sender saw the connection break).
    expect(counter - acked.length).toBeGreaterThanOrEqual(SENDERS);

    const second = await start(flags);
    const queue = await drain(second.url, bob);
    const counters = queue.map((q) => q.counter);
    expect(new Set(counters).size).toBe(counters.length); // nothing stored twice
    const received = new Set(counters);
    expect(acked.filter((c) => !received.has(c))).toEqual([]); // nothing acknowledged lost
    expect(counters.every((c) => c < counter)).toBe(true);

    for (let i = 0; i < queue.length; i += 1000) {
      const ids = queue.slice(i, i + 1000).map((q) => q.id);
      const res = await apiOk<{ acknowledged: string[] }>(second, 'POST', '/v1/messages/ack', { auth: bob, body: { ids } });
      expect(res.acknowledged).toHaveLength(ids.length);
    }
    expect(await drain(second.url, bob)).toEqual([]);

    // Acks are as durable as sends: after another SIGKILL nothing comes back.
    second.kill('SIGKILL');
    await second.exited;
    const third = await start(flags);
    expect(await drain(third.url, bob)).toEqual([]);
    third.kill('SIGTERM');
    expect(await third.exited).toEqual({ code: 0, signal: null });
    // The server kept its data where this test looks (the data directory, or the PostgreSQL schema of the URL).
    expect(await engine.accounts(dataDir)).toBe(2);
  });
});
