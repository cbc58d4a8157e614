/**
 * Browser tests of the web client: the real `samizdat-server` binary serving the Vite build, and Chromium driven by
 * playwright-core, one browser per test file and one context (own IndexedDB, own service worker) per person. The
 * browser is the one ../../client/test/support/chromium.ts finds (SAMIZDAT_CHROMIUM, Debian's, or @sparticuz/chromium);
 * none is a failure with instructions, never a silent skip.
 *
 *   await buildAll();                                   // tsc -b (server, SDK, CLI), then vite build
 *   const browser = await launchChromium();
 *   const alice = await openApp(browser, server.url);
 *   await registerInPage(alice.page, 'alice');
 *
 * Screenshots go to packages/web/test-results/screenshots/; SAMIZDAT_UPDATE_SCREENSHOTS=1 writes docs/screenshots/.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { resolveChromium } from '../../client/test/support/chromium.js';
import { withLock } from '../../client/test/support/lock.js';
import { REPO_ROOT, buildServer } from '../../server/test/helpers/child-server.js';

export { launchChromium } from '../../client/test/support/chromium.js';

// Found while the test file loads: without a browser it fails with that one line (a failure, counted as such), where
// a failing beforeAll would leave its tests reported as skipped.
await resolveChromium();

export const WEB_ROOT = join(REPO_ROOT, 'packages/web');
/**
 * Where the tests' screenshots go. By default a git-ignored folder (`test-results/` is in the root .gitignore), so
 * that a test run leaves the repository clean; with SAMIZDAT_UPDATE_SCREENSHOTS=1 the documentation's own pictures
 * in docs/screenshots/ are replaced, on purpose.
 */
export const UPDATE_SCREENSHOTS = process.env.SAMIZDAT_UPDATE_SCREENSHOTS === '1';
export const SCREENSHOTS = UPDATE_SCREENSHOTS ? join(REPO_ROOT, 'docs/screenshots') : join(WEB_ROOT, 'test-results/screenshots');

const WEB_BUILD_LOCK = join(tmpdir(), `samizdat-web-build-${createHash('sha256').update(REPO_ROOT).digest('hex').slice(0, 12)}.lock`);
const STALE_LOCK_MS = 5 * 60_000;

/** The server, the SDK and the CLI (`tsc -b`), then the web app (`vite build` into packages/web/dist). */
export async function buildAll(): Promise<void> {
  await buildServer();
  await withLock(WEB_BUILD_LOCK, STALE_LOCK_MS, () => {
    const result = spawnSync(process.execPath, [join(REPO_ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'warn'], {
      cwd: WEB_ROOT,
      encoding: 'utf8',
      timeout: 120_000,
    });
    if (result.status !== 0) throw new Error(`vite build failed (${result.status ?? result.signal}):\n${result.stdout}${result.stderr}`);
  });
}

export interface AppPage {
  readonly context: BrowserContext;
  readonly page: Page;
  /** Uncaught page errors and Content Security Policy violations seen so far. */
  readonly problems: string[];
  /** Every URL the page requested. */
  readonly requests: string[];
}

/** A fresh context (its own IndexedDB, storage and service worker) with the app open. */
export async function openApp(browser: Browser, url: string, viewport = { width: 1200, height: 800 }): Promise<AppPage> {
  const context = await browser.newContext({ viewport, acceptDownloads: true, reducedMotion: 'reduce', colorScheme: 'light' });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  const problems: string[] = [];
  const requests: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) problems.push(`console: ${message.text()}`);
  });
  context.on('request', (request) => requests.push(request.url()));
  await page.goto(`${url}/`);
  return { context, page, problems, requests };
}

/** Registers `username` on the welcome screen and waits for the chat list. */
export async function registerInPage(page: Page, username: string): Promise<void> {
  await page.getByLabel('Username').fill(username);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByRole('navigation', { name: 'Chats' }).waitFor();
}

/** Opens (or starts) the chat with `username` from the chat list. */
export async function openChat(page: Page, username: string): Promise<void> {
  const existing = page.getByRole('navigation', { name: 'Chats' }).getByRole('link', { name: new RegExp(`^${username}\\b`) });
  if ((await existing.count()) > 0) {
    await existing.first().click();
  } else {
    await page.getByRole('link', { name: 'New chat' }).click();
    await page.getByLabel('Username').fill(username);
    await page.getByRole('button', { name: 'Start chat' }).click();
  }
  await page.getByRole('log', { name: `Messages with ${username}` }).waitFor();
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** From the chat list, "Message requests", then the request of `name` (a username, or a group's name). */
export async function openRequest(page: Page, name: string): Promise<void> {
  await page.getByRole('navigation', { name: 'Chats' }).getByRole('link', { name: /^Message requests, \d+$/ }).click();
  await page.getByRole('navigation', { name: 'Message requests' }).getByRole('link', { name: new RegExp(`^${escapeRegExp(name)}\\b`) }).click();
  await page.getByRole('region', { name: 'Message request', exact: true }).waitFor();
}

/** Opens the message request of `name` and accepts it: it becomes an ordinary chat, with the composer. */
export async function acceptRequest(page: Page, name: string): Promise<void> {
  await openRequest(page, name);
  await page.getByRole('region', { name: 'Message request', exact: true }).getByRole('button', { name: 'Accept' }).click();
  await page.getByRole('textbox', { name: 'Message' }).waitFor();
}

/** From an open group conversation, its info (members, admins, add, remove, leave). */
export async function openGroupInfo(page: Page): Promise<void> {
  await page.getByRole('link', { name: 'Group info' }).click();
  await page.getByRole('heading', { name: 'Group info' }).waitFor();
}

export async function sendInPage(page: Page, text: string): Promise<void> {
  const box = page.getByRole('textbox', { name: 'Message' });
  await box.fill(text);
  await box.press('Enter');
}

/** The message entry (li) whose own text (not a quote of it) contains `text`. */
export function messageWith(page: Page, text: string) {
  return page.locator('li.message').filter({ has: page.locator('p.body', { hasText: text }) });
}

// ---- a PNG made here, so that the bytes are known ----

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = (CRC_TABLE[(c ^ b) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** A `size`×`size` RGB PNG of four coloured quadrants (PNG spec: IHDR, IDAT with filter byte 0 per row, IEND). */
export function makePng(size = 48): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: RGB
  const rows: number[] = [];
  for (let y = 0; y < size; y++) {
    rows.push(0);
    for (let x = 0; x < size; x++) {
      const top = y < size / 2;
      const left = x < size / 2;
      rows.push(top ? 0xd6 : 0x2f, left ? 0x4a : 0x9d, top === left ? 0x3c : 0xe0);
    }
  }
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.from(rows))), chunk('IEND', new Uint8Array())]);
}
