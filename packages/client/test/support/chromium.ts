/**
 * The Chromium every browser test drives with playwright-core (the client's IndexedDB store, the web client), found
 * once per process, in this order:
 *
 *   1. SAMIZDAT_CHROMIUM, a path: used if it starts, otherwise the run fails saying so (no silent fallback);
 *   2. Debian's /usr/bin/chromium, if it starts (`--version` answers with a Chromium version within a few seconds:
 *      a stub such as /bin/false mounted over it falls through);
 *   3. the Chromium (headless shell) shipped in the devDependency @sparticuz/chromium, unpacked to the temp dir.
 *
 * No browser at all is a failure with one line saying how to get one, never a skipped test.
 *
 *   const browser = await launchChromium();
 *   const context = await chromium.launchPersistentContext(dir, await chromiumLaunchOptions());
 *
 * Web, client and protocol tests import this file (dependencies point web → client → protocol), not the other way.
 */
import { execFile } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type * as SparticuzChromium from '@sparticuz/chromium';
import { chromium } from 'playwright-core';
import { withLock } from './lock.js';
import type { Browser, LaunchOptions } from 'playwright-core';

export const SYSTEM_CHROMIUM = '/usr/bin/chromium';

/**
 * Ours, for every browser found. Playwright adds its own (--headless, --no-first-run, a fresh --user-data-dir, …).
 * None of @sparticuz/chromium's `chromium.args` are used: they are for AWS Lambda, and some would weaken what the
 * tests check (--disable-web-security, --allow-running-insecure-content, site isolation off) or change how the
 * browser runs (--single-process); its headless shell starts here without any of them.
 */
export const CHROMIUM_ARGS: readonly string[] = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const HOW_TO_GET_ONE =
  'set SAMIZDAT_CHROMIUM=/path/to/chromium, or apt-get install -y chromium, or npm ci (installs the devDependency @sparticuz/chromium)';

export interface FoundChromium {
  /** Where it came from: the environment variable, Debian's package, or the npm package. */
  readonly source: 'SAMIZDAT_CHROMIUM' | 'system' | 'npm';
  readonly executablePath: string;
  /** The line `--version` printed, e.g. "Chromium 156.0.8078.114 built on Debian GNU/Linux 12 (bookworm)". */
  readonly version: string;
  /** Variables the browser needs on top of ours (the packaged browser's own NSS libraries, when the system has none). */
  readonly env: Readonly<Record<string, string>>;
}

export interface ChromiumSources {
  /** SAMIZDAT_CHROMIUM's value. */
  readonly override: string | undefined;
  readonly system: string;
  /** The packaged browser, ready to start; rejects with the reason it cannot be had. */
  readonly packaged: () => Promise<FoundChromium>;
  /** How long `--version` may take before the binary counts as not starting. */
  readonly probeTimeoutMs?: number;
}

type Probe = { readonly ok: true; readonly version: string } | { readonly ok: false; readonly reason: string };

const oneLine = (text: string): string => text.replace(/\s+/g, ' ').trim().slice(0, 200);

/** Runs `path --version`: it starts if it exits 0 within the timeout and prints a Chrome or Chromium version. */
export function probeChromium(path: string, env: Readonly<Record<string, string>> = {}, timeoutMs = 10_000): Promise<Probe> {
  return new Promise((resolve) => {
    execFile(path, ['--version'], { timeout: timeoutMs, env: { ...process.env, ...env }, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') return resolve({ ok: false, reason: 'not found' });
        if (typeof code === 'string') return resolve({ ok: false, reason: `cannot run it (${code})` });
        if (err.killed) return resolve({ ok: false, reason: `no answer to --version within ${timeoutMs} ms` });
        const status = typeof code === 'number' ? `exited ${code}` : `killed by ${err.signal ?? 'a signal'}`;
        return resolve({ ok: false, reason: `--version ${status}${stderr.trim() ? `: ${oneLine(stderr)}` : ''}` });
      }
      const version = stdout.split('\n').find((line) => /\bChrom(?:e|ium)\b.*\b\d+\.\d+/.test(line));
      if (version === undefined) return resolve({ ok: false, reason: `--version printed no Chromium version (${JSON.stringify(oneLine(stdout))})` });
      resolve({ ok: true, version: version.trim() });
    });
  });
}

/** The first browser that starts, in the order above. */
export async function findChromium(sources: ChromiumSources): Promise<FoundChromium> {
  const timeout = sources.probeTimeoutMs ?? 10_000;
  if (sources.override !== undefined && sources.override !== '') {
    const probe = await probeChromium(sources.override, {}, timeout);
    if (!probe.ok) throw new Error(`SAMIZDAT_CHROMIUM=${sources.override} does not start: ${probe.reason}`);
    return { source: 'SAMIZDAT_CHROMIUM', executablePath: sources.override, version: probe.version, env: {} };
  }
  const system = await probeChromium(sources.system, {}, timeout);
  if (system.ok) return { source: 'system', executablePath: sources.system, version: system.version, env: {} };
  try {
    return await sources.packaged();
  } catch (err) {
    const reason = oneLine(err instanceof Error ? err.message : String(err));
    throw new Error(`No Chromium for the browser tests (${sources.system}: ${system.reason}; @sparticuz/chromium: ${reason}). Provide one: ${HOW_TO_GET_ONE}.`);
  }
}

const LOCK = join(tmpdir(), 'samizdat-packaged-chromium.lock');
const STALE_LOCK_MS = 2 * 60_000;

/**
 * @sparticuz/chromium's browser. `executablePath()` unpacks it to `<tmpdir>/chromium` unless that file exists, and
 * returns that path: a file left half-written by a killed run, or by another version of the package, is unpacked
 * again. The binary links the system's NSS; without it, the package's own copy (its al2023 archive) is used.
 */
export async function packagedChromium(): Promise<FoundChromium> {
  let pkg: typeof SparticuzChromium;
  try {
    pkg = await import('@sparticuz/chromium');
  } catch (err) {
    throw new Error(`not installed (${err instanceof Error ? err.message : String(err)})`, { cause: err });
  }
  const bin = join(dirname(createRequire(import.meta.url).resolve('@sparticuz/chromium')), '..', 'bin');
  const major = (JSON.parse(readFileSync(join(bin, '..', 'package.json'), 'utf8')) as { version: string }).version.split('.')[0];
  // Unpacking is not atomic, and test files run in parallel processes.
  return withLock(LOCK, STALE_LOCK_MS, async () => {
    let path = await pkg.default.executablePath();
    let env: Record<string, string> = {};
    let probe = await probeChromium(path);
    if (!probe.ok && /shared librar/.test(probe.reason)) {
      env = { LD_LIBRARY_PATH: [join(await pkg.inflate(join(bin, 'al2023.tar.br')), 'lib'), process.env.LD_LIBRARY_PATH].filter(Boolean).join(':') };
      probe = await probeChromium(path, env);
    }
    if (!probe.ok || !new RegExp(`\\b${major}\\.\\d+`).test(probe.version)) {
      rmSync(path, { force: true });
      path = await pkg.default.executablePath();
      probe = await probeChromium(path, env);
    }
    if (!probe.ok) throw new Error(`${path} does not start: ${probe.reason}`);
    return { source: 'npm', executablePath: path, version: probe.version, env };
  });
}

let found: Promise<FoundChromium> | undefined;

/** The browser for this process's tests (found once, then cached). */
export function resolveChromium(): Promise<FoundChromium> {
  found ??= findChromium({ override: process.env.SAMIZDAT_CHROMIUM, system: SYSTEM_CHROMIUM, packaged: packagedChromium });
  return found;
}

/** For `chromium.launch` and `chromium.launchPersistentContext`: headless, our arguments, that browser. */
export function launchOptionsFor(browser: FoundChromium): LaunchOptions {
  const options: LaunchOptions = { executablePath: browser.executablePath, headless: true, args: [...CHROMIUM_ARGS] };
  if (Object.keys(browser.env).length > 0) {
    const inherited = Object.entries(process.env).filter((entry): entry is [string, string] => entry[1] !== undefined);
    options.env = { ...Object.fromEntries(inherited), ...browser.env };
  }
  return options;
}

/** Launch options for the browser found for this process. */
export async function chromiumLaunchOptions(): Promise<LaunchOptions> {
  return launchOptionsFor(await resolveChromium());
}

export async function launchChromium(): Promise<Browser> {
  return chromium.launch(await chromiumLaunchOptions());
}
