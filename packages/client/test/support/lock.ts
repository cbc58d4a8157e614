/**
 * A lock between test processes (vitest runs test files in parallel forks): a directory that exists while one
 * process holds it. A lock older than `staleMs` is taken to be left by a killed process and removed.
 */
import { mkdirSync, rmSync, statSync } from 'node:fs';

export async function withLock<T>(lock: string, staleMs: number, work: () => T | Promise<T>): Promise<T> {
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      try {
        if (Date.now() - statSync(lock).mtimeMs > staleMs) rmSync(lock, { recursive: true, force: true });
      } catch {
        // Released meanwhile.
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  try {
    return await work();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
