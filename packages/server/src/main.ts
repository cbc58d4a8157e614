#!/usr/bin/env node
/**
 * samizdat-server: parses flags/env (config.ts), opens the store (SQLite in --data-dir by default, PostgreSQL with
 * --database-url), the blob folder and the bus (NATS with --nats-url), listens, and stops gracefully on SIGTERM/SIGINT.
 * A configuration error is one line on stderr and exit code 2.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { Command, CommanderError } from 'commander';
import { buildApp } from './app.js';
import type { Config, RawOptions } from './config.js';
import { ConfigError, resolveConfig } from './config.js';
import { LocalBlobStore } from './blobs/blob-store.js';
import type { MessageBus } from './bus/bus.js';
import { LocalBus } from './bus/bus.js';
import { NatsBus } from './bus/nats-bus.js';
import { openRepository } from './store/open-repository.js';
import { inProcessVerifier, registeredIdentity } from './ds/commit-verifier.js';
import { ThreadedVerifier } from './ds/threaded-verifier.js';
import { NodeCryptoProvider } from '@samizdat/protocol/node';
import type { KeyPair } from '@samizdat/protocol';

/**
 * The username-hash key: from SAMIZDAT_USERNAME_KEY (hex, shared by all nodes), else kept in --username-key-file
 * (default <data-dir>/username.key; keep it elsewhere, and a seized data directory alone allows no dictionary check).
 */
async function loadUsernameKey(config: Config): Promise<Uint8Array> {
  const fromEnv = process.env.SAMIZDAT_USERNAME_KEY;
  if (fromEnv) {
    if (!/^[0-9a-f]{64}$/i.test(fromEnv)) throw new ConfigError('SAMIZDAT_USERNAME_KEY must be 64 hex characters');
    return new Uint8Array(Buffer.from(fromEnv, 'hex'));
  }
  const file = config.usernameKeyFile;
  try {
    const key = await readFile(file);
    if (key.length !== 32) throw new ConfigError(`${file} is corrupt (expected 32 bytes)`);
    return new Uint8Array(key);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    const key = randomBytes(32);
    await writeFile(file, key, { mode: 0o600, flag: 'wx' });
    return new Uint8Array(key);
  }
}

/**
 * The sealed-sender trust root (Ed25519; routes/certificates.ts): from SAMIZDAT_TRUST_ROOT_KEY (128 hex characters:
 * seed || public key, shared by all nodes), else kept in --trust-root-key-file (default <data-dir>/trust-root.key,
 * 0600), made on first start. A file whose public key does not match its seed is refused rather than replaced:
 * clients pinned that root, and a new one would make every certificate fail.
 */
async function loadTrustRoot(config: Config, crypto: NodeCryptoProvider): Promise<KeyPair> {
  const check = async (bytes: Uint8Array, where: string): Promise<KeyPair> => {
    if (bytes.length !== 64) throw new ConfigError(`${where} is corrupt (expected 64 bytes)`);
    const pair = { privateKey: bytes.slice(0, 32), publicKey: bytes.slice(32) };
    const probe = new TextEncoder().encode('samizdat trust root check');
    if (!(await crypto.ed25519Verify(pair.publicKey, probe, await crypto.ed25519Sign(pair.privateKey, probe)))) {
      throw new ConfigError(`${where} is corrupt (its public key does not match its private key)`);
    }
    return pair;
  };
  const fromEnv = process.env.SAMIZDAT_TRUST_ROOT_KEY;
  if (fromEnv) {
    if (!/^[0-9a-f]{128}$/i.test(fromEnv)) throw new ConfigError('SAMIZDAT_TRUST_ROOT_KEY must be 128 hex characters');
    return check(new Uint8Array(Buffer.from(fromEnv, 'hex')), 'SAMIZDAT_TRUST_ROOT_KEY');
  }
  const file = config.trustRootKeyFile;
  try {
    return await check(new Uint8Array(await readFile(file)), file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    const pair = await crypto.ed25519GenerateKeyPair();
    await writeFile(file, Buffer.concat([pair.privateKey, pair.publicKey]), { mode: 0o600, flag: 'wx' });
    return pair;
  }
}

function parseArgs(argv: string[]): RawOptions {
  const program = new Command()
    .name('samizdat-server')
    .description('Samizdat delivery server: stores and relays only end-to-end encrypted envelopes')
    .option('--port <port>', 'port to listen on (SAMIZDAT_PORT, default 8080)')
    .option('--host <host>', 'address to listen on (SAMIZDAT_HOST, default 127.0.0.1)')
    .option('--data-dir <dir>', 'SQLite database and blob folder (SAMIZDAT_DATA_DIR, default ./data)')
    .option('--database-url <url>', 'use PostgreSQL instead of SQLite (SAMIZDAT_DATABASE_URL)')
    .option('--nats-url <url>', 'NATS for multi-node wake-ups (SAMIZDAT_NATS_URL)')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent (SAMIZDAT_LOG_LEVEL, default info)')
    .option('--metrics-token <token>', 'serve /metrics to requests with "Authorization: Bearer <token>" (SAMIZDAT_METRICS_TOKEN; without it /metrics is off)')
    .option('--username-key-file <file>', 'the username-hash key (SAMIZDAT_USERNAME_KEY_FILE, default <data-dir>/username.key)')
    .option('--trust-root-key-file <file>', 'the sealed-sender trust root (SAMIZDAT_TRUST_ROOT_KEY_FILE, default <data-dir>/trust-root.key)')
    .option('--max-connections-per-ip <n>', 'open connections per remote address (SAMIZDAT_MAX_CONNECTIONS_PER_IP, default 256)')
    .option('--ds-threads <n>', 'worker threads that verify MLS group commits, off the event loop (SAMIZDAT_DS_THREADS, default 1; 0: on it)')
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });
  program.parse(argv, { from: 'node' });
  return program.opts<RawOptions>();
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = resolveConfig(parseArgs(process.argv), process.env);
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
    if (err instanceof ConfigError) {
      process.stderr.write(`samizdat-server: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  let app: Awaited<ReturnType<typeof buildApp>>;
  try {
    // 0700: the database, its WAL, the blobs and username.key are the server's user's alone (docs/threat-model.md).
    await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
    const usernameKey = await loadUsernameKey(config);
    const trustRoot = await loadTrustRoot(config, new NodeCryptoProvider());
    const repo = await openRepository(config);
    const blobs = await LocalBlobStore.open(config.dataDir);
    const bus: MessageBus = config.natsUrl ? await NatsBus.connect(config.natsUrl) : new LocalBus();
    const local = inProcessVerifier(repo, new NodeCryptoProvider());
    const verifier =
      config.dsThreads > 0
        ? new ThreadedVerifier({ threads: config.dsThreads, maxQueued: 8 * config.dsThreads, isRegistered: registeredIdentity(repo), addsOf: (c) => local.addsOf(c) })
        : local;
    app = await buildApp({ config, repo, blobs, bus, usernameKey, verifier, trustRoot });
    await app.fastify.listen({ port: config.port, host: config.host });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`samizdat-server: cannot start: ${message}\n`);
    process.exit(err instanceof ConfigError ? 2 : 1);
  }
  const address = app.fastify.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  process.stdout.write(`Samizdat listening on http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}/\n`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.fastify.log.info({ signal }, 'shutting down');
    app.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

await main();
