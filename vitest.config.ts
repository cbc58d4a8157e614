import { fileURLToPath } from 'node:url';
import { configDefaults, defineConfig } from 'vitest/config';
import type { Plugin } from 'vitest/config';

const src = (path: string) => fileURLToPath(new URL(path, import.meta.url));

// ts-mls's own test suite, vendored (packages/protocol/test/upstream/ts-mls/README.md), run against the patched
// ts-mls we ship, once per crypto provider. Not part of the `samizdat` project.
const upstream = 'packages/protocol/test/upstream';
const vendored = src(`./${upstream}/ts-mls/`);
const vectors = src('./packages/protocol/test/vectors/mls/');

/**
 * Resolves the imports the vendored ts-mls tests make as in ts-mls's repository, and only theirs (importer inside
 * the vendored folder): `../src/<path>.js` at any depth to the patched package's `ts-mls/<path>.js` (its export
 * map `./*.js`, the module instances our own code imports), `../../test_vectors/<file>.json` to our byte-identical
 * copy of the vectors. `src/index.js` and `src/crypto/getCiphersuiteImpl.js` go to `shim`, which is ts-mls's
 * index with `getCiphersuiteImpl` defaulting to the provider under test.
 */
function vendoredTsMls(shim: string): Plugin {
  const shimPath = src(shim);
  return {
    name: 'vendored-ts-mls',
    enforce: 'pre',
    resolveId(source, importer) {
      if (importer === undefined || !importer.startsWith(vendored)) return null;
      const vector = /^(?:\.\.\/)+test_vectors\/([^/]+\.json)$/.exec(source);
      if (vector) return vectors + vector[1];
      const module = /^(?:\.\.\/)+src\/(.+\.js)$/.exec(source);
      if (module === null) return null;
      const shimmed = module[1] === 'index.js' || module[1] === 'crypto/getCiphersuiteImpl.js';
      return this.resolve(shimmed ? shimPath : `ts-mls/${module[1]}`, importer, { skipSelf: true });
    },
  };
}

const tsMlsProject = (name: string, shim: string) => ({
  plugins: [vendoredTsMls(shim)],
  test: {
    name,
    include: [`${upstream}/ts-mls/**/*.test.ts`],
    // Replaced by secretTree.adapted.test.ts: it reads the eager secret tree our patch made lazy (README there).
    exclude: [...configDefaults.exclude, `${upstream}/ts-mls/test/test-vectors/secretTree.test.ts`],
    // `vitest bench` would otherwise run every project's default `**/*.bench.ts` here too.
    benchmark: { include: [] },
    // As in ts-mls's own vitest.config.ts: global test/expect, two concurrent tests per file, no per-file isolation.
    globals: true,
    maxConcurrency: 2,
    isolate: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks' as const,
  },
});

export default defineConfig({
  test: {
    projects: [
      {
        // One runner for the whole repository: every package's `test/**/*.test.ts`. Workspace packages resolve to
        // their TypeScript sources here, so tests never run against a stale build.
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
          name: 'samizdat',
          include: ['packages/*/test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, `${upstream}/**`],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          pool: 'forks',
        },
      },
      // ts-mls's default provider (WebCrypto, @hpke, @noble), as the browser uses it.
      tsMlsProject('ts-mls-default', `./${upstream}/ts-mls-default.ts`),
      // Our node:crypto provider, as Node (CLI, server-side tests) uses it.
      tsMlsProject('ts-mls-node', `./${upstream}/ts-mls-node.ts`),
    ],
  },
});
