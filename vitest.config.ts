import { defineConfig } from 'vitest/config';

// One runner for the whole repository: every package's `test/**/*.test.ts`.
export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
