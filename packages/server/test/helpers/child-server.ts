/**
 * The real `samizdat-server` binary (packages/server/dist/main.js) as a child process, for tests of what only a
 * process shows: exit codes, signals, a SIGKILL in the middle of writes, a restart on the same data directory.
 *
 *   await buildServer();                                   // tsc -b at the repo root (fast when up to date)
 *   const child = await spawnServer({ dataDir });           // --port 0: the server prints the port it got
 *   await fetch(`${child.url}/health`);
 *   child.kill('SIGKILL'); await child.exited;
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
export const SERVER_MAIN = join(REPO_ROOT, 'packages/server/dist/main.js');

const BUILD_LOCK = join(tmpdir(), `samizdat-build-${createHash('sha256').update(REPO_ROOT).digest('hex').slice(0, 12)}.lock`);
const STALE_LOCK_MS = 5 * 60_000;

/**
 * Brings dist/ up to date with `tsc -b` at the repository root. Test files run in parallel, and two builds writing
 * the same files at once could let one test start a half-written main.js, so builds take a lock directory in turn.
 */
export async function buildServer(): Promise<void> {
  for (;;) {
    try {
      mkdirSync(BUILD_LOCK);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      try {
        if (Date.now() - statSync(BUILD_LOCK).mtimeMs > STALE_LOCK_MS) rmSync(BUILD_LOCK, { recursive: true, force: true });
      } catch {
        // Released meanwhile.
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  try {
    const result = spawnSync(process.execPath, [join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-b'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 180_000,
    });
    if (result.status !== 0) throw new Error(`tsc -b failed (${result.status ?? result.signal}):\n${result.stdout}${result.stderr}`);
  } finally {
    rmSync(BUILD_LOCK, { recursive: true, force: true });
  }
}

export interface ServerProcess {
  /** http://127.0.0.1:<port> (no trailing slash), as printed by the server. */
  readonly url: string;
  readonly child: ChildProcess;
  /** Everything written so far. */
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): void;
}

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the binary to completion (for flags that make it exit at once). */
export function runServer(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SERVER_MAIN, ...args], { env: { ...cleanEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * Starts the binary with `args` (default `--port 0`, so the OS picks a free port) and waits for its
 * "Samizdat listening on http://…/" line. Fails with the output if the process exits or stays silent.
 */
export function spawnServer(args: readonly string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 20_000): Promise<ServerProcess> {
  const child = spawn(process.execPath, [SERVER_MAIN, ...args], { env: { ...cleanEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (why: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`samizdat-server ${why}\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    };
    const timer = setTimeout(() => fail(`printed no URL within ${timeoutMs} ms`), timeoutMs);
    void exited.then(({ code, signal }) => fail(`exited (${code ?? signal}) before listening`));
    child.stdout?.on('data', () => {
      const match = /^Samizdat listening on (http:\/\/[^\s]+?)\/?$/m.exec(stdout);
      if (!match || settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({
        url: match[1] as string,
        child,
        stdout: () => stdout,
        stderr: () => stderr,
        exited,
        kill: (signal = 'SIGTERM') => void child.kill(signal),
      });
    });
  });
}

/** The environment without SAMIZDAT_* variables of the caller, so that only what a test passes applies. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('SAMIZDAT_')));
}
