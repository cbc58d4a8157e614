/**
 * The ClientStore conformance suite under vitest: every case of store-conformance-cases.ts as its own test. Each
 * engine's test file calls `describeClientStore` with a way to open a fresh store, and adds its own engine-specific
 * tests beside it.
 */
import { describe, it } from 'vitest';
import { NodeCryptoProvider } from '@samizdat/protocol/node';
import { CLIENT_STORE_CASES } from './store-conformance-cases.js';
import type { OpenStore } from './store-conformance-cases.js';

export type { OpenStore, StoreHarness } from './store-conformance-cases.js';

/** Defines one vitest test per conformance case, each on a fresh store from `open`. */
export function describeClientStore(name: string, open: OpenStore): void {
  const crypto = new NodeCryptoProvider();
  describe(`${name} conforms to ClientStore`, () => {
    for (const c of CLIENT_STORE_CASES) {
      it(c.name, () => c.run({ open, crypto }));
    }
  });
}
