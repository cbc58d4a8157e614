/**
 * The web client end to end: the real server binary serves the built app; people are Chromium contexts (each its
 * own IndexedDB, keys and service worker) and `samizdat` CLI profiles. The cases run in order and share the people
 * they create, as a conversation would. Screenshots of the main screens go to packages/web/test-results/screenshots/
 * (git-ignored), or to docs/screenshots/ with SAMIZDAT_UPDATE_SCREENSHOTS=1.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliDevice, removeHomes } from '../../cli/test/helpers.js';
import type { CliDevice } from '../../cli/test/helpers.js';
import { spawnServer } from '../../server/test/helpers/child-server.js';
import type { ServerProcess } from '../../server/test/helpers/child-server.js';
import { SCREENSHOTS, buildAll, launchChromium, makePng, messageWith, openApp, openChat, openGroupInfo, openRequest, registerInPage, sendInPage } from './helpers.js';
import type { AppPage } from './helpers.js';

let dataDir: string;
let server: ServerProcess;
let port: number;
let browser: Browser;
let alice: AppPage;
let bob: AppPage;
let carol: CliDevice;
let erin: AppPage;
const GROUP = 'Book club';

async function startServer(fixedPort = 0): Promise<ServerProcess> {
  return spawnServer(['--port', String(fixedPort), '--data-dir', dataDir, '--log-level', 'warn']);
}

async function stopServer(): Promise<void> {
  server.kill('SIGTERM');
  await server.exited;
}

const shot = (app: AppPage, name: string) => app.page.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });

beforeAll(async () => {
  await buildAll();
  mkdirSync(SCREENSHOTS, { recursive: true });
  dataDir = mkdtempSync(join(tmpdir(), 'samizdat-web-'));
  server = await startServer();
  port = Number(new URL(server.url).port);
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  if (server) await stopServer();
  rmSync(dataDir, { recursive: true, force: true });
  removeHomes();
});

describe('web client', () => {
  it('is served with a strict Content Security Policy, no inline script, and the API untouched', async () => {
    const res = await fetch(`${server.url}/`);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toMatch(/https?:\/\/(?!127\.0\.0\.1)/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    const html = await res.text();
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attributes, body] of scripts) {
      expect(attributes).toMatch(/\bsrc="\/assets\//);
      expect(body?.trim()).toBe('');
    }
    expect(html).not.toMatch(/\son[a-z]+=/i);
    expect(html).not.toMatch(/(?:src|href)="(?:https?:)?\/\//);

    // A reload of an app path loads the app; the API keeps its JSON 404s; a missing file is a 404.
    const deep = await fetch(`${server.url}/chat/${'a'.repeat(32)}`);
    expect(deep.headers.get('content-type')).toMatch(/text\/html/);
    expect(deep.headers.get('content-security-policy')).toBe(csp);
    const api = await fetch(`${server.url}/v1/nothing`);
    expect(api.status).toBe(404);
    expect(await api.json()).toMatchObject({ code: 'NOT_FOUND' });
    expect((await fetch(`${server.url}/assets/missing.js`)).status).toBe(404);
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
  });

  it('lets two people register in two browsers and chat both ways, with ✓✓ and read ticks', async () => {
    alice = await openApp(browser, server.url);
    bob = await openApp(browser, server.url);
    await alice.page.getByLabel('Username').waitFor();
    await shot(alice, 'welcome');
    await registerInPage(alice.page, 'alice');
    await registerInPage(bob.page, 'bob');

    await openChat(alice.page, 'bob');
    await sendInPage(alice.page, 'Hello Bob, this is end-to-end encrypted');
    const first = messageWith(alice.page, 'Hello Bob');
    await expect.poll(() => first.getAttribute('data-status'), { timeout: 30_000 }).toBe('delivered');

    // Bob has never talked with Alice: her chat is a message request, with its last message; he reads it, and
    // Alice is told so once he accepts it.
    const requests = bob.page.getByRole('navigation', { name: 'Chats' }).getByRole('link', { name: 'Message requests, 1' });
    await requests.waitFor();
    await shot(bob, 'chat-list');
    await requests.click();
    const item = bob.page.getByRole('navigation', { name: 'Message requests' }).getByRole('link', { name: /^alice/ });
    await expect.poll(() => item.textContent()).toContain('Hello Bob');
    await item.click();
    await messageWith(bob.page, 'Hello Bob').waitFor();
    await bob.page.getByRole('button', { name: 'Accept' }).click();
    await expect.poll(() => first.getAttribute('data-status'), { timeout: 15_000 }).toBe('read');

    await sendInPage(bob.page, 'Hi Alice! Got it.');
    await messageWith(alice.page, 'Hi Alice! Got it.').waitFor();
    await expect.poll(() => messageWith(bob.page, 'Hi Alice!').getAttribute('data-status'), { timeout: 15_000 }).toBe('read');
    // Both ways sealed: each side shows the server did not learn who sent it.
    for (const [page, text] of [[alice.page, 'Hello Bob'], [alice.page, 'Hi Alice!'], [bob.page, 'Hello Bob'], [bob.page, 'Hi Alice!']] as const) {
      expect(await messageWith(page, text).getAttribute('data-delivery')).toBe('sealed');
    }
    await messageWith(alice.page, 'Hi Alice!').getByLabel('Sealed sender').waitFor();
    expect(alice.problems).toEqual([]);
    expect(bob.problems).toEqual([]);
  });

  it('shows a picture from one browser as a preview in the other, and saves it byte for byte', async () => {
    const png = makePng();
    await alice.page.getByTestId('file-input').setInputFiles({ name: 'quadrants.png', mimeType: 'image/png', buffer: png });
    await alice.page.getByRole('textbox', { name: 'Message' }).fill('A picture');
    const [upload] = await Promise.all([
      alice.page.waitForRequest((r) => r.method() === 'POST' && r.url().endsWith('/v1/attachments')),
      alice.page.getByRole('button', { name: 'Send' }).click(),
    ]);
    // Sent with XMLHttpRequest, whose upload events drive the progress bar (fetch has none).
    expect(upload.resourceType()).toBe('xhr');

    const picture = bob.page.getByRole('img', { name: 'Picture: quadrants.png' });
    await picture.waitFor({ timeout: 15_000 });
    await expect.poll(() => picture.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBe(48);
    await shot(bob, 'conversation');

    const [download] = await Promise.all([
      bob.page.waitForEvent('download'),
      messageWith(bob.page, 'A picture').getByRole('button', { name: 'Download quadrants.png' }).click(),
    ]);
    expect(download.suggestedFilename()).toBe('quadrants.png');
    expect(Buffer.compare(readFileSync(await download.path()), png)).toBe(0);

    // Any other file is offered for download only: never shown, never opened as a page of this origin.
    const html = Buffer.from('<!doctype html><script>alert(document.domain)</script>');
    await alice.page.getByTestId('file-input').setInputFiles({ name: 'report.html', mimeType: 'text/html', buffer: html });
    await alice.page.getByRole('textbox', { name: 'Message' }).fill('A web page');
    await alice.page.getByRole('button', { name: 'Send' }).click();
    const message = messageWith(bob.page, 'A web page');
    await message.waitFor();
    expect(await message.locator('img').count()).toBe(0);
    const [file] = await Promise.all([bob.page.waitForEvent('download'), message.getByRole('button', { name: 'Download report.html' }).click()]);
    expect(Buffer.compare(readFileSync(await file.path()), html)).toBe(0);
  });

  it('carries typing, replies, reactions, edits, deletes and the disappearing-message timer', async () => {
    await bob.page.getByRole('textbox', { name: 'Message' }).pressSequentially('typ');
    await alice.page.getByText('typing…').first().waitFor();

    // Alice replies to Bob's message and reacts to it.
    const bobs = messageWith(alice.page, 'Hi Alice! Got it.');
    await bobs.getByRole('button', { name: 'Message actions' }).click();
    await bobs.getByRole('button', { name: 'Reply' }).click();
    await sendInPage(alice.page, 'Replying to you');
    await messageWith(bob.page, 'Replying to you').locator('blockquote', { hasText: 'Hi Alice! Got it.' }).waitFor();

    await bobs.getByRole('button', { name: 'Message actions' }).click();
    await bobs.getByRole('button', { name: 'React 👍' }).click();
    await messageWith(bob.page, 'Hi Alice! Got it.').getByRole('button', { name: /^👍 from alice/ }).waitFor();

    // Alice edits, then deletes for everyone.
    await sendInPage(alice.page, 'Typo heer');
    const typo = messageWith(alice.page, 'Typo heer');
    await expect.poll(() => typo.getAttribute('data-status')).not.toBe('pending');
    await messageWith(bob.page, 'Typo heer').waitFor();
    await typo.getByRole('button', { name: 'Message actions' }).click();
    await typo.getByRole('button', { name: 'Edit' }).click();
    await sendInPage(alice.page, 'Typo here');
    await messageWith(bob.page, 'Typo here').getByText('edited').waitFor();

    alice.page.once('dialog', (dialog) => void dialog.accept());
    const fixed = messageWith(alice.page, 'Typo here');
    await fixed.getByRole('button', { name: 'Message actions' }).click();
    await fixed.getByRole('button', { name: 'Delete for everyone' }).click();
    await messageWith(bob.page, 'This message was deleted.').waitFor();
    expect(await messageWith(bob.page, 'Typo here').count()).toBe(0);

    await alice.page.getByRole('combobox', { name: 'Disappearing messages' }).selectOption({ label: '1 hour' });
    await bob.page.getByRole('log').getByText('alice set disappearing messages to 1 hour.').waitFor();
    await expect.poll(() => bob.page.getByRole('combobox', { name: 'Disappearing messages' }).inputValue()).toBe('3600');
    await alice.page.getByRole('combobox', { name: 'Disappearing messages' }).selectOption({ label: 'Off' });
    await bob.page.getByRole('log').getByText('alice turned disappearing messages off.').waitFor();
  });

  it('compares safety numbers by code and marks the contact verified', async () => {
    await bob.page.getByRole('link', { name: 'Safety number' }).click();
    const bobsCode = (await bob.page.getByTestId('my-code').textContent()) ?? '';
    await alice.page.getByRole('link', { name: 'Safety number' }).click();
    await alice.page.getByTestId('safety-number').waitFor();
    expect(await alice.page.getByTestId('safety-number').textContent()).toBe(await bob.page.getByTestId('safety-number').textContent());
    await alice.page.getByLabel('Their code').fill(bobsCode);
    await alice.page.getByRole('button', { name: 'Compare' }).click();
    await alice.page.getByText('Their code matches: verified.').waitFor();
    await alice.page.getByText('You have verified bob.').waitFor();
    await alice.page.locator('main .page').evaluate((el) => el.scrollTo(0, 0));
    await shot(alice, 'safety-number');
    await bob.page.getByRole('link', { name: /Back to the chat/ }).click();
    await alice.page.getByRole('link', { name: /Back to the chat/ }).click();
  });

  it('keeps history over a reload and offline, and sends what was typed offline once the server is back', async () => {
    await bob.page.reload();
    await messageWith(bob.page, 'Hello Bob').waitFor();
    await bob.page.getByRole('img', { name: 'Picture: quadrants.png' }).waitFor();

    await stopServer();
    await bob.page.getByRole('status').filter({ hasText: 'Offline' }).waitFor({ timeout: 15_000 });
    // The page itself comes from the service worker's cache; the history from IndexedDB.
    await bob.page.reload();
    await messageWith(bob.page, 'Hello Bob').waitFor();
    await bob.page.getByRole('status').filter({ hasText: 'Offline' }).waitFor({ timeout: 15_000 });
    await shot(bob, 'offline');
    await sendInPage(bob.page, 'Written while offline');
    const queued = messageWith(bob.page, 'Written while offline');
    await expect.poll(() => queued.getAttribute('data-status')).toBe('pending');

    server = await startServer(port);
    for (const app of [alice, bob]) {
      const retry = app.page.getByRole('button', { name: 'Retry now' });
      // The banner goes away by itself when the client reconnects first: then there is nothing to click.
      if (await retry.isVisible()) await retry.click({ timeout: 2000 }).catch(() => undefined);
    }
    await expect.poll(() => queued.getAttribute('data-status'), { timeout: 20_000 }).toMatch(/^(sent|delivered|read)$/);
    await messageWith(alice.page, 'Written while offline').waitFor({ timeout: 20_000 });
  });

  it('lets a CLI user and a browser user talk both ways', async () => {
    carol = cliDevice();
    await carol.ok('register', '--server', server.url, '--username', 'carol');
    await openChat(alice.page, 'carol');
    await sendInPage(alice.page, 'Hello from the browser');
    await expect.poll(() => messageWith(alice.page, 'Hello from the browser').getAttribute('data-status')).not.toBe('pending');
    // Long enough for the delivery receipt's random delay (at most 10 s): a receive that exits first leaves it for the next run.
    const received = await carol.json('receive', '--timeout', '12');
    expect(received).toContainEqual(expect.objectContaining({ type: 'message', from: 'alice', body: 'Hello from the browser' }));

    await carol.ok('send', 'alice', 'Hello from the terminal');
    await messageWith(alice.page, 'Hello from the terminal').waitFor({ timeout: 15_000 });
    await expect.poll(() => messageWith(alice.page, 'Hello from the browser').getAttribute('data-status'), { timeout: 15_000 }).toMatch(/delivered|read/);
  });

  it('fits a phone-width screen: the chat list, then the conversation alone', async () => {
    const page = alice.page;
    try {
      await page.setViewportSize({ width: 390, height: 760 });
      await page.getByRole('link', { name: 'Back to chats' }).click();
      const list = page.getByRole('navigation', { name: 'Chats' });
      await list.waitFor();
      expect(await page.locator('main.main').isVisible()).toBe(false);
      await shot(alice, 'phone-chat-list');

      await list.getByRole('link', { name: /^bob/ }).click();
      await page.getByRole('log', { name: 'Messages with bob' }).waitFor();
      expect(await list.isVisible()).toBe(false);
      const box = page.getByRole('textbox', { name: 'Message' });
      const boxSize = await box.boundingBox();
      expect(boxSize?.width ?? 0).toBeGreaterThan(150);
      expect((boxSize?.x ?? 0) + (boxSize?.width ?? 0)).toBeLessThanOrEqual(390);
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      await sendInPage(page, 'Sent from a small screen');
      await messageWith(bob.page, 'Sent from a small screen').waitFor();
      await shot(alice, 'phone-conversation');
    } finally {
      await page.setViewportSize({ width: 1200, height: 800 });
    }
  });

  it('links a browser as a new device of a CLI account, which then receives its messages', async () => {
    const dave = cliDevice();
    await dave.ok('register', '--server', server.url, '--username', 'dave');
    const laptop = await openApp(browser, server.url);
    await laptop.page.getByRole('button', { name: 'Link this browser' }).click();
    const codeBox = laptop.page.getByTestId('link-code');
    await codeBox.waitFor();
    const code = await codeBox.inputValue();
    expect(code).toMatch(/^\S{20,}$/);
    await laptop.page.getByRole('img', { name: 'QR code of the link code' }).waitFor();
    await shot(laptop, 'link');

    await dave.ok('devices', 'add', code);
    await laptop.page.getByRole('navigation', { name: 'Chats' }).waitFor({ timeout: 20_000 });
    await carol.ok('send', 'dave', 'Hello Dave, on every device');
    await openChat(laptop.page, 'carol');
    await messageWith(laptop.page, 'Hello Dave, on every device').waitFor({ timeout: 15_000 });

    await laptop.page.getByRole('link', { name: 'Devices' }).click();
    await laptop.page.getByText('Device 2 (this browser)').waitFor();
    await laptop.page.getByText('Device 1', { exact: true }).waitFor();
    await shot(laptop, 'devices');

    // The browser removes the CLI device: it is gone from the list (the server closed its queue).
    await laptop.page.getByRole('button', { name: 'Remove device 1', exact: true }).click();
    await laptop.page.getByRole('button', { name: 'Yes, remove device 1' }).click();
    await expect.poll(() => laptop.page.locator('[data-device-id]').count()).toBe(1);
    expect((await dave.run('devices', 'list')).code).not.toBe(0);
    expect(laptop.problems).toEqual([]);
    await laptop.context.close();
  });

  it('runs a group of three browsers: create, talk with sender names, add a member, remove one', async () => {
    // A third person, on a phone-sized screen.
    erin = await openApp(browser, server.url, { width: 390, height: 760 });
    await registerInPage(erin.page, 'erin');

    // Alice makes a group with Bob.
    await alice.page.getByRole('link', { name: 'New group' }).click();
    await alice.page.getByLabel('Group name').fill(GROUP);
    await alice.page.getByLabel('Username').fill('nobody_here');
    await alice.page.getByLabel('Username').press('Enter');
    await alice.page.getByRole('alert').filter({ hasText: 'No one has the username “nobody_here”.' }).waitFor();
    await alice.page.getByLabel('Username').fill('bob');
    await alice.page.getByLabel('Username').press('Enter');
    await alice.page.getByRole('list', { name: 'People to add' }).getByText('bob').waitFor();
    await shot(alice, 'new-group');
    await alice.page.getByRole('button', { name: 'Create group' }).click();
    const alicesLog = alice.page.getByRole('log', { name: `Messages in ${GROUP}` });
    await alicesLog.getByText(`You named the group “${GROUP}”.`).waitFor({ timeout: 15_000 });
    await alicesLog.getByText('You added bob.').waitFor();
    await alice.page.getByText('2 members').waitFor();

    // Bob has it in his chat list, marked as a group, with an unread count once Alice writes.
    const bobsItem = bob.page.getByRole('navigation', { name: 'Chats' }).getByRole('link', { name: new RegExp(`^${GROUP}, group`) });
    await bobsItem.waitFor({ timeout: 15_000 });
    await sendInPage(alice.page, 'Welcome to the club');
    await expect.poll(() => bobsItem.getAttribute('aria-label'), { timeout: 15_000 }).toBe(`${GROUP}, group, 1 unread`);
    await expect.poll(() => bobsItem.textContent()).toContain('alice: Welcome to the club');
    await bobsItem.click();
    const welcome = messageWith(bob.page, 'Welcome to the club');
    await welcome.locator('.author', { hasText: 'alice' }).waitFor();
    await bob.page.getByRole('log').getByText(`alice named the group “${GROUP}”.`).waitFor();
    await sendInPage(bob.page, 'Hi all');
    await messageWith(alice.page, 'Hi all').locator('.author', { hasText: 'bob' }).waitFor();

    // Alice adds Erin from the group's info; Erin learns the group's name and reads from then on.
    await openGroupInfo(alice.page);
    await alice.page.getByLabel('Username').fill('erin');
    await alice.page.getByRole('button', { name: 'Add to the group' }).click();
    await alice.page.getByRole('status').filter({ hasText: 'Added erin.' }).waitFor({ timeout: 15_000 });
    await alice.page.locator('[data-member="erin"]').getByText('1 device').waitFor();
    expect(await alice.page.locator('[data-member="alice"] .badge').textContent()).toBe('admin');
    await shot(alice, 'group-info');
    await alice.page.getByRole('link', { name: 'Back to the chat' }).click();

    // Erin has never talked with Alice: the group is a message request until she accepts it.
    await erin.page.getByRole('navigation', { name: 'Chats' }).getByRole('link', { name: /^Message requests/ }).waitFor({ timeout: 15_000 });
    await openRequest(erin.page, GROUP);
    const erinsLog = erin.page.getByRole('log', { name: `Messages in ${GROUP}` });
    // Added to a group that exists: who added her, and the settings as they stand (not "alice named the group").
    await erinsLog.getByText('alice added you.').waitFor();
    await erinsLog.getByText(`This group is called “${GROUP}”.`, { exact: false }).waitFor();
    await erin.page.getByText(`alice added you to ${GROUP}.`).waitFor();
    await erin.page.getByRole('button', { name: 'Accept' }).click();
    // She joined after those were sent: MLS gives her no key to read them.
    expect(await messageWith(erin.page, 'Welcome to the club').count()).toBe(0);
    expect(await erin.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await sendInPage(erin.page, 'Hello from erin');
    for (const app of [alice, bob]) await messageWith(app.page, 'Hello from erin').locator('.author', { hasText: 'erin' }).waitFor({ timeout: 15_000 });
    // Bob did not know Erin: her first message told her username, and the line about her being added shows it.
    await bob.page.getByRole('log').getByText('alice added erin.').waitFor();
    await sendInPage(alice.page, 'Three of us now');
    await messageWith(erin.page, 'Three of us now').locator('.author', { hasText: 'alice' }).waitFor({ timeout: 15_000 });
    await messageWith(bob.page, 'Three of us now').waitFor();
    await shot(bob, 'group-conversation');

    // Erin, not an admin, is offered no changes; Alice removes her.
    await openGroupInfo(erin.page);
    await erin.page.getByText('Only admins (alice) can add or remove members').waitFor();
    await shot(erin, 'phone-group-info');
    expect(await erin.page.getByRole('button', { name: /^Remove / }).count()).toBe(0);
    expect(await erin.page.getByRole('button', { name: 'Add to the group' }).count()).toBe(0);
    await erin.page.getByRole('link', { name: 'Back to the chat' }).click();

    await openGroupInfo(alice.page);
    await alice.page.getByRole('button', { name: 'Remove erin' }).click();
    await alice.page.getByRole('button', { name: 'Yes, remove erin' }).click();
    await alice.page.getByRole('status').filter({ hasText: 'erin was removed.' }).waitFor({ timeout: 15_000 });
    await expect.poll(() => alice.page.locator('[data-member]').count()).toBe(2);
    await alice.page.getByRole('link', { name: 'Back to the chat' }).click();
    await alicesLog.getByText('You removed erin.').waitFor();

    // Erin's browser shows that she is out; nothing said afterwards reaches her.
    await erinsLog.getByText('alice removed you.').waitFor({ timeout: 15_000 });
    await erin.page.getByTestId('not-a-member').waitFor();
    expect(await erin.page.getByRole('textbox', { name: 'Message' }).isDisabled()).toBe(true);
    await bob.page.getByRole('log').getByText('alice removed erin.').waitFor({ timeout: 15_000 });
    await sendInPage(alice.page, 'After erin left');
    await messageWith(bob.page, 'After erin left').waitFor({ timeout: 15_000 });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await messageWith(erin.page, 'After erin left').count()).toBe(0);
    await erin.page.getByRole('link', { name: 'Back to chats' }).click();
    await erin.page.getByRole('navigation', { name: 'Chats' }).getByRole('link', { name: `${GROUP}, group, no longer a member` }).waitFor();
    for (const app of [alice, bob, erin]) expect(app.problems).toEqual([]);
  });

  it('puts a CLI user in a browser group: the terminal and the browsers talk both ways', async () => {
    await openGroupInfo(alice.page);
    await alice.page.getByLabel('Username').fill('carol');
    await alice.page.getByRole('button', { name: 'Add to the group' }).click();
    await alice.page.getByRole('status').filter({ hasText: 'Added carol.' }).waitFor({ timeout: 15_000 });
    await alice.page.getByRole('link', { name: 'Back to the chat' }).click();

    await carol.ok('send', '--group', GROUP, 'Hello from the terminal, group');
    for (const app of [alice, bob]) await messageWith(app.page, 'Hello from the terminal, group').locator('.author', { hasText: 'carol' }).waitFor({ timeout: 15_000 });

    await sendInPage(bob.page, 'Hello carol, from a browser');
    await expect.poll(() => messageWith(bob.page, 'Hello carol, from a browser').getAttribute('data-status')).not.toBe('pending');
    // Long enough for the delivery receipt's random delay (at most 10 s): a receive that exits first leaves it for the next run.
    const received = await carol.json('receive', '--timeout', '12');
    expect(received).toContainEqual(expect.objectContaining({ type: 'message', group: GROUP, from: 'bob', body: 'Hello carol, from a browser' }));
  });

  it('lets an admin rename the group and make another admin, and a member leave after confirming', async () => {
    const renamed = `${GROUP} (Fridays)`;
    await openGroupInfo(alice.page);
    await alice.page.getByLabel('Group name').fill(renamed);
    await alice.page.getByRole('button', { name: 'Rename' }).click();
    await alice.page.getByRole('status').filter({ hasText: `Renamed to “${renamed}”.` }).waitFor({ timeout: 15_000 });
    await alice.page.getByRole('button', { name: 'Make bob an admin' }).click();
    await alice.page.getByRole('status').filter({ hasText: 'Admins now: you and bob.' }).waitFor({ timeout: 15_000 });
    const bobsLog = bob.page.getByRole('log', { name: `Messages in ${renamed}` });
    await bobsLog.getByText(`alice renamed the group to “${renamed}”.`).waitFor({ timeout: 15_000 });
    await bobsLog.getByText('alice changed the admins: alice and you.').waitFor();

    // Bob, now an admin, is offered the changes; he leaves instead, after confirming.
    await openGroupInfo(bob.page);
    await bob.page.getByRole('button', { name: 'Remove carol' }).waitFor();
    await bob.page.getByRole('button', { name: 'Leave group…' }).click();
    await bob.page.getByRole('button', { name: `Yes, leave “${renamed}”` }).click();
    await bob.page.getByRole('status').filter({ hasText: 'You left the group.' }).waitFor({ timeout: 15_000 });
    await bob.page.getByRole('link', { name: 'Back to the chat' }).click();
    await bob.page.getByTestId('not-a-member').waitFor();
    // Alice's device, an admin's, completes his leaving (MLS has no commit that removes its own sender): Alice and Carol remain.
    await expect.poll(() => alice.page.locator('[data-member]').count(), { timeout: 15_000 }).toBe(2);
    await alice.page.locator('[data-member="carol"]').waitFor();
    await alice.page.getByRole('link', { name: 'Back to the chat' }).click();
    for (const app of [alice, bob]) expect(app.problems).toEqual([]);
  });

  it('keeps the display name and theme in settings', async () => {
    await alice.page.getByRole('link', { name: 'Settings' }).click();
    // Sealed sender: from anyone by default, with the identified fallback on; both changes stick.
    const contactsOnly = alice.page.getByRole('radio', { name: 'Sealed from contacts only' });
    const fallback = alice.page.getByRole('checkbox', { name: /Send identified/ });
    await expect.poll(() => alice.page.getByRole('radio', { name: /Sealed from anyone/ }).isChecked()).toBe(true);
    expect(await fallback.isChecked()).toBe(true);
    const receipts = alice.page.getByRole('checkbox', { name: /Send delivery receipts/ });
    expect(await receipts.isChecked()).toBe(true);
    await contactsOnly.check();
    await fallback.uncheck();
    await receipts.uncheck();
    await expect.poll(() => fallback.isChecked()).toBe(false);
    await alice.page.getByLabel('Display name').fill('Alice A.');
    // A picture of her own: Settings shows it back once saved.
    await alice.page.getByLabel('Profile picture').setInputFiles({ name: 'me.png', mimeType: 'image/png', buffer: makePng(32) });
    await alice.page.getByRole('button', { name: 'Save' }).click();
    await alice.page.getByRole('img', { name: 'Your profile picture' }).waitFor();
    await alice.page.getByRole('radio', { name: 'Dark' }).check();
    expect(await alice.page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
    await shot(alice, 'settings-dark');
    await alice.page.reload();
    await alice.page.getByLabel('Display name').waitFor();
    expect(await alice.page.getByLabel('Display name').inputValue()).toBe('Alice A.');
    await expect.poll(() => alice.page.getByRole('radio', { name: 'Sealed from contacts only' }).isChecked()).toBe(true);
    expect(await alice.page.getByRole('checkbox', { name: /Send identified/ }).isChecked()).toBe(false);
    await expect.poll(() => alice.page.getByRole('checkbox', { name: /Send delivery receipts/ }).isChecked()).toBe(false);
    await alice.page.getByRole('checkbox', { name: /Send delivery receipts/ }).check();
    await alice.page.getByRole('radio', { name: /Sealed from anyone/ }).check();
    await alice.page.getByRole('checkbox', { name: /Send identified/ }).check();
    expect(await alice.page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');

    // The display name is alice's encrypted profile: bob sees it beside her username once she writes to him.
    await openChat(alice.page, 'bob');
    await alice.page.getByRole('textbox', { name: 'Message' }).fill('my profile has a name now');
    await alice.page.getByRole('textbox', { name: 'Message' }).press('Enter');
    await openChat(bob.page, 'alice');
    await expect.poll(() => bob.page.locator('.conversation-header .subtitle').textContent(), { timeout: 30_000 }).toContain('Alice A.');
    // Her picture too, decrypted from her profile: in the chat's header and in bob's chat list.
    const picture = bob.page.getByRole('img', { name: 'Profile picture of alice' });
    await picture.waitFor({ timeout: 30_000 });
    expect(await picture.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBe(32);
    expect(await bob.page.locator('.conversation-item .avatar img').count()).toBeGreaterThan(0);
    await shot(bob, 'profile-picture');

    // Nothing was fetched from another origin at any time.
    const origin = new URL(server.url).origin;
    for (const url of [...alice.requests, ...bob.requests, ...erin.requests]) {
      if (!url.startsWith('blob:') && !url.startsWith('data:')) expect(new URL(url).origin).toBe(origin);
    }
    expect(alice.problems).toEqual([]);
    expect(bob.problems).toEqual([]);
  });
});
