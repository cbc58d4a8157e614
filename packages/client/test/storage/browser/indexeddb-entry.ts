/**
 * The page side of indexeddb-store.test.ts: bundled into one IIFE and loaded in Chromium, it runs the shared
 * ClientStore conformance cases and the IndexedDB-specific ones against IndexedDbClientStore, with WebCrypto, and
 * answers `window.samizdatConformance.run(name)` with the outcome of one case.
 */
import { WebCryptoProvider } from '@samizdat/protocol';
import { IndexedDbClientStore } from '../../../src/storage/indexeddb/index.js';
import { CLIENT_STORE_CASES } from '../store-conformance-cases.js';
import type { StoreHarness } from '../store-conformance-cases.js';
import { INDEXEDDB_CASES, deleteDatabase } from './indexeddb-cases.js';

export type CaseOutcome = { readonly ok: true } | { readonly ok: false; readonly error: string };

export interface ConformancePage {
  readonly conformanceCases: readonly string[];
  readonly indexedDbCases: readonly string[];
  run(kind: 'conformance' | 'indexeddb', name: string): Promise<CaseOutcome>;
}

const crypto = new WebCryptoProvider();
let databases = 0;
const freshName = (): string => `samizdat-test-${Date.now()}-${databases++}`;

async function open(): Promise<StoreHarness> {
  const name = freshName();
  let current = await IndexedDbClientStore.open(name);
  return {
    store: current,
    async reopen() {
      await current.close();
      current = await IndexedDbClientStore.open(name);
      return current;
    },
    async cleanup() {
      await current.close();
      await deleteDatabase(indexedDB, name);
    },
  };
}

async function outcome(run: () => Promise<void>): Promise<CaseOutcome> {
  try {
    await run();
    return { ok: true };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? (err.stack ?? `${err.name}: ${err.message}`) : String(err) };
  }
}

const page: ConformancePage = {
  conformanceCases: CLIENT_STORE_CASES.map((c) => c.name),
  indexedDbCases: INDEXEDDB_CASES.map((c) => c.name),
  async run(kind, name) {
    if (kind === 'conformance') {
      const c = CLIENT_STORE_CASES.find((x) => x.name === name);
      if (c === undefined) return { ok: false, error: `no conformance case named "${name}" in the page` };
      return outcome(() => c.run({ open, crypto }));
    }
    const c = INDEXEDDB_CASES.find((x) => x.name === name);
    if (c === undefined) return { ok: false, error: `no IndexedDB case named "${name}" in the page` };
    const dbName = freshName();
    return outcome(async () => {
      try {
        await c.run(indexedDB, dbName);
      } finally {
        await deleteDatabase(indexedDB, dbName);
      }
    });
  },
};

(globalThis as unknown as { samizdatConformance: ConformancePage }).samizdatConformance = page;
