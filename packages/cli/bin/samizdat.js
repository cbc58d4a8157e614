#!/usr/bin/env node
// The `samizdat` command. npm links a workspace's bin when it installs, before `npm run build` has made dist/, so the
// bin is this file, which is always in the repository, and it loads the build.
import { existsSync } from 'node:fs';

const main = new URL('../dist/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('samizdat is not built yet: run `npm run build` (or `npm start`) at the repository root first.\n');
  process.exit(1);
}
await import(main.href);
