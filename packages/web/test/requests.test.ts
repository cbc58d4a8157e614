/**
 * Message requests and blocking in the web client, as Signal has them: a stranger's chat and a group a stranger
 * added us to wait under "Message requests" (not among the chats, never counted as unread, read without telling the
 * sender) until accepted, deleted or blocked; a blocked person's messages never appear; Settings → Blocked unblocks.
 * The real server binary serves the built app; each person is their own Chromium context. The cases run in order and
 * share the people they create.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnServer } from '../../server/test/helpers/child-server.js';
import type { ServerProcess } from '../../server/test/helpers/child-server.js';
import { SCREENSHOTS, buildAll, launchChromium, messageWith, openApp, openChat, openGroupInfo, openRequest, registerInPage, sendInPage } from './helpers.js';
import type { AppPage } from './helpers.js';

let dataDir: string;
let server: ServerProcess;
let browser: Browser;
let alice: AppPage;
let bob: AppPage;
let mallory: AppPage;
const opened: AppPage[] = [];

/** Long enough for a message to cross the server to an open page (they take well under a second here). */
const SETTLE_MS = 1500;
const settle = () => new Promise((resolve) => setTimeout(resolve, SETTLE_MS));

beforeAll(async () => {
  await buildAll();
  mkdirSync(SCREENSHOTS, { recursive: true });
  dataDir = mkdtempSync(join(tmpdir(), 'samizdat-web-requests-'));
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

async function person(username: string): Promise<AppPage> {
  const app = await openApp(browser, server.url);
  opened.push(app);
  await registerInPage(app.page, username);
  return app;
}

const chats = (app: AppPage) => app.page.getByRole('navigation', { name: 'Chats' });
const requestsEntry = (app: AppPage) => chats(app).getByRole('link', { name: /^Message requests/ });
const requestBar = (app: AppPage) => app.page.getByRole('region', { name: 'Message request', exact: true });

describe('message requests and blocking', () => {
  it('holds a stranger’s chat under Message requests, unread nowhere; Accept makes it a chat and the sender sees it read', async () => {
    alice = await person('alice');
    bob = await person('bob');
    await openChat(alice.page, 'bob');
    await sendInPage(alice.page, 'Hello Bob, we have not met');
    const sent = messageWith(alice.page, 'Hello Bob, we have not met');
    await expect.poll(() => sent.getAttribute('data-status'), { timeout: 30_000 }).toBe('delivered');

    // Not a chat: one "Message requests" entry, no unread badge, no count in the title.
    await chats(bob).getByRole('link', { name: 'Message requests, 1' }).waitFor();
    expect(await chats(bob).getByRole('link', { name: /^alice/ }).count()).toBe(0);
    expect(await chats(bob).getByTestId('unread').count()).toBe(0);
    expect(await bob.page.title()).toBe('Samizdat');

    await requestsEntry(bob).click();
    const item = bob.page.getByRole('navigation', { name: 'Message requests' }).getByRole('link', { name: /^alice/ });
    await expect.poll(() => item.textContent()).toContain('Hello Bob, we have not met');
    expect(await item.getAttribute('aria-label')).toBe('alice');
    expect(await item.getByTestId('unread').count()).toBe(0);
    await item.click();

    // The request bar instead of the composer; reading it does not tell Alice, and her typing is not shown.
    await messageWith(bob.page, 'Hello Bob, we have not met').waitFor();
    await requestBar(bob).getByText('alice wants to message you.').waitFor();
    expect(await bob.page.getByRole('textbox', { name: 'Message' }).count()).toBe(0);
    await alice.page.getByRole('textbox', { name: 'Message' }).pressSequentially('typ');
    await settle();
    expect(await bob.page.getByText('typing…').count()).toBe(0);
    expect(await sent.getAttribute('data-status')).toBe('delivered');
    await alice.page.getByRole('textbox', { name: 'Message' }).fill('');
    await bob.page.screenshot({ path: join(SCREENSHOTS, 'message-request.png') });

    await requestBar(bob).getByRole('button', { name: 'Accept' }).click();
    await expect.poll(() => sent.getAttribute('data-status'), { timeout: 15_000 }).toBe('read');
    await chats(bob).getByRole('link', { name: /^alice/ }).waitFor();
    expect(await requestsEntry(bob).count()).toBe(0);
    await sendInPage(bob.page, 'Hi Alice, welcome');
    await messageWith(alice.page, 'Hi Alice, welcome').waitFor({ timeout: 15_000 });
    for (const app of [alice, bob]) expect(app.problems).toEqual([]);
  });

  it('blocks from the request bar: nothing more arrives, Settings → Blocked lists them, Unblock lets them write again', async () => {
    mallory = await person('mallory');
    await openChat(mallory.page, 'bob');
    await sendInPage(mallory.page, 'Buy my stuff');
    await requestsEntry(bob).waitFor({ timeout: 15_000 });
    await openRequest(bob.page, 'mallory');
    await messageWith(bob.page, 'Buy my stuff').waitFor();
    await requestBar(bob).getByRole('button', { name: 'Block' }).click();
    await bob.page.getByRole('button', { name: 'Yes, block mallory' }).click();
    await bob.page.getByRole('region', { name: 'Blocked' }).getByText('You blocked mallory.').waitFor();
    expect(await bob.page.getByRole('textbox', { name: 'Message' }).count()).toBe(0);
    expect(await requestsEntry(bob).count()).toBe(0);
    expect(await chats(bob).getByRole('link', { name: /^mallory/ }).count()).toBe(0);

    // What Mallory sends now is stored by the server and dropped by Bob's browser, unanswered (no ✓✓).
    await sendInPage(mallory.page, 'Are you there?');
    const ignored = messageWith(mallory.page, 'Are you there?');
    await expect.poll(() => ignored.getAttribute('data-status'), { timeout: 15_000 }).toBe('sent');
    await settle();
    expect(await ignored.getAttribute('data-status')).toBe('sent');
    expect(await messageWith(bob.page, 'Are you there?').count()).toBe(0);
    expect(await requestsEntry(bob).count()).toBe(0);
    expect(await chats(bob).getByRole('link', { name: /^mallory/ }).count()).toBe(0);

    await bob.page.getByRole('link', { name: 'Settings' }).click();
    const list = bob.page.getByRole('list', { name: 'Blocked people' });
    await list.getByText('mallory').waitFor();
    await bob.page.getByRole('button', { name: 'Unblock mallory' }).click();
    await bob.page.getByRole('status').filter({ hasText: 'Unblocked mallory.' }).waitFor();
    await bob.page.getByText('Nobody is blocked.', { exact: false }).waitFor();

    // Unblocked, but never accepted: what Mallory sends next is a request again, beside the history that stayed.
    await sendInPage(mallory.page, 'Back again');
    await requestsEntry(bob).waitFor({ timeout: 15_000 });
    await openRequest(bob.page, 'mallory');
    await messageWith(bob.page, 'Back again').waitFor();
    expect(await messageWith(bob.page, 'Buy my stuff').count()).toBe(1);
    expect(await messageWith(bob.page, 'Are you there?').count()).toBe(0);

    // Deleted: the request and its messages go; the chat closes.
    await requestBar(bob).getByRole('button', { name: 'Delete' }).click();
    await bob.page.getByRole('button', { name: 'Yes, delete' }).click();
    await bob.page.getByText('Pick a chat', { exact: false }).waitFor();
    expect(await requestsEntry(bob).count()).toBe(0);
    expect(await messageWith(bob.page, 'Buy my stuff').count()).toBe(0);
    for (const app of [bob, mallory]) expect(app.problems).toEqual([]);
  });

  it('blocks and unblocks an ordinary chat from its options menu', async () => {
    await chats(bob).getByRole('link', { name: /^alice/ }).click();
    await bob.page.getByRole('log', { name: 'Messages with alice' }).waitFor();
    await bob.page.getByRole('button', { name: 'Conversation options' }).click();
    await bob.page.getByRole('button', { name: 'Block alice…' }).click();
    await bob.page.getByRole('button', { name: 'Yes, block alice' }).click();
    const blocked = bob.page.getByRole('region', { name: 'Blocked' });
    await blocked.getByText('You blocked alice.').waitFor();
    expect(await bob.page.getByRole('textbox', { name: 'Message' }).count()).toBe(0);
    expect(await chats(bob).getByRole('link', { name: /^alice/ }).count()).toBe(0);

    await sendInPage(alice.page, 'Did you block me?');
    await expect.poll(() => messageWith(alice.page, 'Did you block me?').getAttribute('data-status'), { timeout: 15_000 }).toBe('sent');
    await settle();
    expect(await messageWith(bob.page, 'Did you block me?').count()).toBe(0);

    await blocked.getByRole('button', { name: 'Unblock' }).click();
    await bob.page.getByRole('textbox', { name: 'Message' }).waitFor();
    await chats(bob).getByRole('link', { name: /^alice/ }).waitFor();
    await sendInPage(bob.page, 'Unblocked you');
    await messageWith(alice.page, 'Unblocked you').waitFor({ timeout: 15_000 });
    for (const app of [alice, bob]) expect(app.problems).toEqual([]);
  });

  it('shows a stranger’s group as a request that says who added us; Delete leaves it, Block blocks who added us', async () => {
    const gina = await person('gina');
    const makeGroup = async (owner: AppPage, name: string) => {
      await owner.page.getByRole('link', { name: 'New group' }).first().click();
      await owner.page.getByLabel('Group name').fill(name);
      await owner.page.getByLabel('Username').fill('bob');
      await owner.page.getByLabel('Username').press('Enter');
      await owner.page.getByRole('list', { name: 'People to add' }).getByText('bob').waitFor();
      await owner.page.getByRole('button', { name: 'Create group' }).click();
      await owner.page.getByRole('log', { name: `Messages in ${name}` }).getByText('You added bob.').waitFor({ timeout: 15_000 });
    };
    await makeGroup(gina, 'Strangers');

    await chats(bob).getByRole('link', { name: 'Message requests, 1' }).waitFor({ timeout: 15_000 });
    expect(await chats(bob).getByRole('link', { name: /^Strangers/ }).count()).toBe(0);
    await openRequest(bob.page, 'Strangers');
    await requestBar(bob).getByText('gina added you to Strangers.').waitFor();
    expect(await bob.page.getByRole('textbox', { name: 'Message' }).count()).toBe(0);
    await requestBar(bob).getByRole('button', { name: 'Delete' }).click();
    await bob.page.getByRole('button', { name: 'Yes, leave and delete' }).click();
    // Closed: back to the chats, where it is not; Gina's device, the admin's, completes the leave.
    await bob.page.getByText('Pick a chat', { exact: false }).waitFor();
    expect(await requestsEntry(bob).count()).toBe(0);
    expect(await chats(bob).getByRole('link', { name: /^Strangers/ }).count()).toBe(0);
    await openGroupInfo(gina.page);
    await expect.poll(() => gina.page.locator('[data-member]').count(), { timeout: 15_000 }).toBe(1);
    await gina.page.getByRole('link', { name: 'Back to the chat' }).click();

    // A second group, blocked: Gina is blocked (listed in Settings) and the group left.
    await makeGroup(gina, 'Strangers again');
    await chats(bob).getByRole('link', { name: 'Message requests, 1' }).waitFor({ timeout: 15_000 });
    await openRequest(bob.page, 'Strangers again');
    await requestBar(bob).getByRole('button', { name: 'Block' }).click();
    await bob.page.getByRole('button', { name: 'Yes, block gina' }).click();
    await bob.page.getByText('Pick a chat', { exact: false }).waitFor();
    expect(await chats(bob).getByRole('link', { name: /^Strangers again/ }).count()).toBe(0);
    expect(await requestsEntry(bob).count()).toBe(0);
    await openGroupInfo(gina.page);
    await expect.poll(() => gina.page.locator('[data-member]').count(), { timeout: 15_000 }).toBe(1);
    await bob.page.getByRole('link', { name: 'Settings' }).click();
    await bob.page.getByRole('list', { name: 'Blocked people' }).getByText('gina').waitFor();
    for (const app of opened) expect(app.problems).toEqual([]);
  });

  it('shows a decision made in one browser of the account in its other browser too', async () => {
    // Bob links a second browser (it shows a code; his first one adds it in Devices).
    const second = await openApp(browser, server.url);
    opened.push(second);
    await second.page.getByRole('button', { name: 'Link this browser' }).click();
    const code = second.page.getByTestId('link-code');
    await code.waitFor();
    await bob.page.getByRole('link', { name: 'Devices' }).click();
    await bob.page.getByLabel('Code from the new device').fill(await code.inputValue());
    await bob.page.getByRole('button', { name: 'Add device' }).click();
    await chats(second).waitFor({ timeout: 20_000 });

    const hana = await person('hana');
    await openChat(hana.page, 'bob');
    await sendInPage(hana.page, 'Hello both of your browsers');
    for (const app of [bob, second]) await chats(app).getByRole('link', { name: 'Message requests, 1' }).waitFor({ timeout: 15_000 });
    await openRequest(second.page, 'hana');
    await openRequest(bob.page, 'hana');
    await requestBar(bob).getByRole('button', { name: 'Accept' }).click();
    // The other browser learns it: the request bar gives way to the composer, and hana is among its chats.
    await second.page.getByRole('textbox', { name: 'Message' }).waitFor({ timeout: 15_000 });
    await chats(second).getByRole('link', { name: /^hana/ }).waitFor();
    expect(await requestsEntry(second).count()).toBe(0);
    for (const app of opened) expect(app.problems).toEqual([]);
  });
});
