/**
 * A real server for tests: `buildApp` on a temporary data directory, listening on 127.0.0.1 (a random port), with the
 * real SQLite store (or PostgreSQL in a per-test schema), the real blob store and LocalBus (or NATS). Plus helpers
 * that create accounts and devices through the HTTP API with real keys from @samizdat/protocol and send envelopes.
 *
 *   const server = await startServer();
 *   const alice = await registerDevice(server);
 *   const bob = await registerDevice(server);
 *   await sendMessage(server, alice, [bob]);                 // one envelope for each of Bob's devices
 *   const res = await api(server, 'GET', '/v1/messages', { auth: bob });
 *   await server.close();                                    // closes the app and deletes the data directory
 *
 * `server.logs` holds every log line the server wrote (JSON, one per entry), so tests can check what logs contain.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Writable } from 'node:stream';
import postgres from 'postgres';
import {
  EnvelopeType,
  encodeEnvelope,
  encodeIdentityKey,
  generateIdentityKeyPair,
  generateKyberPreKey,
  generateOneTimePreKeys,
  generateSignedPreKey,
} from '@samizdat/protocol';
import type { IdentityKeyPair } from '@samizdat/protocol';
import { NodeCryptoProvider } from '@samizdat/protocol/node';
import { buildApp } from '../../src/app.js';
import type { App } from '../../src/app.js';
import { LocalBlobStore } from '../../src/blobs/blob-store.js';
import { LocalBus } from '../../src/bus/bus.js';
import type { MessageBus } from '../../src/bus/bus.js';
import { NatsBus } from '../../src/bus/nats-bus.js';
import { DEFAULT_LIMITS } from '../../src/config.js';
import type { Config, Limits, LogLevel } from '../../src/config.js';
import { openRepository } from '../../src/store/open-repository.js';
import { PostgresRepository } from '../../src/store/postgres/postgres-repository.js';
import type { Repository } from '../../src/store/repository.js';
import type { WebSocketOptions } from '../../src/websocket/upgrade-handler.js';
import { inProcessVerifier, registeredIdentity } from '../../src/ds/commit-verifier.js';
import type { CommitVerifier } from '../../src/ds/commit-verifier.js';
import { ThreadedVerifier } from '../../src/ds/threaded-verifier.js';
import { REPO_ROOT, buildServer } from './child-server.js';

/** The databases and brokers the integration tests expect on this machine. */
export const TEST_POSTGRES_URL = process.env.SAMIZDAT_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const TEST_NATS_URL = process.env.SAMIZDAT_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';

export const crypto = new NodeCryptoProvider();

/** The /metrics bearer token of every test server (unless a test starts one with `metricsToken: undefined`). */
export const TEST_METRICS_TOKEN = 'test-metrics-token-0123456789';
/** Headers that let a request read /metrics of a test server. */
export const METRICS_AUTH: Readonly<Record<string, string>> = { authorization: `Bearer ${TEST_METRICS_TOKEN}` };

export interface StartServerOptions {
  /** postgres://… to use PostgreSQL instead of the SQLite file in the data directory. */
  readonly databaseUrl?: string;
  /**
   * PostgreSQL schema. Omitted: a fresh schema is created and dropped by close(). Given: the caller owns it (create
   * it with newPostgresSchema) — the way two servers share one database.
   */
  readonly postgresSchema?: string;
  /** nats://… to use NatsBus instead of LocalBus. */
  readonly natsUrl?: string;
  /** NATS subject prefix; servers that must talk to each other share one. Default: a fresh one per server. */
  readonly natsSubjectPrefix?: string;
  /** Overrides of DEFAULT_LIMITS. */
  readonly limits?: Partial<Limits>;
  readonly websocket?: WebSocketOptions;
  /** Servers sharing a database must share the username key. Default: random. */
  readonly usernameKey?: Uint8Array;
  /** Default "debug", so that tests see (and can check) as much of what the server logs as possible. */
  readonly logLevel?: LogLevel;
  readonly now?: () => number;
  /** Default TEST_METRICS_TOKEN; `undefined` starts a server whose /metrics is off. */
  readonly metricsToken?: string | undefined;
  /**
   * Worker threads that verify MLS commits, as the real server runs them (`--ds-threads`; they load the compiled
   * worker, so dist/ is brought up to date first). Default 0: verified on the event loop.
   */
  readonly dsThreads?: number;
}

export interface TestServer {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** ws://127.0.0.1:<port> */
  readonly wsUrl: string;
  readonly app: App;
  readonly dataDir: string;
  /** Every log line written so far (raw JSON text). */
  readonly logs: string[];
  /** Closes the app (sockets, HTTP, bus, store) and removes the data directory and any schema it created. */
  /** Stops the server and leaves its data directory in place (to examine it, as one who seized it would). */
  stop(): Promise<void>;
  close(): Promise<void>;
}

/** A fresh, unique PostgreSQL schema name and a function that drops it with everything in it. */
export function newPostgresSchema(databaseUrl = TEST_POSTGRES_URL): { readonly name: string; drop(): Promise<void> } {
  const name = `test_${randomBytes(6).toString('hex')}`;
  return {
    name,
    async drop() {
      const sql = postgres(databaseUrl, { max: 1, onnotice: () => undefined });
      try {
        await sql.unsafe(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
      } finally {
        await sql.end({ timeout: 1 });
      }
    },
  };
}

/** The compiled Delivery Service worker (buildServer brings it up to date). */
export const DS_WORKER = pathToFileURL(join(REPO_ROOT, 'packages/server/dist/ds/ds-worker.js'));

export async function startServer(options: StartServerOptions = {}): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'samizdat-server-'));
  const logs: string[] = [];
  const logStream = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) logs.push(line);
      done();
    },
  });
  const config: Config = {
    port: 0,
    host: '127.0.0.1',
    dataDir,
    databaseUrl: options.databaseUrl,
    natsUrl: options.natsUrl,
    logLevel: options.logLevel ?? 'debug',
    limits: { ...DEFAULT_LIMITS, ...options.limits },
    metricsToken: 'metricsToken' in options ? options.metricsToken : TEST_METRICS_TOKEN,
    usernameKeyFile: join(dataDir, 'username.key'),
    trustRootKeyFile: join(dataDir, 'trust-root.key'),
    dsThreads: options.dsThreads ?? 0,
  };
  const ownSchema = options.databaseUrl !== undefined && options.postgresSchema === undefined ? newPostgresSchema(options.databaseUrl) : undefined;
  const cleanUps: (() => Promise<void>)[] = [async () => rmSync(dataDir, { recursive: true, force: true })];
  if (ownSchema) cleanUps.push(() => ownSchema.drop());
  const cleanUp = async () => {
    for (const step of cleanUps) await step();
  };

  let repo: Repository | undefined;
  let bus: MessageBus | undefined;
  try {
    if (options.databaseUrl === undefined) {
      repo = await openRepository({ dataDir });
    } else {
      const schema = options.postgresSchema ?? ownSchema?.name;
      const pg = await PostgresRepository.connect(options.databaseUrl, schema === undefined ? {} : { schema });
      await pg.migrate();
      repo = pg;
    }
    const blobs = await LocalBlobStore.open(dataDir);
    bus = options.natsUrl
      ? await NatsBus.connect(options.natsUrl, { subjectPrefix: options.natsSubjectPrefix ?? `test.${randomBytes(6).toString('hex')}` })
      : new LocalBus();
    let verifier: CommitVerifier | undefined;
    if (config.dsThreads > 0) {
      await buildServer();
      const local = inProcessVerifier(repo, new NodeCryptoProvider());
      verifier = new ThreadedVerifier({
        threads: config.dsThreads,
        maxQueued: 8 * config.dsThreads,
        isRegistered: registeredIdentity(repo),
        addsOf: (c) => local.addsOf(c),
        workerUrl: DS_WORKER,
      });
    }
    const app = await buildApp({
      ...(verifier ? { verifier } : {}),
      config,
      repo,
      blobs,
      bus,
      usernameKey: options.usernameKey ?? new Uint8Array(randomBytes(32)),
      logStream,
      ...(options.now ? { now: options.now } : {}),
      ...(options.websocket ? { websocket: options.websocket } : {}),
    });
    await app.fastify.listen({ port: 0, host: '127.0.0.1' });
    const address = app.fastify.server.address();
    if (typeof address !== 'object' || address === null) throw new Error('server has no TCP address');
    let stopped: Promise<void> | undefined;
    let closed: Promise<void> | undefined;
    return {
      url: `http://127.0.0.1:${address.port}`,
      wsUrl: `ws://127.0.0.1:${address.port}`,
      app,
      dataDir,
      logs,
      stop() {
        stopped ??= app.close();
        return stopped;
      },
      close() {
        closed ??= (stopped ??= app.close()).finally(cleanUp);
        return closed;
      },
    };
  } catch (err) {
    await bus?.close();
    await repo?.close();
    await cleanUp();
    throw err;
  }
}

// ---- HTTP ----

export interface ApiResponse<T = unknown> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T;
}

/** Credentials of a test device, as the `auth` option of api() takes them. */
export interface Credentialed {
  readonly accountId: string;
  readonly deviceId: number;
  readonly password: string;
}

/** `accountId.deviceId:secret`, the login of Basic auth and of the WebSocket AUTH frame. */
export function loginOf(device: Credentialed): string {
  return `${device.accountId}.${device.deviceId}:${device.password}`;
}

/** The `Authorization` header value for a device. */
export function basicAuth(device: Credentialed): string {
  return `Basic ${Buffer.from(loginOf(device)).toString('base64')}`;
}

/** One HTTP request with a JSON body (if any); the response body is parsed as JSON when it is JSON. */
export async function api<T = any>( // eslint-disable-line @typescript-eslint/no-explicit-any -- tests read fields freely
  server: Pick<TestServer, 'url'>,
  method: string,
  path: string,
  options: { auth?: Credentialed; body?: unknown; headers?: Record<string, string> } = {},
): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.auth) headers.authorization = basicAuth(options.auth);
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(server.url + path, {
    method,
    headers,
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
  });
  const text = await response.text();
  const isJson = (response.headers.get('content-type') ?? '').includes('application/json');
  return { status: response.status, headers: response.headers, body: (isJson && text ? JSON.parse(text) : text) as T };
}

/** Like api() but fails the test unless the status is 2xx. */
export async function apiOk<T = any>( // eslint-disable-line @typescript-eslint/no-explicit-any -- as api()
  server: Pick<TestServer, 'url'>,
  method: string,
  path: string,
  options: { auth?: Credentialed; body?: unknown; headers?: Record<string, string> } = {},
): Promise<T> {
  const res = await api<T>(server, method, path, options);
  if (res.status < 200 || res.status > 299) throw new Error(`${method} ${path} → ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

// ---- accounts and devices ----

export interface TestDevice extends Credentialed {
  readonly registrationId: number;
  /** The account's identity key pair (shared by all devices of the account). */
  readonly identity: IdentityKeyPair;
}

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

/** The JSON key upload of a new device (DeviceKeys in src/schemas.ts), with real keys signed by `identity`. */
export async function deviceKeys(
  identity: IdentityKeyPair,
  options: { oneTimePreKeys?: number; kyberPreKeys?: number } = {},
): Promise<{ registrationId: number; password: string; [field: string]: unknown }> {
  const now = Date.now();
  const signed = await generateSignedPreKey(crypto, identity, 1, now);
  const lastResort = await generateKyberPreKey(crypto, identity, 1, true, now);
  const oneTime = await generateOneTimePreKeys(crypto, 100, options.oneTimePreKeys ?? 2);
  const kyber = await Promise.all(
    Array.from({ length: options.kyberPreKeys ?? 1 }, (_, i) => generateKyberPreKey(crypto, identity, 100 + i, false, now)),
  );
  return {
    registrationId: 1 + randomBytes(4).readUInt32BE(0) % 0x7ffffffe,
    password: randomBytes(24).toString('base64url'),
    signedPreKey: { keyId: signed.id, publicKey: b64(signed.keyPair.publicKey), signature: b64(signed.signature) },
    kyberLastResortPreKey: { keyId: lastResort.id, publicKey: b64(lastResort.keyPair.publicKey), signature: b64(lastResort.signature) },
    oneTimePreKeys: oneTime.map((k) => ({ keyId: k.id, publicKey: b64(k.keyPair.publicKey) })),
    kyberPreKeys: kyber.map((k) => ({ keyId: k.id, publicKey: b64(k.keyPair.publicKey), signature: b64(k.signature) })),
  };
}

/** Creates an account and its first device through POST /v1/accounts. */
export async function registerDevice(
  server: Pick<TestServer, 'url'>,
  options: { username?: string; oneTimePreKeys?: number; kyberPreKeys?: number } = {},
): Promise<TestDevice> {
  const identity = await generateIdentityKeyPair(crypto);
  const keys = await deviceKeys(identity, options);
  const body = {
    identityKey: b64(encodeIdentityKey(identity.publicKey)),
    ...(options.username !== undefined ? { username: options.username } : {}),
    device: keys,
  };
  const res = await apiOk<{ accountId: string; deviceId: number }>(server, 'POST', '/v1/accounts', { body });
  return { accountId: res.accountId, deviceId: res.deviceId, registrationId: keys.registrationId, password: keys.password, identity };
}

/** Adds a device to `existing`'s account: a link code from the existing device, then POST /v1/devices/link. */
export async function linkDevice(
  server: Pick<TestServer, 'url'>,
  existing: TestDevice,
  options: { oneTimePreKeys?: number; kyberPreKeys?: number } = {},
): Promise<TestDevice> {
  const { code } = await apiOk<{ code: string }>(server, 'POST', '/v1/devices/link-code', { auth: existing });
  const keys = await deviceKeys(existing.identity, options);
  const res = await apiOk<{ accountId: string; deviceId: number }>(server, 'POST', '/v1/devices/link', { body: { code, ...keys } });
  return { accountId: res.accountId, deviceId: res.deviceId, registrationId: keys.registrationId, password: keys.password, identity: existing.identity };
}

// ---- messages ----

/** An encoded envelope (opaque to the server) whose content is `content` (default: 32 random bytes). */
export function testEnvelope(content: Uint8Array = new Uint8Array(randomBytes(32))): Uint8Array {
  return encodeEnvelope({ type: EnvelopeType.Message, timestamp: Date.now(), content });
}

/**
 * Sends one message from `sender` to the account of `recipients` (all its current devices other than the sender:
 * the caller lists them), one envelope per device. Returns the server ids in the order of `recipients`.
 */
export async function sendMessage(
  server: Pick<TestServer, 'url'>,
  sender: TestDevice,
  recipients: readonly Pick<TestDevice, 'accountId' | 'deviceId' | 'registrationId'>[],
  envelope: (recipient: Pick<TestDevice, 'deviceId'>) => Uint8Array = () => testEnvelope(),
): Promise<bigint[]> {
  const accountId = recipients[0]?.accountId;
  if (accountId === undefined || recipients.some((r) => r.accountId !== accountId)) throw new Error('recipients of one account');
  const body = {
    messages: recipients.map((r) => ({ deviceId: r.deviceId, registrationId: r.registrationId, envelope: b64(envelope(r)) })),
  };
  const res = await apiOk<{ ids: string[] }>(server, 'PUT', `/v1/messages/${accountId}`, { auth: sender, body });
  return res.ids.map((id) => BigInt(id));
}

/** The ids of `device`'s queue as GET /v1/messages reports them (first page). */
export async function queuedIds(server: Pick<TestServer, 'url'>, device: Credentialed): Promise<bigint[]> {
  const res = await apiOk<{ messages: { id: string }[] }>(server, 'GET', '/v1/messages', { auth: device });
  return res.messages.map((m) => BigInt(m.id));
}

/** Retries `check` until it passes or `timeoutMs` elapses (for effects that happen after a frame is sent). */
export async function expectEventually(check: () => Promise<void>, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}
