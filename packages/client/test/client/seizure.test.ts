/**
 * The seizure test of issue 16: scripted 1:1 conversations through a real server on its SQLite default (three
 * people, a linked device, both directions, delivery and read receipts, typing, an attachment, messages still queued
 * when the server is taken), then the server stopped and what it leaves examined as one who seized it would: every
 * row of every table of its database, its WAL, every other file of the data directory, and every log line (debug
 * level). No row, line or file may name two accounts that talked 1:1, and no queued sealed envelope may carry a
 * sender. The control: one identified send (a stranger writing to someone who takes sealed envelopes from contacts
 * only, the fallback allowed), still queued, must be found by the same scanner.
 *
 * A group of three who do not talk 1:1 (alice, erin, frank) talks too, with frank away so that copies stay queued:
 * every queued group application message must name no sender. What the group's own rows say (its GroupInfo names
 * its members) is membership, which the server needs to fan out (docs/threat-model.md).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../../server/test/helpers/server.js';
import type { TestServer } from '../../../server/test/helpers/server.js';
import { isEncryptedGroupMessage, removeProfiles, registerClient, linkClient, sync, waitFor } from './helpers.js';
import type { TestClient } from './helpers.js';

let server: TestServer;
const open: TestClient[] = [];

beforeAll(async () => {
  server = await startServer({ logLevel: 'debug' });
});

afterAll(async () => {
  for (const t of open) await t.client.close().catch(() => undefined);
  await server.close();
  removeProfiles();
});

async function person(name: string): Promise<TestClient & { username: string }> {
  const username = `${name}${Date.now().toString(36)}`;
  const t = await registerClient(server.url, username);
  open.push(t);
  return { ...t, username };
}

interface Link {
  readonly where: string;
  readonly accounts: readonly string[];
}

/** Which of `ids` a piece of text (or a blob, as hex) names. */
function named(ids: readonly string[], value: unknown): string[] {
  const text = value instanceof Uint8Array ? Buffer.from(value).toString('hex') : String(value).toLowerCase();
  return ids.filter((id) => text.includes(id));
}

/** Every row, log line and file that names two or more of `ids`. */
function links(ids: readonly string[], logs: readonly string[]): Link[] {
  const found: Link[] = [];
  const db = new Database(join(server.dataDir, 'samizdat.db'), { readonly: true, fileMustExist: true });
  try {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[];
    for (const { name } of tables) {
      for (const row of db.prepare(`SELECT * FROM "${name}"`).all() as Record<string, unknown>[]) {
        const accounts = [...new Set(Object.values(row).flatMap((v) => named(ids, v)))];
        if (accounts.length > 1) found.push({ where: `table ${name}`, accounts });
      }
    }
  } finally {
    db.close();
  }
  logs.forEach((line, i) => {
    const accounts = named(ids, line);
    if (accounts.length > 1) found.push({ where: `log line ${i}`, accounts });
  });
  for (const file of files(server.dataDir).filter((f) => !f.endsWith('samizdat.db'))) {
    const accounts = named(ids, readFileSync(file));
    const text = named(ids, readFileSync(file, 'latin1'));
    const all = [...new Set([...accounts, ...text])];
    if (all.length > 1) found.push({ where: file, accounts: all });
  }
  return found;
}

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

const pair = (a: TestClient, b: TestClient) => [a.client.accountId, b.client.accountId].sort();

describe('a seized server', () => {
  it('cannot tell who talked with whom 1:1: no row, log line or file names both, while an identified send is found', async () => {
    const alice = await person('alice');
    const bob = await person('bob');
    const carol = await person('carol');
    const laptop = await linkClient(server.url, alice.client);
    open.push(laptop);
    for (const t of [alice, bob, carol, laptop]) await sync(t);

    // Alice and Bob, both ways, with receipts, typing and a file; the laptop joins in.
    await alice.client.sendText(bob.username, 'hello bob', { attachments: [{ data: new Uint8Array(5000).fill(7), contentType: 'application/octet-stream', fileName: 'a.bin' }] });
    await waitFor(async () => (await bob.client.history(alice.client.accountId)).length > 0, 'bob gets it');
    await bob.client.sendTyping(alice.client.accountId, 'started');
    await bob.client.sendText(alice.client.accountId, 'hello alice');
    await waitFor(async () => (await alice.client.history(bob.client.accountId)).some((m) => m.body === 'hello alice'), 'alice gets it');
    await alice.client.markRead(bob.client.accountId);
    await bob.client.markRead(alice.client.accountId);
    await laptop.client.sendText(bob.client.accountId, 'from the laptop');
    // Carol and Bob.
    await carol.client.sendText(bob.username, 'hi bob, carol here');
    await waitFor(async () => (await bob.client.history(carol.client.accountId)).length > 0, 'bob gets carol');
    await bob.client.sendText(carol.client.accountId, 'hi carol');
    await waitFor(async () => (await carol.client.history(bob.client.accountId)).some((m) => m.body === 'hi carol'), 'carol gets it');

    // A group: alice (both devices), erin and frank, each of whom says something; frank then goes away.
    const erin = await person('erin');
    const frank = await person('frank');
    for (const t of [erin, frank]) await sync(t);
    for (const t of [alice, laptop, erin, frank]) await t.client.groups.maintainKeyPackages();
    const { groupId } = await alice.client.groups.create('Seized', [erin.username, frank.username]);
    for (const t of [erin, frank, laptop]) await waitFor(async () => (await t.client.groups.list()).some((g) => g.groupId === groupId && g.name === 'Seized'), 'every member joins');
    await erin.client.sendText(groupId, 'erin in the group');
    await frank.client.sendText(groupId, 'frank in the group');
    for (const t of [alice, erin, frank]) {
      await waitFor(async () => (await t.client.history(groupId)).filter((m) => m.body?.endsWith('in the group')).length === 2, 'the group talks');
      await t.client.whenQueueEmpty();
    }
    await frank.client.stop();
    await alice.client.sendText(groupId, 'queued for frank');
    await erin.client.sendText(groupId, 'queued for frank too');

    // Still queued when the server is taken: sealed copies for Bob and Carol, and (the control) a stranger's
    // identified message to Bob, who now takes sealed envelopes from contacts only.
    await bob.client.setSealedSenderSettings({ mode: 'contacts' });
    await bob.client.stop();
    await carol.client.stop();
    await alice.client.sendText(bob.username, 'queued, sealed');
    await alice.client.sendText(carol.username, 'queued for carol, sealed');
    const dave = await person('dave');
    const control = await dave.client.sendText(bob.username, 'queued, identified');
    expect(control.sealed).toBeUndefined();
    await waitFor(async () => (await alice.client.history(bob.client.accountId)).filter((m) => m.direction === 'outgoing').every((m) => m.status !== 'pending'), 'sent');

    for (const t of open) await t.client.stop();
    await server.stop();
    const walFile = join(server.dataDir, 'samizdat.db-wal');
    expect(!files(server.dataDir).includes(walFile) || statSync(walFile).size === 0, 'the WAL was checkpointed into the database at shutdown').toBe(true);

    const ids = [alice, bob, carol, dave, erin, frank].map((t) => t.client.accountId);
    const found = links(ids, server.logs);
    const talked = [pair(alice, bob), pair(bob, carol), pair(alice, carol)];
    for (const p of talked) {
      expect(found.filter((l) => p.every((id) => l.accounts.includes(id))), `something names both of ${p.join(' and ')}`).toEqual([]);
    }
    // The control: the identified send is there, in the queue, naming dave as the sender of a copy for bob.
    const daveAndBob = pair(dave, bob);
    expect(found.filter((l) => daveAndBob.every((id) => l.accounts.includes(id))).map((l) => l.where)).toContain('table envelopes');

    // The group's members are known to the server (they are its fan-out), but not who said what.
    const erinAndFrank = pair(erin, frank);
    expect(found.filter((l) => erinAndFrank.every((id) => l.accounts.includes(id))).map((l) => l.where)).toEqual(['table groups']);

    // And the queue holds sealed copies (no sender) for bob and carol, and the group's messages for frank.
    const db = new Database(join(server.dataDir, 'samizdat.db'), { readonly: true, fileMustExist: true });
    try {
      const queued = db.prepare('SELECT account_id, source_account_id FROM envelopes').all() as { account_id: string; source_account_id: string | null }[];
      const sealed = queued.filter((r) => r.source_account_id === null).map((r) => r.account_id);
      expect(sealed).toEqual(expect.arrayContaining([bob.client.accountId, carol.client.accountId, frank.client.accountId]));
      const rows = db.prepare('SELECT account_id, source_account_id, source_device_id, envelope FROM envelopes').all() as {
        account_id: string;
        source_account_id: string | null;
        source_device_id: number | null;
        envelope: Uint8Array;
      }[];
      const groupMessages = rows.filter((r) => isEncryptedGroupMessage(r.envelope));
      expect(groupMessages.filter((r) => r.account_id === frank.client.accountId).length).toBeGreaterThanOrEqual(2);
      expect(groupMessages.map((r) => [r.source_account_id, r.source_device_id])).toEqual(groupMessages.map(() => [null, null]));
      // Identified rows: dave's control, and sync copies from alice's devices to her own account.
      for (const r of queued.filter((q) => q.source_account_id !== null)) {
        expect([r.source_account_id === dave.client.accountId && r.account_id === bob.client.accountId, r.source_account_id === r.account_id]).toContain(true);
      }
    } finally {
      db.close();
    }
  });
});
