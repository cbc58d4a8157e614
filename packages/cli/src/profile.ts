/**
 * A profile: one device's directory (`--home`, SAMIZDAT_HOME, default ~/.samizdat) holding its SQLite database
 * (keys, sessions, history) and downloaded attachments. Only one process may use a profile at a time — two would
 * advance the same ratchet sessions independently — so a lock file guards it (the daemon holds it while it runs;
 * another command waits up to 10 s — SAMIZDAT_LOCK_TIMEOUT seconds — then says which process holds it).
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client, ClientError, ClientErrorCode } from '@samizdat/client';
import { SqliteClientStore, nodeConnector } from '@samizdat/client/node';
import type { ClientStore } from '@samizdat/client';
import { nodeMlsCryptoProvider } from '@samizdat/protocol/groups-node';
import { NodeCryptoProvider } from '@samizdat/protocol/node';
import { CliError } from './output.js';

export interface GlobalOptions {
  readonly home?: string;
  readonly json?: boolean;
  readonly proxy?: string;
}

/** How long a command waits for a profile another process holds (SAMIZDAT_LOCK_TIMEOUT seconds overrides it). */
function lockWaitMs(): number {
  const seconds = Number(process.env.SAMIZDAT_LOCK_TIMEOUT);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : 10_000;
}

export function homeOf(options: GlobalOptions): string {
  return resolve(options.home ?? process.env.SAMIZDAT_HOME ?? join(homedir(), '.samizdat'));
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the profile lock (waiting up to 10 s for another process); returns its release function. */
export async function lockProfile(home: string): Promise<() => void> {
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const file = join(home, 'lock');
  const deadline = Date.now() + lockWaitMs();
  for (;;) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        rmSync(file, { force: true });
      };
      process.once('exit', release);
      return release;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let holder = NaN;
    try {
      holder = Number(readFileSync(file, 'utf8'));
    } catch {
      continue; // Released meanwhile.
    }
    if (!Number.isInteger(holder) || holder <= 0 || !processAlive(holder)) {
      rmSync(file, { force: true }); // Left by a process that died.
      continue;
    }
    if (Date.now() > deadline) {
      throw new CliError('PROFILE_IN_USE', `this profile (${home}) is in use by process ${holder}; stop it or use the daemon`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface Profile {
  readonly home: string;
  readonly store: ClientStore;
  readonly crypto: NodeCryptoProvider;
  readonly connector: ReturnType<typeof nodeConnector>;
  /** Releases the lock and closes the store (once). */
  close(): Promise<void>;
}

/** Locks and opens a profile's store (creating the directory). */
export async function openProfile(options: GlobalOptions): Promise<Profile> {
  const home = homeOf(options);
  const release = await lockProfile(home);
  let store: ClientStore;
  try {
    store = SqliteClientStore.open(join(home, 'samizdat.db'));
  } catch (err) {
    release();
    throw err;
  }
  const proxy = options.proxy ?? process.env.SAMIZDAT_PROXY;
  let closed = false;
  return {
    home,
    store,
    crypto: new NodeCryptoProvider(),
    connector: nodeConnector(proxy ? { proxy } : {}),
    async close() {
      if (closed) return;
      closed = true;
      await store.close().catch(() => undefined);
      release();
    },
  };
}

/** Opens the profile's registered client (NOT_REGISTERED otherwise). The caller closes it, then the profile. */
export async function openClient(options: GlobalOptions): Promise<{ client: Client; profile: Profile }> {
  const profile = await openProfile(options);
  try {
    const client = await Client.open({ store: profile.store, crypto: profile.crypto, connector: profile.connector, mlsCryptoProvider: nodeMlsCryptoProvider });
    return { client, profile };
  } catch (err) {
    await profile.close();
    if (ClientError.is(err, ClientErrorCode.NotRegistered)) {
      throw new CliError('NOT_REGISTERED', `no account in ${profile.home}: run "samizdat register --server URL --username NAME" or "samizdat link" first`);
    }
    throw err;
  }
}
