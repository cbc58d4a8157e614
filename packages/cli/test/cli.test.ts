import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer, spawnServer } from '../../server/test/helpers/child-server.js';
import type { ServerProcess } from '../../server/test/helpers/child-server.js';
import { startHttpConnectProxy, startSocksProxy } from '../../client/test/transport/proxies.js';
import { cliDevice, removeHomes, runCli } from './helpers.js';
import type { CliDevice } from './helpers.js';

let dataDir: string;
let server: ServerProcess;
let counter = 0;
/** Words that must never appear on the server: every text, file content and username of these tests. */
const secrets: string[] = [];

const uniqueName = (base: string) => {
  const name = `${base}${Date.now().toString(36)}${counter++}`;
  secrets.push(name);
  return name;
};
const secretText = (text: string) => {
  const t = `${text} ${Math.random().toString(36).slice(2)}`;
  secrets.push(t);
  return t;
};

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      s.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

function files(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...files(path));
    else out.push(path);
  }
  return out;
}

async function until(check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function waitForFile(path: string): Promise<void> {
  await until(() => {
    try {
      statSync(path);
      return true;
    } catch {
      return false;
    }
  });
}

let port: number;
const serverLogs: string[] = [];

async function startServer(): Promise<void> {
  server = await spawnServer(['--port', String(port), '--data-dir', dataDir, '--log-level', 'debug']);
}

async function stopServer(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  server.kill(signal);
  await server.exited;
  serverLogs.push(server.stdout(), server.stderr());
}

beforeAll(async () => {
  await buildServer();
  dataDir = mkdtempSync(join(tmpdir(), 'samizdat-cli-server-'));
  port = await freePort();
  await startServer();
}, 240_000);

afterAll(async () => {
  if (server) await stopServer();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  removeHomes();
});

async function register(base: string): Promise<CliDevice & { name: string }> {
  const d = cliDevice();
  const name = uniqueName(base);
  const r = await d.ok('register', '--server', server.url, '--username', name);
  expect(r.username).toBe(name);
  return Object.assign(d, { name });
}

/** Links a new CLI device to `existing` through `link` / `devices add`, as two processes. */
async function link(existing: CliDevice): Promise<CliDevice> {
  const d = cliDevice();
  const linking = d.spawn('--json', 'link', '--server', server.url);
  const codeLine = await linking.line(/"link-code"/);
  const code = (JSON.parse(codeLine) as { code: string }).code;
  await existing.ok('devices', 'add', code);
  const result = await linking.exited;
  expect(result.code, result.stderr).toBe(0);
  return d;
}

async function messages(device: CliDevice, timeout = '0'): Promise<Record<string, unknown>[]> {
  return (await device.json('receive', '--timeout', timeout)).filter((l) => l.type === 'message');
}

async function historyBodies(device: CliDevice, peer: string): Promise<string[]> {
  return (await device.json('history', peer, '--limit', '1000')).filter((l) => l.type === 'message').map((l) => l.body as string);
}

describe('samizdat CLI, end to end', () => {
  it('two people and three devices talk, each device sees the whole conversation once, removal stops deliveries', async () => {
    const alice = await register('alice');
    const bob = await register('bob');
    const laptop = await link(alice);
    const whoami = await laptop.ok('whoami');
    expect(whoami.username).toBe(alice.name);
    expect(whoami.deviceId).toBe(2);

    const t1 = secretText('hello bob');
    const sent = await alice.ok('send', bob.name, t1);
    expect(sent.status).toBe('sent');
    // Bob was offline when it was sent: it waits on the server until he receives.
    const got = await messages(bob);
    expect(got.map((m) => [m.from, m.body, m.fromDevice])).toEqual([[alice.name, t1, 1]]);
    expect(got[0]?.id).toBe(sent.id);
    expect(typeof got[0]?.timestamp).toBe('number');

    const t2 = secretText('hi alice');
    await bob.ok('send', alice.name, t2);
    const t3 = secretText('from the laptop');
    await messages(laptop); // The laptop gets Bob's message and the copy of Alice's first one.
    await laptop.ok('send', bob.name, t3);
    await messages(alice);
    await messages(bob);

    const conversation = [t1, t2, t3];
    expect(await historyBodies(alice, bob.name)).toEqual(conversation);
    expect(await historyBodies(laptop, bob.name)).toEqual(conversation);
    expect(await historyBodies(bob, alice.name)).toEqual(conversation);
    // Nothing left to show twice.
    expect(await messages(alice)).toEqual([]);
    expect(await messages(bob)).toEqual([]);

    const devices = (await alice.ok('devices', 'list')).devices as { deviceId: number }[];
    expect(devices.map((d) => d.deviceId)).toEqual([1, 2]);
    await alice.ok('devices', 'remove', '2');
    await bob.ok('send', alice.name, secretText('after removal'));
    const removed = await laptop.run('--json', 'receive', '--timeout', '0');
    expect(removed.code).not.toBe(0);
    expect(removed.stdout).not.toContain('after removal');
    expect((await messages(alice)).map((m) => m.from)).toEqual([bob.name]);
  });

  it('round-trips an attachment of a few MiB byte-identical and rejects a corrupted blob', async () => {
    const alice = await register('alice');
    const bob = await register('bob');
    const dir = mkdtempSync(join(tmpdir(), 'samizdat-files-'));
    try {
      const content = Buffer.alloc(3 * 1024 * 1024 + 5);
      for (let i = 0; i < content.length; i++) content[i] = (i * 7 + (i >> 10)) & 0xff;
      const marker = secretText('FILE-CONTENT-MARKER');
      content.write(marker, 1000);
      const file = join(dir, 'photo.bin');
      writeFileSync(file, content);
      await alice.ok('send', bob.name, secretText('the file'), '--attach', file);
      const [m] = await messages(bob);
      const [a] = m?.attachments as { file?: string; error?: string; size: number; fileName: string }[];
      expect(a?.fileName).toBe('photo.bin');
      expect(a?.size).toBe(content.length);
      expect(readFileSync(a?.file as string).equals(content)).toBe(true);

      // A second file, whose blob is damaged on the server before Bob fetches it.
      const before = new Set(files(dataDir));
      await alice.ok('send', bob.name, '--attach', file);
      const blob = files(dataDir).find((f) => !before.has(f) && statSync(f).size > content.length);
      expect(blob).toBeDefined();
      const bytes = readFileSync(blob as string);
      const i = bytes.length - 100;
      bytes[i] = (bytes[i] as number) ^ 0xff;
      writeFileSync(blob as string, bytes);
      const [damaged] = await messages(bob);
      const [b] = damaged?.attachments as { file?: string; error?: string }[];
      expect(b?.error).toBe('ATTACHMENT_CORRUPTED');
      expect(b?.file).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('loses nothing acknowledged and shows nothing twice when the server is killed mid-conversation', async () => {
    const alice = await register('alice');
    const bob = await register('bob');
    const texts: string[] = [];
    for (let i = 0; i < 3; i++) {
      texts.push(secretText(`before crash ${i}`));
      await alice.ok('send', bob.name, texts[i] as string);
    }
    await messages(bob);
    const after: string[] = [];
    for (let i = 0; i < 3; i++) {
      after.push(secretText(`unread at crash ${i}`));
      await alice.ok('send', bob.name, after[i] as string);
    }
    await stopServer('SIGKILL');
    const offline = await alice.run('--json', 'send', bob.name, 'never stored');
    expect(offline.code).toBe(1);
    expect(JSON.parse(offline.stdout.trim()).error.code).toBe('SERVER_UNREACHABLE');
    await startServer();
    const got = await messages(bob);
    expect(got.map((m) => m.body)).toEqual(after);
    expect(await historyBodies(bob, alice.name)).toEqual([...texts, ...after]);
    const reply = secretText('after restart');
    await bob.ok('send', alice.name, reply);
    expect((await messages(alice)).map((m) => m.body)).toEqual([reply]);
  });

  it('warns when a contact re-registers and clears verification', async () => {
    const alice = await register('alice');
    const bob = await register('bob');
    await alice.ok('send', bob.name, secretText('hi'));
    const verified = await alice.ok('verify', bob.name, '--mark-verified');
    expect(verified.verified).toBe(true);
    expect(verified.safetyNumber).toMatch(/^[0-9]{60}$/);
    // Both sides compute the same number.
    expect((await bob.ok('verify', alice.name)).safetyNumber).toBe(verified.safetyNumber);

    await bob.ok('unregister', '--yes');
    const bobAgain = cliDevice();
    await bobAgain.ok('register', '--server', server.url, '--username', bob.name);
    const sent = await alice.run('send', bob.name, secretText('still there?'));
    expect(sent.code, sent.stderr).toBe(0);
    const after = await alice.ok('verify', bob.name);
    expect(after.verified).toBe(false);
    expect(after.safetyNumber).not.toBe(verified.safetyNumber);
    const history = await alice.json('history', bob.name);
    expect(history.some((l) => l.type === 'identity-changed')).toBe(true);
    expect((await messages(bobAgain)).length).toBe(1);
  });

  it('answers bad input with clear errors and exit codes', async () => {
    const nobody = cliDevice();
    const notRegistered = await nobody.run('send', 'someone', 'x');
    expect(notRegistered.code).toBe(1);
    expect(notRegistered.stderr).toMatch(/register/);
    const alice = await register('alice');
    const unknown = await alice.run('--json', 'send', 'no_such_user_here', 'x');
    expect(unknown.code).toBe(1);
    expect(JSON.parse(unknown.stdout.trim()).error.code).toBe('UNKNOWN_USER');
    const noText = await alice.run('send', 'someone');
    expect(noText.code).toBe(2);
    const badCommand = await runCli(['frobnicate']);
    expect(badCommand.code).toBe(2);
    const badServer = await cliDevice().run('register', '--server', 'not a url');
    expect(badServer.code).toBe(2);
    const unreachable = await cliDevice().run('--json', 'register', '--server', 'http://127.0.0.1:9', '--username', uniqueName('x'));
    expect(unreachable.code).toBe(1);
    expect(JSON.parse(unreachable.stdout.trim()).error.code).toBe('SERVER_UNREACHABLE');
    const taken = await cliDevice().run('--json', 'register', '--server', server.url, '--username', alice.name);
    expect(JSON.parse(taken.stdout.trim()).error.code).toBe('USERNAME_TAKEN');
    const help = await runCli(['send', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--attach/);
  });

  it('sends sealed and says so; `privacy` chooses who may send sealed and whether to fall back to identified', async () => {
    const alice = await register('alice');
    const bob = await register('bob');
    const sealed = await alice.ok('send', bob.name, secretText('sealed by default'));
    expect(sealed).toMatchObject({ status: 'sent', sealed: true });
    expect((await messages(bob)).map((m) => m.sealed)).toEqual([true]);
    expect(await bob.ok('privacy')).toEqual({ sealedFrom: 'anyone', identifiedFallback: true, deliveryReceipts: true });

    // Only contacts: carol, a stranger, has no profile key of bob's and goes identified — which the output says.
    expect(await bob.ok('privacy', '--sealed-from', 'contacts', '--delivery-receipts', 'off')).toEqual({ sealedFrom: 'contacts', identifiedFallback: true, deliveryReceipts: false });
    const carol = await register('carol');
    const identified = await carol.run('send', bob.name, secretText('identified'));
    expect(identified.code, identified.stderr).toBe(0);
    expect(identified.stdout).toMatch(/^Sent identified \(the server saw who sent it\)/);
    const shown = await bob.run('receive', '--timeout', '0');
    expect(shown.stdout).toMatch(/: identified .*\(identified\)$/m);

    // With the fallback off the message is not sent at all, with a stable code.
    expect(await carol.ok('privacy', '--identified-fallback', 'off')).toEqual({ sealedFrom: 'anyone', identifiedFallback: false, deliveryReceipts: true });
    const refused = await carol.run('--json', 'send', bob.name, secretText('not sent'));
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout.trim()).error.code).toBe('SEALED_SENDER_UNAVAILABLE');
    for (const bad of [['--sealed-from', 'everyone'], ['--delivery-receipts', 'maybe']]) expect((await carol.run('privacy', ...bad)).code).toBe(2);
  });

  it('`profile set` stores an encrypted profile that contacts see in `contacts` and `receive`; bad input is refused', async () => {
    const alice = await register('alice');
    const bob = await register('bob');
    const dir = mkdtempSync(join(tmpdir(), 'samizdat-avatar-'));
    try {
      const picture = join(dir, 'me.png');
      writeFileSync(picture, Buffer.alloc(2000, 9));
      const set = await alice.ok('profile', 'set', '--name', 'Alice Liddell', '--about', 'down the rabbit hole', '--avatar', picture);
      expect(set).toMatchObject({ name: 'Alice Liddell', about: 'down the rabbit hole', avatar: { bytes: 2000 } });
      expect(await alice.ok('profile')).toEqual(set);
      const shown = await alice.run('profile');
      expect(shown.stdout).toMatch(/^Name: Alice Liddell$/m);

      await alice.ok('send', bob.name, secretText('hello'));
      await messages(bob);
      const contacts = (await bob.ok('contacts')).contacts as { username?: string; name?: string; about?: string }[];
      expect(contacts.find((c) => c.username === alice.name)).toMatchObject({ name: 'Alice Liddell', about: 'down the rabbit hole' });
      await alice.ok('send', bob.name, secretText('again'));
      expect((await messages(bob)).map((m) => m.fromName)).toEqual(['Alice Liddell']);
      await alice.ok('send', bob.name, 'in text');
      expect((await bob.run('receive', '--timeout', '0')).stdout).toMatch(new RegExp(`${alice.name} \\(Alice Liddell\\): in text`));

      expect((await alice.run('profile', 'set')).code).toBe(2);
      const long = await alice.run('--json', 'profile', 'set', '--name', 'x'.repeat(101));
      expect([long.code, JSON.parse(long.stdout.trim()).error.code]).toEqual([2, 'INVALID_ARGUMENT']);
      const missing = await alice.run('--json', 'profile', 'set', '--avatar', join(dir, 'none.png'));
      expect([missing.code, JSON.parse(missing.stdout.trim()).error.code]).toEqual([1, 'FILE_NOT_FOUND']);
      expect(await alice.ok('profile', 'set', '--no-avatar', '--about', '')).toEqual({ name: 'Alice Liddell', about: null, avatar: null });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('serves JSON-RPC 2.0 for bots', async () => {
    const alice = await register('alice');
    const bot = await register('bot');
    const daemon = bot.spawn('daemon', '--json-rpc');
    try {
      const text = secretText('hi bot');
      await alice.ok('send', bot.name, text);
      const note = await daemon.line(/"method":"receive"/);
      expect(JSON.parse(note).params).toMatchObject({ type: 'message', from: alice.name, body: text });
      const reply = secretText('hello from a bot');
      daemon.child.stdin?.write(`${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'send', params: { to: alice.name, text: reply } })}\n`);
      const response = JSON.parse(await daemon.line(/"id":1/)) as { result: { status: string } };
      expect(response.result.status).toBe('sent');
      daemon.child.stdin?.write('not json\n');
      expect(JSON.parse(await daemon.line(/-32700/)).error.code).toBe(-32700);
      daemon.child.stdin?.write(`${JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'nope' })}\n`);
      expect(JSON.parse(await daemon.line(/"id":2/)).error.code).toBe(-32601);
      daemon.child.stdin?.write(`${JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'send', params: { to: 'no_such_user_zz', text: 'x' } })}\n`);
      expect(JSON.parse(await daemon.line(/"id":3/)).error.data.code).toBe('UNKNOWN_USER');
      // The daemon holds the profile: another command on it waits, then says so (here it would wait 10 s; skip).
      expect((await messages(alice)).map((m) => m.body)).toEqual([reply]);
    } finally {
      daemon.child.kill('SIGTERM');
      await daemon.exited;
    }
  });

  it('chats interactively: history, live messages both ways, read receipts', async () => {
    const alice = await register('alice');
    const bob = await register('bob');
    const early = secretText('before the chat');
    await bob.ok('send', alice.name, early);
    const chat = alice.spawn('chat', bob.name);
    try {
      await chat.line(new RegExp(early.split(' ')[2] as string)); // The waiting message shows on opening.
      const mine = secretText('typed in the chat');
      chat.child.stdin?.write(`${mine}\n`);
      await chat.line(new RegExp(`me: ${mine}`));
      expect((await messages(bob)).map((m) => m.body)).toContain(mine);
      const live = secretText('live reply');
      await bob.ok('send', alice.name, live);
      await chat.line(new RegExp(live));
      // What the chat showed was read: Bob's copy of his first message turns "read".
      const updates = (await bob.json('receive', '--timeout', '1')).filter((l) => l.type === 'update');
      expect(updates.some((u) => u.status === 'read')).toBe(true);
      chat.child.stdin?.write('/quit\n');
      const done = await chat.exited;
      expect(done.code, done.stderr).toBe(0);
    } finally {
      chat.child.kill('SIGKILL');
    }
  });

  it('serves JSON-RPC on its Unix socket and keeps other commands off the profile while it runs', async () => {
    const alice = await register('alice');
    const bot = await register('bot');
    // They have written to each other: typing goes only between people who talk (not to or from message requests).
    await alice.ok('send', bot.name, secretText('hi bot'));
    await bot.ok('send', alice.name, secretText('hi alice'));
    const socketPath = join(bot.home, 'rpc.sock');
    const daemon = bot.spawn('daemon', '--json-rpc', '--socket', socketPath, '--no-stdio');
    try {
      await waitForFile(socketPath);
      const conn = connect(socketPath);
      let received = '';
      conn.setEncoding('utf8').on('data', (d: string) => (received += d));
      conn.write(`${JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'whoami' })}\n`);
      conn.write(`${JSON.stringify({ jsonrpc: '2.0', id: 8, method: 'sendTyping', params: { to: alice.name, action: 'started' } })}\n`);
      await until(() => received.includes('"id":7') && received.includes('"id":8'));
      const lines = received.trim().split('\n').map((l) => JSON.parse(l) as { id: number; result: Record<string, unknown> });
      expect(lines.find((l) => l.id === 7)?.result.username).toBe(bot.name);
      const text = secretText('to the socket');
      await alice.ok('send', bot.name, text);
      await until(() => received.includes(text));
      conn.end();
      // The profile is in use: another command on it fails clearly instead of advancing the same sessions.
      const busy = await runCli(['--home', bot.home, '--json', 'send', alice.name, 'x'], 30_000, { SAMIZDAT_LOCK_TIMEOUT: '1' });
      expect(busy.code).toBe(1);
      expect(JSON.parse(busy.stdout.trim()).error.code).toBe('PROFILE_IN_USE');
      expect((await alice.json('receive', '--timeout', '0')).some((l) => l.type === 'typing' && l.action === 'started')).toBe(true);
    } finally {
      daemon.child.kill('SIGTERM');
      await daemon.exited;
    }
  });

  it('reaches the server through a SOCKS5 and an HTTP CONNECT proxy', async () => {
    const socks = await startSocksProxy();
    const http = await startHttpConnectProxy();
    try {
      const alice = cliDevice();
      const aliceName = uniqueName('alice');
      await alice.ok('--proxy', socks.url, 'register', '--server', server.url, '--username', aliceName);
      const bob = await register('bob');
      const text = secretText('through a proxy');
      const sent = await runCli(['--home', alice.home, '--json', 'send', bob.name, text], 60_000, { SAMIZDAT_PROXY: http.url });
      expect(sent.code, sent.stderr).toBe(0);
      expect(socks.tunnels).toBeGreaterThan(0);
      expect(http.tunnels).toBeGreaterThan(0);
      const tunnelsBefore = socks.tunnels;
      await alice.json('--proxy', socks.url, 'receive', '--timeout', '0'); // The WebSocket goes through it too.
      expect(socks.tunnels).toBeGreaterThan(tunnelsBefore);
      expect((await messages(bob)).map((m) => m.body)).toEqual([text]);
      const dead = await alice.run('--json', '--proxy', 'socks5://127.0.0.1:9', 'send', bob.name, 'x');
      expect(JSON.parse(dead.stdout.trim()).error.code).toBe('SERVER_UNREACHABLE');
    } finally {
      await socks.close();
      await http.close();
    }
  });

  it('holds a stranger\'s first message as a request; accept, delete, block and unblock, synced to the other device', async () => {
    const alice = await register('alice');
    const bob = await register('bob');
    const bobLaptop = await link(bob);
    const eve = await register('eve');
    const hi = secretText('hi from a stranger');
    await alice.ok('send', bob.name, hi);
    expect((await messages(bob)).map((m) => [m.from, m.body, m.request])).toEqual([[alice.name, hi, true]]);
    expect((await bob.json('requests')).map((r) => [r.type, r.conversation])).toEqual([['request', alice.name]]);
    expect(await bob.ok('requests', 'accept', alice.name)).toEqual({ type: 'request-accepted', conversation: alice.name });
    expect(await bob.json('requests')).toEqual([]);
    const next = secretText('now we talk');
    await alice.ok('send', bob.name, next);
    expect((await messages(bob)).map((m) => [m.body, m.request])).toEqual([[next, undefined]]);
    // The laptop got both, and the accept.
    expect((await messages(bobLaptop)).map((m) => m.body)).toEqual([hi, next]);
    expect(await bobLaptop.json('requests')).toEqual([]);

    const spam = secretText('spam');
    await eve.ok('send', bob.name, spam);
    expect((await bob.json('requests')).map((r) => r.conversation)).toEqual([eve.name]);
    await bob.ok('requests', 'delete', eve.name);
    expect(await bob.json('requests')).toEqual([]);
    expect(await historyBodies(bob, eve.name)).toEqual([]);
    await bob.ok('block', eve.name);
    expect((await bob.ok('blocked')).blocked).toEqual([{ name: eve.name, accountId: expect.any(String) }]);
    const dropped = secretText('still spamming');
    await eve.ok('send', bob.name, dropped);
    expect((await messages(bob)).map((m) => m.body)).not.toContain(dropped);
    expect((await messages(bobLaptop)).map((m) => m.body)).not.toContain(dropped);
    const refused = await runCli(['--home', bob.home, '--json', 'send', eve.name, 'x']);
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout.trim()).error.code).toBe('BLOCKED');
    await bobLaptop.ok('unblock', eve.name);
    expect((await bob.ok('blocked')).blocked).toEqual([]);
    const after = secretText('sorry');
    await eve.ok('send', bob.name, after);
    expect((await messages(bob)).map((m) => [m.body, m.request])).toEqual([[after, true]]);
  });

  it('runs a three-person group chat: create, talk, add, remove', async () => {
    const alice = await register('alice');
    const bob = await register('bob');
    const carol = await register('carol');
    const dave = await register('dave');
    // Registering published each device's MLS key packages: they can be added at once.
    const groupName = uniqueName('club');
    const created = await alice.ok('groups', 'create', groupName, bob.name, carol.name);
    expect(created.name).toBe(groupName);
    expect((created.members as unknown[]).length).toBe(3);
    const hello = secretText('hello group');
    await alice.ok('send', '--group', groupName, hello);
    for (const d of [bob, carol]) {
      const got = await messages(d);
      expect(got.map((m) => [m.group, m.from, m.body])).toEqual([[groupName, alice.name, hello]]);
    }
    const reply = secretText('hi from bob');
    await bob.ok('send', '--group', groupName, reply);
    expect((await messages(alice)).map((m) => [m.group, m.from, m.body])).toEqual([[groupName, bob.name, reply]]);

    await alice.ok('groups', 'add', groupName, dave.name);
    await alice.ok('groups', 'remove', groupName, carol.name);
    const later = secretText('after the changes');
    await alice.ok('send', '--group', groupName, later);
    expect((await messages(dave)).map((m) => m.body)).toEqual([later]);
    const carolSees = await messages(carol);
    expect(carolSees.map((m) => m.body)).not.toContain(later);
    const list = await carol.json('groups', 'list');
    expect(list.find((g) => g.name === groupName)?.active).toBe(false);
    expect((await bob.json('groups', 'list')).find((g) => g.name === groupName)?.members).toHaveLength(3);
    expect((await messages(bob)).map((m) => m.body)).toContain(later);
  });

  it('leaves no text, file content or username readable by the operator', async () => {
    await stopServer();
    await startServer();
    const haystack: Buffer[] = [...serverLogs.map((l) => Buffer.from(l)), Buffer.from(server.stdout()), Buffer.from(server.stderr())];
    for (const f of files(dataDir)) haystack.push(readFileSync(f));
    expect(secrets.length).toBeGreaterThan(10);
    for (const secret of secrets) {
      for (const hay of haystack) {
        expect(hay.includes(Buffer.from(secret)), `"${secret}" found on the server`).toBe(false);
        expect(hay.includes(Buffer.from(secret.toLowerCase())), `"${secret}" found on the server`).toBe(false);
      }
    }
  });
});
