/**
 * Many requests at once against one device, through the HTTP API, on each store engine: the same test body for
 * SQLite (one connection, group commit) and PostgreSQL (a pool of connections, row locks).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeEnvelope } from '@samizdat/protocol';
import { TEST_POSTGRES_URL, api, apiOk, registerDevice, sendMessage, startServer, testEnvelope } from './helpers/server.js';
import type { StartServerOptions, TestDevice, TestServer } from './helpers/server.js';

const engines: [string, StartServerOptions][] = [
  ['SQLite', {}],
  ['PostgreSQL', { databaseUrl: TEST_POSTGRES_URL }],
];

describe.each(engines)('concurrent requests on %s', (_engine, options) => {
  let server: TestServer;

  beforeAll(async () => {
    // One account fetching another's bundles 50 times at once is what the per-target budget refuses
    // (routes/keys.test.ts); here what is under test is that the store hands each one-time key out once.
    server = await startServer({ ...options, logLevel: 'warn', limits: { bundlesPerTargetBurst: 50 } });
  });

  afterAll(async () => {
    await server?.close();
  });

  it('hands each of 20 one-time prekeys to exactly one of 50 concurrent fetches', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server, { oneTimePreKeys: 20, kyberPreKeys: 5 });
    const responses = await Promise.all(Array.from({ length: 50 }, () => api(server, 'GET', `/v1/keys/${bob.accountId}/1`, { auth: alice })));
    expect(responses.map((r) => r.status)).toEqual(Array(50).fill(200));
    const devices = responses.map((r) => (r.body as { devices: { oneTimePreKey?: { keyId: number }; kyberPreKey: { keyId: number } }[] }).devices[0]);
    const oneTime = devices.flatMap((d) => (d?.oneTimePreKey ? [d.oneTimePreKey.keyId] : []));
    expect(oneTime).toHaveLength(20);
    expect(new Set(oneTime)).toEqual(new Set(Array.from({ length: 20 }, (_, i) => 100 + i)));
    // One-time ML-KEM keys likewise; after them, the last-resort key (id 1) for everyone else.
    const kyber = devices.map((d) => d?.kyberPreKey.keyId);
    expect(kyber.filter((id) => id !== 1).sort()).toEqual([100, 101, 102, 103, 104]);
    expect(kyber.filter((id) => id === 1)).toHaveLength(45);
    expect(await apiOk(server, 'GET', '/v1/keys/count', { auth: bob })).toEqual({ oneTime: 0, kyberOneTime: 0 });
  });

  it('stores all of 200 concurrent sends to one queue, with distinct ids, in id order', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const senders: TestDevice[] = [alice, await registerDevice(server), await registerDevice(server), await registerDevice(server)];
    const contents = Array.from({ length: 200 }, (_, i) => Uint8Array.of(i >> 8, i & 0xff));
    const ids = await Promise.all(
      contents.map(async (content, i) => {
        const [id] = await sendMessage(server, senders[i % senders.length] as TestDevice, [bob], () => testEnvelope(content));
        return id as bigint;
      }),
    );
    expect(new Set(ids).size).toBe(200);

    const queue: { id: bigint; counter: number }[] = [];
    for (let after = 0n; ; ) {
      const page = await apiOk<{ messages: { id: string; envelope: string }[]; more: boolean }>(server, 'GET', `/v1/messages?after=${after}`, { auth: bob });
      for (const m of page.messages) {
        const { content } = decodeEnvelope(new Uint8Array(Buffer.from(m.envelope, 'base64')));
        queue.push({ id: BigInt(m.id), counter: ((content[0] as number) << 8) | (content[1] as number) });
      }
      if (!page.more) break;
      after = queue.at(-1)?.id ?? after;
    }
    // The queue holds every envelope once, in ascending id order, each under the id its sender was given.
    expect(queue).toHaveLength(200);
    const sorted = [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    expect(queue.map((q) => q.id)).toEqual(sorted);
    for (const { id, counter } of queue) expect(ids[counter]).toBe(id);
  });
});
