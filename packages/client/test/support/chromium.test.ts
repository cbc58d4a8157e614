/**
 * The order in which browser tests find Chromium (support/chromium.ts), with real executables: shell scripts in a
 * temp dir that answer `--version` as a browser would, or fail, or hang, and the real @sparticuz/chromium.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findChromium, launchChromium, launchOptionsFor, packagedChromium, resolveChromium } from './chromium.js';
import type { FoundChromium } from './chromium.js';

let dir: string;
const script = (name: string, body: string): string => {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
};
let chromiumLike: string;
let otherChromiumLike: string;
let exitsNonZero: string;
let printsNothing: string;
let hangs: string;
const missing = () => join(dir, 'no-such-browser');
const noPackage = (): Promise<FoundChromium> => Promise.reject(new Error('not installed (in this test)'));

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'samizdat-chromium-order-'));
  chromiumLike = script('chromium-like', 'echo "Chromium 999.0.1.2 built by a test"');
  otherChromiumLike = script('other-chromium-like', 'echo "Chromium 888.0.0.0"');
  exitsNonZero = script('exits-non-zero', 'echo "Chromium 777.0.0.0"; exit 1');
  printsNothing = script('prints-nothing', 'exit 0');
  hangs = script('hangs', 'exec sleep 30');
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('finding Chromium for the browser tests', () => {
  it('uses SAMIZDAT_CHROMIUM first, even when the system browser starts', async () => {
    const found = await findChromium({ override: chromiumLike, system: otherChromiumLike, packaged: packagedChromium });
    expect(found).toEqual({ source: 'SAMIZDAT_CHROMIUM', executablePath: chromiumLike, version: 'Chromium 999.0.1.2 built by a test', env: {} });
  });

  it('fails, naming SAMIZDAT_CHROMIUM, when it does not start, instead of trying the others', async () => {
    await expect(findChromium({ override: '/nonexistent', system: chromiumLike, packaged: packagedChromium })).rejects.toThrow(
      'SAMIZDAT_CHROMIUM=/nonexistent does not start: not found',
    );
    await expect(findChromium({ override: exitsNonZero, system: chromiumLike, packaged: packagedChromium })).rejects.toThrow(
      `SAMIZDAT_CHROMIUM=${exitsNonZero} does not start: --version exited 1`,
    );
  });

  it('uses the system browser when it starts and SAMIZDAT_CHROMIUM is unset or empty', async () => {
    for (const override of [undefined, '']) {
      const found = await findChromium({ override, system: chromiumLike, packaged: noPackage });
      expect(found.source).toBe('system');
      expect(found.executablePath).toBe(chromiumLike);
    }
  });

  it('falls through a system binary that is missing, exits non-zero, prints no version or hangs, to the npm package', async () => {
    for (const system of [missing(), exitsNonZero, printsNothing, '/bin/false', hangs]) {
      const found = await findChromium({ override: undefined, system, packaged: packagedChromium, probeTimeoutMs: 1_000 });
      expect(found.source, system).toBe('npm');
      expect(found.executablePath).toBe(join(tmpdir(), 'chromium'));
      expect(found.version).toMatch(/^Chromium 153\.\d+/);
    }
  });

  it('without any browser, fails with one line saying how to provide one', async () => {
    const failure = findChromium({ override: undefined, system: exitsNonZero, packaged: noPackage });
    await expect(failure).rejects.toThrow(
      `No Chromium for the browser tests (${exitsNonZero}: --version exited 1; @sparticuz/chromium: not installed (in this test)). ` +
        'Provide one: set SAMIZDAT_CHROMIUM=/path/to/chromium, or apt-get install -y chromium, or npm ci (installs the devDependency @sparticuz/chromium).',
    );
    await expect(failure.catch((err: Error) => err.message)).resolves.not.toContain('\n');
  });

  it('runs the npm-packaged browser under playwright-core with our arguments', async () => {
    const packaged = await packagedChromium();
    const browser = await chromium.launch(launchOptionsFor(packaged));
    try {
      const page = await browser.newPage();
      await page.setContent('<p>hello</p>');
      expect(await page.evaluate(() => [document.querySelector('p')?.textContent, typeof indexedDB])).toEqual(['hello', 'object']);
      expect(packaged.version).toContain(browser.version());
    } finally {
      await browser.close();
    }
  });

  it('launches the browser found for this run', async () => {
    const found = await resolveChromium();
    expect(await resolveChromium()).toBe(found);
    const browser = await launchChromium();
    try {
      expect(found.version).toContain(browser.version());
    } finally {
      await browser.close();
    }
  });
});
