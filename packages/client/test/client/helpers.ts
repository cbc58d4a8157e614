/**
 * Clients for SDK tests: real SQLite files in temporary directories, the real transport against a real server
 * (packages/server's test helper) on 127.0.0.1, the node:crypto provider.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EnvelopeType, decodeEnvelope, inspectMessage } from '@samizdat/protocol';
import { nodeMlsCryptoProvider } from '@samizdat/protocol/groups-node';
import { NodeCryptoProvider } from '@samizdat/protocol/node';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { startServer } from '../../../server/test/helpers/server.js';
import type { TestServer } from '../../../server/test/helpers/server.js';
import { Client } from '../../src/client.js';
import type { ClientEvents } from '../../src/client.js';
import { SqliteClientStore } from '../../src/storage/sqlite/sqlite-store.js';
import type { Connector, WebSocketLike } from '../../src/transport/connector.js';
import { nodeConnector } from '../../src/transport/node-connector.js';

export const crypto = new NodeCryptoProvider();
/**
 * Groups run on the node:crypto MLS provider, as the CLI does. Delivery receipts go at once (tests of other features
 * wait for them); test/client/delivery-receipts.test.ts runs them with their delay.
 */
const mls = { mlsCryptoProvider: nodeMlsCryptoProvider, receiptDelay: { minMs: 0, maxMs: 0 } };

export interface TestClient {
  readonly client: Client;
  readonly dir: string;
  /** Every event the client emitted, by name. */
  readonly events: { [K in keyof ClientEvents]: ClientEvents[K][] };
}

const dirs: string[] = [];

/** What an intercepted connector may do with a frame on its way: return false to lose it. */
export interface Interceptor {
  fetch?(url: string, init: Parameters<Connector['fetch']>[1]): void;
  /** A frame this device sends. */
  send?(data: Uint8Array): boolean;
  /** A frame the server sends; `ws` is the real socket (to close it, say). Bytes returned replace the frame. */
  receive?(data: Uint8Array | string, ws: WebSocketLike): boolean | Uint8Array;
}

/** The real node connector with frames watched, or lost on the way, in either direction (lost acks, lost answers). */
export function interceptedConnector(hooks: Interceptor): Connector {
  const base = nodeConnector();
  return {
    canSetWebSocketHeaders: base.canSetWebSocketHeaders,
    fetch(url, init) {
      hooks.fetch?.(url, init);
      return base.fetch(url, init);
    },
    openWebSocket(url, headers) {
      const ws = base.openWebSocket(url, headers);
      let onmessage: WebSocketLike['onmessage'] = null;
      ws.onmessage = (data) => {
        const verdict = hooks.receive ? hooks.receive(data, ws) : true;
        if (verdict === false) return;
        onmessage?.(verdict === true ? data : verdict);
      };
      return {
        send: (data) => {
          if (hooks.send && !hooks.send(data)) return;
          ws.send(data);
        },
        close: (code, reason) => ws.close(code, reason),
        get onopen() {
          return ws.onopen;
        },
        set onopen(fn) {
          ws.onopen = fn;
        },
        get onmessage() {
          return onmessage;
        },
        set onmessage(fn) {
          onmessage = fn;
        },
        get onclose() {
          return ws.onclose;
        },
        set onclose(fn) {
          ws.onclose = fn;
        },
      };
    },
  };
}

export function profileDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'samizdat-client-'));
  dirs.push(dir);
  return dir;
}

export function removeProfiles(): void {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

function record(client: Client): TestClient['events'] {
  const events = {
    message: [],
    'message-updated': [],
    'message-expired': [],
    typing: [],
    'identity-changed': [],
    undecryptable: [],
    'sealed-rejected': [],
    connection: [],
    'queue-empty': [],
    'conversation-changed': [],
    'group-changed': [],
    'contact-changed': [],
  } as TestClient['events'];
  for (const name of Object.keys(events) as (keyof ClientEvents)[]) {
    client.on(name, (...args: unknown[]) => (events[name] as unknown[][]).push(args));
  }
  return events;
}

export async function registerClient(serverUrl: string, username?: string, connector: Connector = nodeConnector()): Promise<TestClient> {
  const dir = profileDir();
  const store = SqliteClientStore.open(join(dir, 'samizdat.db'));
  const client = await Client.register({ store, crypto, connector, serverUrl, ...mls, ...(username !== undefined ? { username } : {}) });
  return { client, dir, events: record(client) };
}

/** Links a new device to `existing`'s account through the real provisioning flow. */
export async function linkClient(serverUrl: string, existing: Client, connector: Connector = nodeConnector()): Promise<TestClient> {
  const dir = profileDir();
  const store = SqliteClientStore.open(join(dir, 'samizdat.db'));
  let added: Promise<void> = Promise.resolve();
  const client = await Client.link({
    store,
    crypto,
    ...mls,
    connector,
    serverUrl,
    onCode: (code) => {
      added = existing.addDevice(code);
    },
  });
  await added;
  return { client, dir, events: record(client) };
}

/** Opens the profile in `dir` again (a restart). */
export async function reopen(dir: string, connector: Connector = nodeConnector()): Promise<TestClient> {
  const store = SqliteClientStore.open(join(dir, 'samizdat.db'));
  const client = await Client.open({ store, crypto, connector, ...mls });
  return { client, dir, events: record(client) };
}

/** Connects and waits until everything queued for the device has been processed. */
export async function sync(t: TestClient): Promise<void> {
  await t.client.start();
  await t.client.whenQueueEmpty();
}

/** Polls `check` until it is truthy (or fails the test after `timeoutMs`). */
export async function waitFor<T>(check: () => T | Promise<T>, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Bodies of the stored messages of a conversation, oldest first. */
export async function bodies(client: Client, conversation: string): Promise<string[]> {
  return (await client.history(conversation)).filter((m) => m.kind === 'message').map((m) => m.body ?? '');
}

/**
 * For a test file: a real server (started before its tests, closed after them), the clients each test opens
 * (`keep`: closed after the test, their profiles removed) and usernames that are unique on that server.
 */
export function useServer(): { server(): TestServer; keep<T extends TestClient>(t: T): T; uniqueName(base: string): string } {
  let server: TestServer | undefined;
  const open: TestClient[] = [];
  let counter = 0;
  beforeAll(async () => {
    server = await startServer({ logLevel: 'warn' });
  });
  afterAll(async () => {
    await server?.close();
  });
  afterEach(async () => {
    for (const t of open.splice(0)) await t.client.close().catch(() => undefined);
    removeProfiles();
  });
  return {
    server: () => {
      if (!server) throw new Error('the server has not started');
      return server;
    },
    keep: (t) => {
      open.push(t);
      return t;
    },
    uniqueName: (base) => `${base}${Date.now().toString(36)}${counter++}`,
  };
}

/**
 * A registered person whose client is started, has processed its queue and has published MLS key packages (so that
 * others can add it to groups at once), kept by `env` (closed after the test).
 */
export async function onlinePerson(env: ReturnType<typeof useServer>, base: string): Promise<TestClient & { username: string }> {
  const username = env.uniqueName(base);
  const t = env.keep(await registerClient(env.server().url, username));
  await t.client.start();
  await t.client.whenQueueEmpty();
  await t.client.groups.maintainKeyPackages();
  return { ...t, username };
}

/** Whether a stored envelope is a group application message or proposal (an MLS PrivateMessage), not a commit. */
export function isEncryptedGroupMessage(stored: Uint8Array): boolean {
  const envelope = decodeEnvelope(new Uint8Array(stored));
  if (envelope.type !== EnvelopeType.GroupMessage) return false;
  const info = inspectMessage(envelope.content);
  return 'encrypted' in info && info.encrypted;
}
