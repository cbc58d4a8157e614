// Typechecks every package: `tsc -b` over the project references (sources), then each package's test/tsconfig.json
// (tests + sources, no emit). One failure fails the whole check.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const tsc = join('node_modules', 'typescript', 'bin', 'tsc');
const run = (args) => execFileSync(process.execPath, [tsc, ...args], { stdio: 'inherit' });

run(['-b', 'tsconfig.json']);
for (const pkg of readdirSync('packages')) {
  const testConfig = join('packages', pkg, 'test', 'tsconfig.json');
  if (existsSync(testConfig)) run(['-p', testConfig]);
}
