// A clone holds only this repository: no tracked file may point at a folder beside it (the team's shared notes,
// vectors or design documents). What the code and tests need is committed here (test/vectors/, docs/).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const OUTSIDE = /\.\.\/shared\b|\bshared\/(?:vectors|hooks|FINDINGS|DESIGN|STYLE)\b|\b(?:FINDINGS|DESIGN|STYLE)\.md\b/;
const files = execFileSync('git', ['ls-files', '-z'], { encoding: 'utf8' }).split('\0').filter(Boolean);
const hits = [];
for (const file of files) {
  if (!/\.(?:[cm]?[jt]sx?|json|md|sh|ya?ml|html|css)$|^\.ci\//.test(file) || file.endsWith('package-lock.json')) continue;
  readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
    if (OUTSIDE.test(line)) hits.push(`${file}:${i + 1}: ${line.trim().slice(0, 120)}`);
  });
}
if (hits.length > 0) {
  console.error(`References to files outside the repository (a clone does not have them):\n${hits.join('\n')}`);
  process.exit(1);
}
