/**
 * One person on several browsers (issue 13): browsers linked one after another through the web app's own linking
 * flow (the new browser shows a code, an existing one adds it in Devices), reloads, sync copies of what each device
 * sent, and a removed device replaced by a new one in a group. The real server binary serves the built app; each
 * browser is its own Chromium context (own IndexedDB, keys and service worker).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnServer } from '../../server/test/helpers/child-server.js';
import type { ServerProcess } from '../../server/test/helpers/child-server.js';
import { acceptRequest, buildAll, launchChromium, messageWith, openApp, openChat, openGroupInfo, registerInPage, sendInPage } from './helpers.js';
import type { AppPage } from './helpers.js';

let dataDir: string;
let server: ServerProcess;
let browser: Browser;
const opened: AppPage[] = [];

beforeAll(async () => {
  await buildAll();
  dataDir = mkdtempSync(join(tmpdir(), 'samizdat-web-linked-'));
  server = await spawnServer(['--port', '0', '--data-dir', dataDir, '--log-level', 'warn']);
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  if (server) {
    server.kill('SIGTERM');
    await server.exited;
  }
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

async function open(): Promise<AppPage> {
  const app = await openApp(browser, server.url);
  opened.push(app);
  return app;
}

async function closeAll(): Promise<void> {
  for (const app of opened.splice(0)) await app.context.close();
}

/**
 * A fresh browser linked to `owner`'s account as the web app does it: "Link this browser" shows a code, the owner
 * pastes it in Devices → Add a device. Resolves once the new browser shows its chat list; `owner` is left on Devices.
 */
async function linkBrowser(owner: AppPage): Promise<AppPage> {
  const app = await open();
  await app.page.getByRole('button', { name: 'Link this browser' }).click();
  const codeBox = app.page.getByTestId('link-code');
  await codeBox.waitFor();
  const code = await codeBox.inputValue();
  expect(code).toMatch(/^\S{20,}$/);

  await owner.page.getByRole('link', { name: 'Devices' }).click();
  await owner.page.getByLabel('Code from the new device').fill(code);
  await owner.page.getByRole('button', { name: 'Add device' }).click();
  await owner.page.getByRole('status').filter({ hasText: 'Keys sent.' }).waitFor({ timeout: 15_000 });
  await app.page.getByRole('navigation', { name: 'Chats' }).waitFor({ timeout: 20_000 });
  return app;
}

/** This browser's device number, as its Devices screen shows it ("Device N (this browser)"). */
async function deviceNumber(app: AppPage): Promise<number> {
  await app.page.getByRole('link', { name: 'Devices' }).click();
  const mine = app.page.locator('[data-device-id]', { hasText: '(this browser)' });
  await mine.waitFor();
  expect(await mine.count()).toBe(1);
  const number = Number(await mine.getAttribute('data-device-id'));
  expect(await mine.locator('strong').textContent()).toBe(`Device ${number} (this browser)`);
  return number;
}

/**
 * `text` shows exactly once in each of `apps` (the conversation open there), as an outgoing message on `outgoing`
 * and incoming on the others.
 */
async function shownOnceEverywhere(text: string, apps: readonly AppPage[], outgoing: readonly AppPage[]): Promise<void> {
  for (const app of apps) await messageWith(app.page, text).waitFor({ timeout: 15_000 });
  for (const app of apps) {
    const entry = messageWith(app.page, text);
    expect(await entry.count(), `${text} on ${opened.indexOf(app)}`).toBe(1);
    expect(await entry.getAttribute('class')).toContain(outgoing.includes(app) ? 'outgoing' : 'incoming');
  }
}

describe('one account on several browsers', () => {
  it('three browsers linked one after another, after reloads, with the chat open everywhere, hold the whole conversation', async () => {
    const a1 = await open();
    const b = await open();
    await registerInPage(a1.page, 'alice');
    await registerInPage(b.page, 'bob');

    // Alice and Bob talk first.
    await openChat(a1.page, 'bob');
    await sendInPage(a1.page, 'Hi Bob, one browser so far');
    // Alice is a stranger to Bob: her chat is a message request until he accepts it.
    await acceptRequest(b.page, 'alice');
    await sendInPage(b.page, 'Hi Alice');
    await shownOnceEverywhere('Hi Bob, one browser so far', [a1, b], [a1]);
    await shownOnceEverywhere('Hi Alice', [a1, b], [b]);

    // Then a second browser of Alice's.
    const a2 = await linkBrowser(a1);
    expect(await deviceNumber(a2)).toBe(2);
    await openChat(a1.page, 'bob');
    await openChat(a2.page, 'bob');
    await sendInPage(a1.page, 'From A1 after linking A2');
    await shownOnceEverywhere('From A1 after linking A2', [a1, a2, b], [a1, a2]);
    await sendInPage(b.page, 'Bob to both of them');
    await shownOnceEverywhere('Bob to both of them', [a1, a2, b], [b]);
    // A2 was not there for the first exchange: it does not have those messages.
    expect(await messageWith(a2.page, 'Hi Bob, one browser so far').count()).toBe(0);

    // A third, linked from the first; then every browser of Alice's is reloaded and reopens the chat.
    const a3 = await linkBrowser(a1);
    expect(await deviceNumber(a3)).toBe(3);
    for (const app of [a1, a2, a3]) await openChat(app.page, 'bob');
    for (const app of [a1, a2, a3]) {
      await app.page.reload();
      await app.page.getByRole('log', { name: 'Messages with bob' }).waitFor();
    }

    const alices = [a1, a2, a3];
    const all = [...alices, b];
    await sendInPage(a1.page, 'Sent from A1');
    await shownOnceEverywhere('Sent from A1', all, alices);
    await sendInPage(a2.page, 'Sent from A2');
    await shownOnceEverywhere('Sent from A2', all, alices);
    await sendInPage(a3.page, 'Sent from A3');
    await shownOnceEverywhere('Sent from A3', all, alices);
    await sendInPage(b.page, 'Sent from B');
    await shownOnceEverywhere('Sent from B', all, [b]);

    // The whole conversation since each browser was linked, each message once, nothing else duplicated.
    const since2 = ['From A1 after linking A2', 'Bob to both of them'];
    const since3 = ['Sent from A1', 'Sent from A2', 'Sent from A3', 'Sent from B'];
    const expected = new Map<AppPage, string[]>([
      [a1, ['Hi Bob, one browser so far', 'Hi Alice', ...since2, ...since3]],
      [a2, [...since2, ...since3]],
      [a3, since3],
      [b, ['Hi Bob, one browser so far', 'Hi Alice', ...since2, ...since3]],
    ]);
    for (const [app, texts] of expected) {
      const bodies = await app.page.getByRole('log').locator('li.message p.body').allTextContents();
      expect(bodies).toEqual(texts);
    }
    for (const app of all) expect(app.problems).toEqual([]);
    await closeAll();
  });

  it('remove a linked device, link another browser: it gets a new device number, appears in the group, Group info counts right, and it can send', async () => {
    const GROUP = 'Second browsers';
    const a1 = await open();
    const b = await open();
    await registerInPage(a1.page, 'carla');
    await registerInPage(b.page, 'dan');
    const a2 = await linkBrowser(a1);
    expect(await deviceNumber(a2)).toBe(2);

    // Carla makes a group with Dan; her second browser has it too.
    await a1.page.getByRole('link', { name: 'New group' }).first().click();
    await a1.page.getByLabel('Group name').fill(GROUP);
    await a1.page.getByLabel('Username').fill('dan');
    await a1.page.getByLabel('Username').press('Enter');
    await a1.page.getByRole('list', { name: 'People to add' }).getByText('dan').waitFor();
    await a1.page.getByRole('button', { name: 'Create group' }).click();
    await a1.page.getByRole('log', { name: `Messages in ${GROUP}` }).getByText('You added dan.').waitFor({ timeout: 15_000 });
    const groupItem = (app: AppPage) => app.page.getByRole('navigation', { name: 'Chats' }).getByRole('link', { name: new RegExp(`^${GROUP}, group`) });
    await groupItem(a2).waitFor({ timeout: 15_000 });
    // Carla is a stranger to Dan: the group is a message request until he accepts it.
    await b.page.getByRole('navigation', { name: 'Chats' }).getByRole('link', { name: /^Message requests/ }).waitFor({ timeout: 15_000 });
    await acceptRequest(b.page, GROUP);
    await groupItem(b).waitFor();
    await openGroupInfo(b.page);
    const carlaOnB = b.page.locator('[data-member="carla"]');
    await carlaOnB.getByText('2 devices').waitFor({ timeout: 15_000 });

    // Carla removes her second browser from the first; the group loses that device.
    await a1.page.getByRole('link', { name: 'Devices' }).click();
    await a1.page.getByText('Device 2', { exact: true }).waitFor();
    await a1.page.getByRole('button', { name: 'Remove device 2', exact: true }).click();
    await a1.page.getByRole('button', { name: 'Yes, remove device 2' }).click();
    await expect.poll(() => a1.page.locator('[data-device-id]').count()).toBe(1);
    await carlaOnB.getByText('1 device', { exact: true }).waitFor({ timeout: 15_000 });

    // A fresh browser: device 3, never 2 again.
    const a3 = await open();
    const commitAnswers: { url: string; status: number }[] = [];
    a3.page.on('response', (response) => {
      const request = response.request();
      if (request.method() === 'POST' && /\/v1\/groups\/[^/]+\/commits$/.test(new URL(response.url()).pathname)) {
        commitAnswers.push({ url: response.url(), status: response.status() });
      }
    });
    await a3.page.getByRole('button', { name: 'Link this browser' }).click();
    const codeBox = a3.page.getByTestId('link-code');
    await codeBox.waitFor();
    await a1.page.getByLabel('Code from the new device').fill(await codeBox.inputValue());
    await a1.page.getByRole('button', { name: 'Add device' }).click();
    await a3.page.getByRole('navigation', { name: 'Chats' }).waitFor({ timeout: 20_000 });
    expect(await deviceNumber(a3)).toBe(3);
    await expect.poll(() => a1.page.locator('[data-device-id]').evaluateAll((items) => items.map((i) => i.getAttribute('data-device-id'))), { timeout: 10_000 }).toEqual(['1', '3']);

    // It joins the group by itself; Dan's Group info counts Carla's two devices again.
    await groupItem(a3).waitFor({ timeout: 20_000 });
    await carlaOnB.getByText('2 devices').waitFor({ timeout: 15_000 });
    expect(await b.page.locator('[data-member]').count()).toBe(2);
    expect(commitAnswers.length).toBeGreaterThan(0);
    expect(commitAnswers.filter((a) => a.status === 400)).toEqual([]);

    // And it sends to the group: Dan and Carla's first browser receive it.
    await groupItem(a3).click();
    await a3.page.getByRole('log', { name: `Messages in ${GROUP}` }).waitFor();
    await sendInPage(a3.page, 'Hello from the third browser');
    await b.page.getByRole('link', { name: 'Back to the chat' }).click();
    await groupItem(a1).click();
    for (const app of [a1, b]) await messageWith(app.page, 'Hello from the third browser').waitFor({ timeout: 15_000 });
    await messageWith(b.page, 'Hello from the third browser').locator('.author', { hasText: 'carla' }).waitFor();
    expect(await messageWith(a1.page, 'Hello from the third browser').getAttribute('class')).toContain('outgoing');
    for (const app of [a1, b]) expect(await messageWith(app.page, 'Hello from the third browser').count()).toBe(1);
    expect(commitAnswers.filter((a) => a.status === 400)).toEqual([]);
    // Carla's devices coming and going is no news to Dan, nor to her first browser; the new one says what it lacks.
    const lines = (app: AppPage) => app.page.getByRole('log').locator('li.system-line').allTextContents();
    expect(await lines(b)).toEqual(['carla added you.', `carla named the group “${GROUP}”.`]);
    expect(await lines(a1)).toEqual([`You named the group “${GROUP}”.`, 'You added dan.']);
    expect(await lines(a3)).toEqual([
      'This device joined the group here: messages sent before that are not on it (your other devices have them).',
      `This group is called “${GROUP}”. Admins: you.`,
    ]);
    await openGroupInfo(a3.page);
    await a3.page.locator('[data-member="carla"]').getByText('2 devices').waitFor();
    await a3.page.locator('[data-member="dan"]').getByText('1 device', { exact: true }).waitFor();
    for (const app of [a1, a3, b]) expect(app.problems).toEqual([]);
    await closeAll();
  });
});
