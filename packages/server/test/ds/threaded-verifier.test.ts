/**
 * The Delivery Service on worker threads (src/ds/threaded-verifier.ts), with the compiled worker: the same answers
 * as on the event loop (the route tests in test/routes/groups.test.ts run on it too), identity keys checked on the
 * main thread, a bounded queue, and a thread that dies replaced.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MlsEngine, ProtocolError, encodeIdentityKey, generateIdentityKeyPair, toHex } from '@samizdat/protocol';
import type { GroupState } from '@samizdat/protocol';
import { NodeCryptoProvider } from '@samizdat/protocol/node';
import { nodeMlsCryptoProvider } from '@samizdat/protocol/groups-node';
import { ApiError } from '../../src/errors.js';
import { ThreadedVerifier } from '../../src/ds/threaded-verifier.js';
import { inProcessVerifier } from '../../src/ds/commit-verifier.js';
import type { Repository } from '../../src/store/repository.js';
import { buildServer } from '../helpers/child-server.js';
import { DS_WORKER } from '../helpers/server.js';

const crypto = new NodeCryptoProvider();
const engine = new MlsEngine({ crypto, isTrustedIdentity: () => true, mlsCryptoProvider: nodeMlsCryptoProvider });
/** Identity keys as registered: account id → hex of the 65-byte encoding. */
const registered = new Map<string, string>();
const isRegistered = async (accountId: string, identityKey: Uint8Array) => registered.get(accountId) === toHex(identityKey);
const local = inProcessVerifier({} as Repository, crypto); // addsOf only: it reads nothing.

async function device(registeredKey = true) {
  const identity = await generateIdentityKeyPair(crypto);
  const accountId = toHex(crypto.randomBytes(16));
  if (registeredKey) registered.set(accountId, toHex(encodeIdentityKey(identity.publicKey)));
  return engine.createDeviceIdentity(identity, accountId, 1);
}

/** A group of one, and a commit adding `joiners` devices: the inputs of verifyCommit. */
async function addCommit(joiners: number, registeredKeys = true): Promise<{ current: Uint8Array; commit: Uint8Array; next: Uint8Array; state: GroupState }> {
  const state = await engine.createGroup(await device());
  const packages = [];
  for (let i = 0; i < joiners; i++) packages.push((await engine.generateKeyPackages(await device(registeredKeys), 1))[0]!.publicKeyPackage);
  const result = await engine.addMembers(state, packages);
  return { current: await engine.exportGroupInfo(state), commit: result.commit, next: await engine.exportGroupInfo(result.state), state };
}

const codeOf = async (p: Promise<unknown>) => {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  return err instanceof ProtocolError || err instanceof ApiError ? err.code : String(err);
};

let verifier: ThreadedVerifier;

beforeAll(async () => {
  await buildServer();
  verifier = new ThreadedVerifier({ threads: 1, maxQueued: 1, isRegistered, addsOf: (c) => local.addsOf(c), workerUrl: DS_WORKER });
}, 240_000);

afterAll(async () => {
  await verifier?.close();
});

describe('ThreadedVerifier', () => {
  it('verifies on the worker what the event loop verifies, members and committer included', async () => {
    const { current, commit, next } = await addCommit(3);
    const threaded = await verifier.verifyCommit(current, commit, next);
    expect(threaded.next.members).toHaveLength(4);
    expect(threaded.next.epoch).toBe(1n);
    expect(threaded.external).toBe(false);
    expect(verifier.addsOf(commit)).toBe(3);
    expect((await verifier.verifyGroupInfo(current)).members).toHaveLength(1);
    // Refusals keep their protocol codes across the thread.
    const tampered = commit.slice();
    tampered[Math.floor(tampered.length / 2)]! ^= 0x01;
    expect(await codeOf(verifier.verifyCommit(current, tampered, next))).toBe('BAD_SIGNATURE');
    expect(await codeOf(verifier.verifyCommit(next, commit, next))).toBe('WRONG_EPOCH');
    expect(await codeOf(verifier.verifyGroupInfo(new Uint8Array([1, 2, 3])))).toMatch(/DECODE_ERROR|INVALID_MESSAGE/);
  });

  it('checks every identity key the worker took on trust against the registered ones', async () => {
    const { current, commit, next } = await addCommit(1, false);
    expect(await codeOf(verifier.verifyCommit(current, commit, next))).toBe('UNTRUSTED_IDENTITY');
  });

  it('refuses with SERVER_BUSY past its queue, and goes on', async () => {
    const { current, commit, next } = await addCommit(40);
    const running = verifier.verifyCommit(current, commit, next);
    const queued = verifier.verifyCommit(current, commit, next);
    expect(verifier.load).toEqual({ queued: 1, running: 1 });
    expect(await codeOf(verifier.verifyCommit(current, commit, next))).toBe('SERVER_BUSY');
    expect((await running).next.members).toHaveLength(41);
    expect((await queued).next.members).toHaveLength(41);
    expect(verifier.load).toEqual({ queued: 0, running: 0 });
  });

  it('replaces a thread that dies: its task fails, the next one runs', async () => {
    const { current, commit, next } = await addCommit(40);
    const running = verifier.verifyCommit(current, commit, next);
    const slots = (verifier as unknown as { slots: { worker: { terminate(): Promise<number> } }[] }).slots;
    await slots[0]!.worker.terminate();
    expect(await codeOf(running)).toMatch(/exited/);
    expect((await verifier.verifyCommit(current, commit, next)).next.members).toHaveLength(41);
  });
});
