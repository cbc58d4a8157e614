/**
 * Failed logins are limited before the slow hash runs (issue 14): each costs an scrypt (~25 ms on libuv's thread
 * pool, which the SQLite writer's fdatasync needs too), so an unlimited flood of wrong secrets slowed every send.
 * Checked here by the number of scrypt runs the node made (`slowVerifications`), not by timing: per device, per IP,
 * under a concurrent burst, and for devices that do not exist (which run against a dummy hash, so the answer's time
 * does not tell which devices exist). A device whose secret this node has verified is never locked out.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../src/config.js';
import { api, registerDevice, startServer } from './helpers/server.js';
import type { TestDevice, TestServer } from './helpers/server.js';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const wrong = (device: TestDevice): TestDevice => ({ ...device, password: randomBytes(24).toString('base64url') });
const status = async (s: TestServer, auth: TestDevice) => (await api(s, 'GET', '/v1/accounts/me', { auth })).status;

describe('failed logins', () => {
  it('are limited per device before scrypt runs; the device itself, once verified, keeps working', async () => {
    const s = (server = await startServer());
    const alice = await registerDevice(s);
    expect(await status(s, alice)).toBe(200); // verified once: from now on checked against the keyed hash
    const ctx = s.app.ctx;
    const before = ctx.slowVerifications;
    const answers: number[] = [];
    for (let i = 0; i < 25; i++) answers.push(await status(s, wrong(alice)));
    const budget = DEFAULT_LIMITS.failedLoginsPerDevicePerMinute;
    expect(answers.slice(0, budget)).toEqual(Array(budget).fill(401));
    expect(answers.slice(budget)).toEqual(Array(25 - budget).fill(429));
    expect(ctx.slowVerifications - before).toBe(budget);
    const limited = await api(s, 'GET', '/v1/accounts/me', { auth: wrong(alice) });
    expect(limited.body).toMatchObject({ code: 'RATE_LIMITED' });
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await status(s, alice)).toBe(200);
  });

  it('are limited per IP across devices, those that do not exist included (each runs the same scrypt)', async () => {
    // The server's clock stands still: on a busy machine the 40 scrypt runs take long enough for the bucket to refill.
    const frozen = Date.now();
    const s = (server = await startServer({ now: () => frozen }));
    const ctx = s.app.ctx;
    const before = ctx.slowVerifications;
    const answers: number[] = [];
    for (let i = 0; i < 40; i++) {
      const ghost = { accountId: randomBytes(16).toString('hex'), deviceId: 1, password: randomBytes(24).toString('base64url'), registrationId: 1 } as TestDevice;
      answers.push(await status(s, ghost));
    }
    const budget = DEFAULT_LIMITS.unknownLoginsPerIpPerMinute;
    expect(answers.slice(0, budget)).toEqual(Array(budget).fill(401));
    expect(answers.slice(budget)).toEqual(Array(40 - budget).fill(429));
    // An unknown device costs a verification like a wrong secret does: no timing oracle for which devices exist.
    expect(ctx.slowVerifications - before).toBe(budget);
  });

  it('a concurrent burst of logins of devices that do not exist runs no more scrypt than the per-IP budget', async () => {
    const s = (server = await startServer());
    const before = s.app.ctx.slowVerifications;
    const ghost = () => ({ accountId: randomBytes(16).toString('hex'), deviceId: 1, password: randomBytes(24).toString('base64url'), registrationId: 1 }) as TestDevice;
    const answers = await Promise.all(Array.from({ length: 64 }, () => status(s, ghost())));
    expect(answers.filter((a) => a === 401)).toHaveLength(DEFAULT_LIMITS.unknownLoginsPerIpPerMinute);
    expect(s.app.ctx.slowVerifications - before).toBe(DEFAULT_LIMITS.unknownLoginsPerIpPerMinute);
  });

  it('wrong secrets for many existing devices from one IP are limited per IP too', async () => {
    // The clock stands still: 70 scrypt runs take seconds, in which the budget (one a second) would refill.
    const t0 = Date.now();
    const s = (server = await startServer({ now: () => t0 }));
    const devices = await Promise.all(Array.from({ length: 7 }, () => registerDevice(s)));
    const before = s.app.ctx.slowVerifications;
    const answers: number[] = [];
    for (let i = 0; i < 70; i++) answers.push(await status(s, wrong(devices[i % devices.length]!)));
    const budget = DEFAULT_LIMITS.slowLoginsPerIpPerMinute;
    expect(answers.slice(0, budget)).toEqual(Array(budget).fill(401));
    expect(answers.slice(budget)).toEqual(Array(70 - budget).fill(429));
    expect(s.app.ctx.slowVerifications - before).toBe(budget);
  });

  it("a removed device's client retrying its login does not lock out a new device's first login behind the same IP", async () => {
    const s = (server = await startServer());
    const alice = await registerDevice(s);
    const removed = { ...alice, deviceId: 99 };
    for (let i = 0; i < DEFAULT_LIMITS.unknownLoginsPerIpPerMinute + 5; i++) await status(s, removed);
    expect(await status(s, removed)).toBe(429);
    expect(await status(s, alice)).toBe(200); // its first login on this node: scrypt, from the same IP
    expect(await status(s, await registerDevice(s))).toBe(200);
  });

  it('a concurrent burst of 64 guesses runs no more scrypt than the budget', async () => {
    const s = (server = await startServer());
    const alice = await registerDevice(s);
    const before = s.app.ctx.slowVerifications;
    const answers = await Promise.all(Array.from({ length: 64 }, () => status(s, wrong(alice))));
    expect(answers.filter((a) => a === 401)).toHaveLength(DEFAULT_LIMITS.failedLoginsPerDevicePerMinute);
    expect(answers.filter((a) => a === 429)).toHaveLength(64 - DEFAULT_LIMITS.failedLoginsPerDevicePerMinute);
    expect(s.app.ctx.slowVerifications - before).toBe(DEFAULT_LIMITS.failedLoginsPerDevicePerMinute);
  });

  it("a device's concurrent first requests share one verification", async () => {
    const s = (server = await startServer());
    const alice = await registerDevice(s);
    const before = s.app.ctx.slowVerifications;
    const answers = await Promise.all(Array.from({ length: 50 }, () => status(s, alice)));
    expect(new Set(answers)).toEqual(new Set([200]));
    expect(s.app.ctx.slowVerifications - before).toBe(1);
  });

  it('successful first logins of many devices from one IP are not limited', async () => {
    const s = (server = await startServer());
    const devices = await Promise.all(Array.from({ length: DEFAULT_LIMITS.slowLoginsPerIpPerMinute + 10 }, () => registerDevice(s)));
    const answers = await Promise.all(devices.map((d) => status(s, d)));
    expect(new Set(answers)).toEqual(new Set([200]));
  });
});
