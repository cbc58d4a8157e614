/**
 * Crash durability of SqliteRepository: a child process enqueues in a loop and prints each id once enqueue has
 * resolved; the test SIGKILLs it mid-stream, reopens the file and requires every printed id to be there.
 *
 * The child must run our class, not a copy of its SQL, and Node 20 cannot import TypeScript. So the test compiles
 * just the store files it needs (sqlite-repository.ts and its imports) with tsc into a temporary directory — not the
 * package's dist/, which would also compile files others are editing — next to a package.json declaring ESM and a
 * node_modules symlink to the repository's, so `better-sqlite3` resolves. If tsc fails, the test fails with its output.
 *
 * SIGKILL proves nothing acknowledged sits in a process buffer; surviving power loss further relies on
 * synchronous=FULL (an fsync per commit), which sqlite-repository.test.ts checks is in effect.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteRepository } from '../../src/store/sqlite/sqlite-repository.js';
import { account, device } from './repository.suite.js';

const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../..');
const dir = mkdtempSync(join(tmpdir(), 'samizdat-durability-'));
/** Ids the child must print before it is killed (it keeps enqueueing until then). */
const KILL_AFTER = 3000;

const CHILD = `
import { SqliteRepository } from './dist/store/sqlite/sqlite-repository.js';
const [file, accountId] = process.argv.slice(2);
const repo = SqliteRepository.open(file);
await repo.migrate();
const envelope = { accountId, deviceId: 1, sourceAccountId: undefined, sourceDeviceId: undefined,
  envelope: new Uint8Array(64).fill(7), receivedAt: 0, expiresAt: 8e15 };
for (;;) {
  // Several calls per turn, so the kill lands in group commits of more than one call.
  const calls = Array.from({ length: 16 }, () =>
    repo.enqueue([envelope], 1e9).then((ids) => process.stdout.write(ids.join('\\n') + '\\n')));
  await Promise.all(calls);
}
`;

beforeAll(() => {
  const tsc = spawnSync(
    process.execPath,
    [
      join(root, 'node_modules/typescript/bin/tsc'),
      '--outDir', join(dir, 'dist'),
      '--rootDir', join(root, 'packages/server/src'),
      '--module', 'nodenext',
      '--moduleResolution', 'nodenext',
      '--target', 'es2022',
      '--types', 'node',
      '--strict',
      '--skipLibCheck',
      join(root, 'packages/server/src/store/sqlite/sqlite-repository.ts'),
    ],
    { cwd: root, encoding: 'utf8' },
  );
  if (tsc.status !== 0) {
    throw new Error(`compiling the SQLite store for the child process failed:\n${tsc.stdout}${tsc.stderr}`);
  }
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
  writeFileSync(join(dir, 'child.mjs'), CHILD);
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('sqlite durability', () => {
  it('keeps every envelope whose enqueue resolved when the process is SIGKILLed', async () => {
    const file = join(dir, 'crash.db');
    const setup = SqliteRepository.open(file);
    await setup.migrate();
    const owner = account();
    await setup.createAccount(owner, device());
    await setup.close();

    const child = spawn(process.execPath, [join(dir, 'child.mjs'), file, owner.id], { stdio: ['ignore', 'pipe', 'pipe'] });
    const printed: bigint[] = [];
    let partial = '';
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise<NodeJS.Signals | null>((resolveExit) => {
      child.on('close', (_code, signal) => resolveExit(signal));
    });
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? ''; // an id cut off by the kill was never fully printed
      for (const line of lines) if (line !== '') printed.push(BigInt(line));
      if (printed.length >= KILL_AFTER && child.exitCode === null && !child.killed) child.kill('SIGKILL');
    });
    const signal = await exited;
    expect(stderr).toBe('');
    expect(signal).toBe('SIGKILL');
    expect(printed.length).toBeGreaterThanOrEqual(KILL_AFTER);

    const reopened = SqliteRepository.open(file);
    try {
      const stored = new Set<bigint>();
      for (let after = 0n; ; ) {
        const page = await reopened.fetchQueue(owner.id, 1, after, 5000, 0);
        if (page.length === 0) break;
        for (const q of page) stored.add(q.id);
        after = page.at(-1)?.id ?? after;
      }
      const missing = printed.filter((id) => !stored.has(id));
      expect(missing).toEqual([]);
      // What was committed but not yet printed may be there too; nothing else.
      expect(stored.size).toBeGreaterThanOrEqual(printed.length);
      expect(await reopened.queueDepth(owner.id, 1)).toBe(stored.size);
    } finally {
      await reopened.close();
    }
  });
});
