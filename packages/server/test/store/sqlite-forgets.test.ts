/**
 * A data directory that forgets (issue 14): what the server deleted — an acknowledged envelope, an unregistered
 * account with its username hash — must not be readable from the raw bytes of the SQLite file and its WAL afterwards
 * (free pages and old WAL frames kept them before `secure_delete` and `forget()`), and the files are the server
 * user's alone (0700 directory, 0600 files). Control: the same scan finds the bytes while they are still stored.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteRepository } from '../../src/store/sqlite/sqlite-repository.js';
import { account, device, envelope } from './repository.suite.js';

const root = mkdtempSync(join(tmpdir(), 'samizdat-forgets-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The raw bytes of the database file, its WAL and its shared memory, as an operator (or a thief) would copy them. */
function rawFiles(file: string): Buffer {
  return Buffer.concat([file, `${file}-wal`, `${file}-shm`].filter((f) => existsSync(f)).map((f) => readFileSync(f)));
}

function holds(haystack: Buffer, needle: Uint8Array | string): boolean {
  return haystack.includes(typeof needle === 'string' ? Buffer.from(needle, 'utf8') : Buffer.from(needle));
}

describe('the SQLite data directory forgets what the server deleted', () => {
  it('after an ack and an unregister, neither the database file nor its WAL holds the ciphertext, the ids or the username hash', async () => {
    const file = join(root, 'a', 'samizdat.db');
    const repo = SqliteRepository.open(file);
    try {
      await repo.migrate();
      const usernameHash = new Uint8Array(randomBytes(32));
      const gone = account({ usernameHash });
      const stays = account();
      await repo.createAccount(gone, device(11));
      await repo.createAccount(stays, device(12));
      // Distinctive bytes, large enough to be unmistakable: ciphertexts to and from the account that goes.
      const toGone = new Uint8Array(randomBytes(600));
      const toStays = new Uint8Array(randomBytes(600));
      const kept = new Uint8Array(randomBytes(600));
      const [first] = await repo.enqueue([envelope(gone.id, 1, { envelope: toGone })], 100);
      const [second, third] = await repo.enqueue(
        [envelope(stays.id, 1, { envelope: toStays, sourceAccountId: gone.id, sourceDeviceId: 1 }), envelope(stays.id, 1, { envelope: kept })],
        100,
      );
      expect(first).toBeDefined();
      expect(second).toBeDefined();
      expect(third).toBeDefined();
      await repo.forget();
      // Control: while stored, the scan finds all of it.
      const before = rawFiles(file);
      for (const needle of [toGone, toStays, kept, usernameHash, gone.id]) expect(holds(before, needle)).toBe(true);

      // Stays acknowledges the envelope from gone; gone unregisters (its queue and account row go).
      expect(await repo.ack(stays.id, 1, [second as bigint])).toEqual([second]);
      await repo.deleteAccount(gone.id);
      await repo.forget();

      const after = rawFiles(file);
      expect(holds(after, kept)).toBe(true); // what is still stored is still there
      expect(holds(after, toStays)).toBe(false);
      expect(holds(after, toGone)).toBe(false);
      expect(holds(after, usernameHash)).toBe(false);
      expect(holds(after, gone.id)).toBe(false);
      // The WAL is truncated to nothing: no old frames.
      expect(statSync(`${file}-wal`).size).toBe(0);
    } finally {
      await repo.close();
    }
  });

  it('checkpoints and truncates the WAL when it closes', async () => {
    const file = join(root, 'b', 'samizdat.db');
    const repo = SqliteRepository.open(file);
    await repo.migrate();
    const a = account();
    await repo.createAccount(a, device());
    const secret = new Uint8Array(randomBytes(500));
    const [id] = await repo.enqueue([envelope(a.id, 1, { envelope: secret })], 100);
    await repo.ack(a.id, 1, [id as bigint]);
    await repo.close();
    expect(holds(rawFiles(file), secret)).toBe(false);
  });

  it('creates the directory 0700 and the database, WAL and shared memory 0600, and narrows an existing file to 0600', async () => {
    const dir = join(root, 'c', 'data');
    const file = join(dir, 'samizdat.db');
    const repo = SqliteRepository.open(file);
    try {
      await repo.migrate();
      const a = account();
      await repo.createAccount(a, device());
      expect(statSync(dir).mode & 0o777).toBe(0o700);
      for (const f of [file, `${file}-wal`, `${file}-shm`]) expect(statSync(f).mode & 0o777).toBe(0o600);
    } finally {
      await repo.close();
    }
    chmodSync(file, 0o644);
    const again = SqliteRepository.open(file);
    await again.close();
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });
});
