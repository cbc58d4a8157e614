/**
 * The real `samizdat` binary (packages/cli/dist/main.js) as separate processes, one profile directory per device,
 * against a real `samizdat-server` process (packages/server/test/helpers/child-server.ts) on 127.0.0.1.
 *
 *   await buildServer();                                 // tsc -b: builds the server, the SDK and the CLI
 *   const alice = cliDevice();                           // a fresh --home
 *   await alice.ok('register', '--server', url, '--username', 'alice');
 *   const lines = await bob.json('receive', '--timeout', '0');
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../../server/test/helpers/child-server.js';

export const CLI_MAIN = join(REPO_ROOT, 'packages/cli/dist/main.js');

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunningCli {
  readonly child: ChildProcess;
  readonly stdout: () => string;
  readonly stderr: () => string;
  readonly exited: Promise<CliResult>;
  /** Resolves with the first stdout line that matches. */
  line(pattern: RegExp, timeoutMs?: number): Promise<string>;
}

function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('SAMIZDAT_')));
}

export function spawnCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): RunningCli {
  const child = spawn(process.execPath, [CLI_MAIN, ...args], { env: { ...cleanEnv(), ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    for (const w of [...waiters]) {
      const line = stdout.split('\n').find((l) => w.pattern.test(l));
      if (line !== undefined) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<CliResult>((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    line(pattern, timeoutMs = 30_000) {
      const found = stdout.split('\n').find((l) => pattern.test(l));
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`)), timeoutMs);
        waiters.push({
          pattern,
          resolve: (line) => {
            clearTimeout(timer);
            resolve(line);
          },
        });
        void exited.then(() => {
          clearTimeout(timer);
          reject(new Error(`samizdat exited before printing ${pattern}\nstdout:\n${stdout}\nstderr:\n${stderr}`));
        });
      });
    },
  };
}

/** Runs `samizdat` to completion (killed after `timeoutMs`). */
export async function runCli(args: readonly string[], timeoutMs = 60_000, env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const running = spawnCli(args, env);
  running.child.stdin?.end();
  const timer = setTimeout(() => running.child.kill('SIGKILL'), timeoutMs);
  try {
    return await running.exited;
  } finally {
    clearTimeout(timer);
  }
}

export interface CliDevice {
  readonly home: string;
  run(...args: string[]): Promise<CliResult>;
  /** Runs with --json and fails unless it exits 0; returns the parsed stdout lines. */
  json(...args: string[]): Promise<Record<string, unknown>[]>;
  /** Like json() but returns the single object. */
  ok(...args: string[]): Promise<Record<string, unknown>>;
  spawn(...args: string[]): RunningCli;
}

const homes: string[] = [];

export function cliDevice(): CliDevice {
  const home = mkdtempSync(join(tmpdir(), 'samizdat-cli-'));
  homes.push(home);
  const device: CliDevice = {
    home,
    run: (...args) => runCli(['--home', home, ...args]),
    async json(...args) {
      const result = await runCli(['--home', home, '--json', ...args]);
      if (result.code !== 0) throw new Error(`samizdat ${args.join(' ')} exited ${result.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
      return result.stdout
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    },
    async ok(...args) {
      const lines = await device.json(...args);
      return lines[lines.length - 1] ?? {};
    },
    spawn: (...args) => spawnCli(['--home', home, ...args]),
  };
  return device;
}

export function removeHomes(): void {
  for (const home of homes.splice(0)) rmSync(home, { recursive: true, force: true });
}
