#!/usr/bin/env node
/**
 * Summarizes a V8 .cpuprofile (node --cpu-prof): self time per function and per package, optionally only between
 * two instants of the system's monotonic clock (V8 profile timestamps and process.hrtime() both read
 * CLOCK_MONOTONIC on Linux, so run.mjs passes the measured window in microseconds).
 *
 *   node bench/server/profile-summary.mjs FILE.cpuprofile [--top N] [--from US --to US]
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

/** Where a function lives: a package under node_modules, our dist, node:internal, or a V8 pseudo-node. */
function packageOf(url, functionName) {
  if (!url) return functionName.startsWith('(') ? functionName : '(native / V8 builtins)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1];
  const ours = /packages\/([^/]+)\/dist\//.exec(url);
  if (ours) return `@samizdat/${ours[1]}`;
  if (url.startsWith('node:')) return 'node: internals';
  return url;
}

/**
 * @returns {{ totalMs: number, functions: {name: string, where: string, pkg: string, selfMs: number}[], packages: {pkg: string, selfMs: number}[] }}
 */
export function summarize(file, { fromUs, toUs } = {}) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map();
  let t = profile.startTime;
  let totalUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i];
    const next = profile.timeDeltas[i + 1] ?? 0;
    if ((fromUs !== undefined && t < fromUs) || (toUs !== undefined && t > toUs)) continue;
    // A sample stands for the interval until the next one.
    const id = profile.samples[i];
    selfUs.set(id, (selfUs.get(id) ?? 0) + next);
    totalUs += next;
  }
  const byFunction = new Map();
  const byPackage = new Map();
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = nodes.get(id).callFrame;
    const name = functionName || '(anonymous)';
    const short = url.replace(/^file:\/\//, '').replace(/^.*?\/(node_modules|packages)\//, '$1/');
    const where = url ? `${short}:${lineNumber + 1}` : '';
    const key = `${name} ${where}`;
    const pkg = packageOf(url, name);
    const entry = byFunction.get(key) ?? { name, where, pkg, selfMs: 0 };
    entry.selfMs += us / 1000;
    byFunction.set(key, entry);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us / 1000);
  }
  return {
    totalMs: totalUs / 1000,
    functions: [...byFunction.values()].sort((a, b) => b.selfMs - a.selfMs),
    packages: [...byPackage.entries()].map(([pkg, selfMs]) => ({ pkg, selfMs })).sort((a, b) => b.selfMs - a.selfMs),
  };
}

/** The summary as text lines: top functions, then packages, with their share of the sampled time. */
export function formatSummary(summary, top = 20) {
  const pct = (ms) => `${((100 * ms) / summary.totalMs).toFixed(1).padStart(5)}%`;
  const lines = [`sampled ${(summary.totalMs / 1000).toFixed(1)} s of the main thread`, 'top self time by function:'];
  for (const f of summary.functions.slice(0, top)) lines.push(`  ${pct(f.selfMs)}  ${f.name}  ${f.where}`);
  lines.push('self time by package:');
  for (const p of summary.packages.slice(0, Math.max(10, Math.ceil(top / 2)))) lines.push(`  ${pct(p.selfMs)}  ${p.pkg}`);
  return lines;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: 'string', default: '25' }, from: { type: 'string' }, to: { type: 'string' } },
  });
  if (positionals.length !== 1) {
    console.error('usage: node bench/server/profile-summary.mjs FILE.cpuprofile [--top N] [--from US --to US]');
    process.exit(2);
  }
  const summary = summarize(positionals[0], {
    ...(values.from ? { fromUs: Number(values.from) } : {}),
    ...(values.to ? { toUs: Number(values.to) } : {}),
  });
  for (const line of formatSummary(summary, Number(values.top))) console.log(line);
}
