// Typechecks every package: `tsc -b` over the project references (sources), the web client's own tsconfig, then each
// package's test/tsconfig.json (tests + sources, no emit). One failure fails the whole check.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const tsc = join('node_modules', 'typescript', 'bin', 'tsc');
const run = (args) => execFileSync(process.execPath, [tsc, ...args], { stdio: 'inherit' });

run(['-b', 'tsconfig.json']);
// The web client is built by Vite, not by tsc -b: it is typechecked here (against the SDK's declarations built above).
run(['-p', join('packages', 'web', 'tsconfig.json')]);
for (const pkg of readdirSync('packages')) {
  const testConfig = join('packages', pkg, 'test', 'tsconfig.json');
  if (existsSync(testConfig)) run(['-p', testConfig]);
}
