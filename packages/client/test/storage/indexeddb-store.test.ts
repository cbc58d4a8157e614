/**
 * IndexedDbClientStore in a real browser: browser/indexeddb-entry.ts is bundled (rolldown, one IIFE), served from
 * 127.0.0.1 (a secure context, which WebCrypto needs) and loaded in Chromium driven by playwright-core (the browser
 * support/chromium.ts finds; none is a failure, never a skip). Every shared conformance case and every
 * IndexedDB-specific case runs in the page and is reported here as its own test.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import type { BrowserContext, Page } from 'playwright-core';
import { rolldown } from 'rolldown';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumLaunchOptions } from '../support/chromium.js';
import type { CaseOutcome, ConformancePage } from './browser/indexeddb-entry.js';
import { INDEXEDDB_CASES } from './browser/indexeddb-cases.js';
import { CLIENT_STORE_CASES } from './store-conformance-cases.js';

// Found while the file loads: without a browser the file fails with that one line (a failure, counted as such), where
// a failing beforeAll would leave its 31 tests reported as skipped.
const launchOptions = await chromiumLaunchOptions();

const path = (relative: string): string => fileURLToPath(new URL(relative, import.meta.url));

/** The page entry and everything it imports, as one script; workspace packages from their sources. */
async function bundle(): Promise<string> {
  const warnings: string[] = [];
  const build = await rolldown({
    input: path('./browser/indexeddb-entry.ts'),
    platform: 'browser',
    resolve: {
      alias: { '@samizdat/protocol': path('../../../protocol/src/index.ts') },
      extensionAlias: { '.js': ['.ts', '.js'] },
    },
    onLog: (level, log) => {
      if (level === 'warn') warnings.push(log.message);
    },
  });
  try {
    const { output } = await build.generate({ format: 'iife' });
    if (warnings.length > 0) throw new Error(`bundling the browser tests warned:\n${warnings.join('\n')}`);
    return output[0].code;
  } finally {
    await build.close();
  }
}

function serve(script: string): Promise<Server> {
  const html = '<!doctype html><meta charset="utf-8"><title>ClientStore conformance</title><script src="/conformance.js"></script>';
  const server = createServer((req, res) => {
    if (req.url === '/') res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html);
    else if (req.url === '/conformance.js') res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(script);
    else res.writeHead(404).end();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

describe('IndexedDbClientStore in Chromium', () => {
  let server: Server | undefined;
  let context: BrowserContext | undefined;
  let page: Page;
  let userDataDir: string | undefined;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    const script = await bundle();
    server = await serve(script);
    const { port } = server.address() as AddressInfo;
    userDataDir = mkdtempSync(join(tmpdir(), 'samizdat-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, launchOptions);
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (err) => pageErrors.push(err.message));
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForFunction(() => 'samizdatConformance' in globalThis, undefined, { timeout: 10_000 }).catch((err: unknown) => {
      throw new Error(`the test page did not start: ${pageErrors.join('; ') || String(err)}`);
    });
  }, 30_000);

  afterAll(async () => {
    await context?.close();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    if (userDataDir !== undefined) rmSync(userDataDir, { recursive: true, force: true });
  });

  const runInPage = async (kind: 'conformance' | 'indexeddb', name: string): Promise<void> => {
    const result: CaseOutcome = await page.evaluate(
      ([k, n]) => (globalThis as unknown as { samizdatConformance: ConformancePage }).samizdatConformance.run(k, n),
      [kind, name] as const,
    );
    if (!result.ok) throw new Error(`in Chromium: ${result.error}`);
    expect(pageErrors).toEqual([]);
  };

  it('runs the same cases in the page as here', async () => {
    const names = await page.evaluate(() => {
      const p = (globalThis as unknown as { samizdatConformance: ConformancePage }).samizdatConformance;
      return { conformance: [...p.conformanceCases], indexedDb: [...p.indexedDbCases] };
    });
    expect(names.conformance).toEqual(CLIENT_STORE_CASES.map((c) => c.name));
    expect(names.indexedDb).toEqual(INDEXEDDB_CASES.map((c) => c.name));
  });

  describe('IndexedDbClientStore conforms to ClientStore', () => {
    for (const c of CLIENT_STORE_CASES) it(c.name, () => runInPage('conformance', c.name));
  });

  describe('IndexedDB specifics', () => {
    for (const c of INDEXEDDB_CASES) it(c.name, () => runInPage('indexeddb', c.name));
  });
});
