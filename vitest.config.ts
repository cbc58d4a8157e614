import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (path: string) => fileURLToPath(new URL(path, import.meta.url));

// One runner for the whole repository: every package's `test/**/*.test.ts`. Workspace packages resolve to their
// TypeScript sources here, so tests never run against a stale build.
export default defineConfig({
  resolve: {
    alias: [
      { find: /^@samizdat\/protocol\/node$/, replacement: src('./packages/protocol/src/crypto/node-provider.ts') },
      { find: /^@samizdat\/protocol\/groups-node$/, replacement: src('./packages/protocol/src/groups/node-mls-provider.ts') },
      { find: /^@samizdat\/protocol$/, replacement: src('./packages/protocol/src/index.ts') },
      { find: /^@samizdat\/client\/node$/, replacement: src('./packages/client/src/node.ts') },
      { find: /^@samizdat\/client$/, replacement: src('./packages/client/src/index.ts') },
    ],
  },
  test: {
    include: ['packages/*/test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
