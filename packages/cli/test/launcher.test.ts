/**
 * The bins npm links (`samizdat`, `samizdat-server`) are launchers in bin/, committed, because npm links workspace
 * bins at install time, before `npm run build` has made dist/: a bin pointing into dist/ was never linked on a fresh
 * clone, and `npx samizdat` then failed (or could have fetched a stranger's package of that name).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, buildServer } from '../../server/test/helpers/child-server.js';

const LAUNCHERS = [
  ['samizdat', 'packages/cli'],
  ['samizdat-server', 'packages/server'],
] as const;

describe.each(LAUNCHERS)('the %s launcher', (name, pkg) => {
  const launcher = join(REPO_ROOT, pkg, 'bin', `${name}.js`);
  let unbuilt: string;
  beforeAll(async () => {
    await buildServer();
    unbuilt = mkdtempSync(join(tmpdir(), 'samizdat-launcher-'));
    mkdirSync(join(unbuilt, 'bin'));
    copyFileSync(launcher, join(unbuilt, 'bin', `${name}.js`));
  });
  afterAll(() => rmSync(unbuilt, { recursive: true, force: true }));

  it('is the bin of its package.json, in the repository', () => {
    const manifest = JSON.parse(readFileSync(join(REPO_ROOT, pkg, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    expect(manifest.bin[name]).toBe(`bin/${name}.js`);
  });

  it('runs the built command', () => {
    const result = spawnSync(process.execPath, [launcher, '--help'], { encoding: 'utf8' });
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(`Usage: ${name}`);
  });

  it('says how to build when dist/ is missing, and exits 1', () => {
    const result = spawnSync(process.execPath, [join(unbuilt, 'bin', `${name}.js`), '--help'], { encoding: 'utf8' });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('npm run build');
    expect(result.stdout).toBe('');
  });
});
