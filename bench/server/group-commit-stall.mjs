/**
 * Group commit stall (issue 14): how long the SQLite store's synchronous write of one group commit holds the event
 * loop, by group size. A script, not a test.
 *
 * Opens packages/server/dist's SqliteRepository on a fresh file, creates `--devices` devices (one account each), a
 * group of the first, then times commits that make every device a member (the Welcome for all) and a second commit
 * to the same members (the commit for all), each as the event-loop delay seen while it runs (a timer that should
 * fire every millisecond) and as wall time. Prints one line per commit and, as its last line, one JSON object.
 *
 *   npx tsc -b && node bench/server/group-commit-stall.mjs                 # 20,000 devices
 *   node bench/server/group-commit-stall.mjs --devices 50000
 *   node bench/server/group-commit-stall.mjs --root /other/checkout        # the same against another build
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { sampleEventLoop } from './event-loop.mjs';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const DEVICES = Number(arg('devices', 20_000));
const root = resolve(arg('root', fileURLToPath(new URL('../../', import.meta.url))));
const { SqliteRepository } = await import(pathToFileURL(join(root, 'packages/server/dist/store/sqlite/sqlite-repository.js')).href);

const dir = mkdtempSync(join(tmpdir(), 'samizdat-stall-'));
const repo = SqliteRepository.open(join(dir, 'samizdat.db'));
await repo.migrate();
const T0 = Date.now();
const fill = (n, v) => new Uint8Array(n).fill(v);
try {
  const members = [];
  for (let i = 0; i < DEVICES; i++) {
    const id = randomBytes(16).toString('hex');
    await repo.createAccount(
      { id, usernameHash: undefined, identityKey: fill(65, 5), createdAt: T0 },
      { registrationId: 1 + i, authHash: `scrypt$bench$${i}`, encryptedName: fill(3, 9), createdAt: T0 },
    );
    members.push({ accountId: id, deviceId: 1 });
  }
  const groupId = randomBytes(32).toString('hex');
  await repo.createGroup(groupId, 0, members[0], fill(100, 1), T0);

  /** Runs `work`, sampling the event loop every millisecond meanwhile; the longest gap is the stall. */
  async function measured(work) {
    const { result, wallMs, stallMs } = await sampleEventLoop(work);
    return { stored: result.length, wallMs, stallMs };
  }
  const commit = (epoch, welcome) => ({
    groupId,
    epoch,
    sender: members[0],
    groupInfo: fill(1000, epoch),
    members,
    commit: fill(200, 0xc0),
    welcome: welcome ? fill(300, 0xd0) : undefined,
    maxQueueDepth: 10_000,
    receivedAt: T0,
    expiresAt: T0 + 86_400_000,
  });
  const result = { devices: DEVICES, root };
  result.add = await measured(() => repo.commitGroup(commit(0, true)));
  result.update = await measured(() => repo.commitGroup(commit(1, false)));
  for (const phase of ['add', 'update']) {
    const r = result[phase];
    console.log(`${phase.padEnd(7)} ${DEVICES} devices: stored ${r.stored}, wall ${r.wallMs} ms, longest event-loop stall ${r.stallMs} ms`);
  }
  console.log(JSON.stringify(result));
} finally {
  await repo.close();
  rmSync(dir, { recursive: true, force: true });
}
