/** For the stall scripts: how long work holds the event loop, sampled by a timer that should fire every millisecond. */
import { performance } from 'node:perf_hooks';

/** Runs `work`; resolves with its result, its wall time and the longest gap between the timer's ticks (the stall). */
export async function sampleEventLoop(work) {
  let last = performance.now();
  let longest = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 1);
  const t0 = performance.now();
  const result = await work();
  const wallMs = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 5));
  clearInterval(timer);
  return { result, wallMs: Math.round(wallMs * 10) / 10, stallMs: Math.round(longest * 10) / 10 };
}
