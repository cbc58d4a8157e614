/**
 * Regression tests for the zero-keyed secret tree (patches/README.md §7). Our patch's lazy secret tree stored the
 * `encryption_secret` array itself as its root; ts-mls wipes that array right after building the tree, so from the
 * first commit or join on every epoch's secret tree (RFC 9420 §9) was derived from 32 zero bytes, and every group
 * PrivateMessage was keyed from a public constant. Nothing caught it: the official vectors build trees from buffers
 * nothing wipes, and our other tests only talk between patched clients, which agree on the same zero root.
 *
 * Two independent checks, each for the default suite and suite 1 with both providers we ship:
 * - the secret tree's root after a commit (created, processed) and a join (Welcome, external commit) equals the
 *   epoch's `encryption_secret` = DeriveSecret(epoch_secret, "encryption") (RFC 9420 §8), captured from the KDF as
 *   the key schedule derives it, and is not all zeros;
 * - a group message made with the patched library opens with the unpatched ts-mls 1.6.4 (installed beside it as
 *   `ts-mls-unpatched`) and the other way round, across commits made by either.
 */
import { describe, expect, it } from 'vitest';
import * as patched from 'ts-mls';
import * as unpatched from 'ts-mls-unpatched';
import type { CiphersuiteImpl, CiphersuiteName, ClientState, CryptoProvider } from 'ts-mls';
import { root } from 'ts-mls/treemath.js';
import { toHex } from '../../src/crypto/bytes.js';
import type { GroupState } from '../../src/groups/engine/types.js';
import { DEFAULT_GROUP_CIPHER_SUITE } from '../../src/groups/engine/types.js';
import { defaultMlsCryptoProvider } from '../../src/groups/default-mls-provider.js';
import { nodeMlsCryptoProvider } from '../../src/groups/node-mls-provider.js';
import type { Device } from './fixtures.js';
import { Directory, deliver, keyPackage, makeAccount, makeDevice, stateOf, talk } from './fixtures.js';

const SUITES: CiphersuiteName[] = [DEFAULT_GROUP_CIPHER_SUITE, 'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519'];
const PROVIDERS: [string, CryptoProvider][] = [
  ['node:crypto', nodeMlsCryptoProvider],
  ['default', defaultMlsCryptoProvider],
];
const CASES = SUITES.flatMap((suite) => PROVIDERS.map(([name, provider]) => [suite, name, provider] as const));

/**
 * RFC 9420 §5.1.3: ExpandWithLabel's info is KDFLabel { uint16 length; opaque label<V> = "MLS 1.0 " + label;
 * opaque context<V> }. The info of DeriveSecret(epoch_secret, "encryption") for a KDF of `size` bytes.
 */
function encryptionSecretInfo(size: number): string {
  const label = new TextEncoder().encode('MLS 1.0 encryption');
  return toHex(Uint8Array.from([size >> 8, size & 0xff, label.length, ...label, 0]));
}

/** A provider that records a copy of every encryption_secret its KDF derives (ts-mls wipes the original). */
function capturing(base: CryptoProvider): { provider: CryptoProvider; secrets: Uint8Array[] } {
  const secrets: Uint8Array[] = [];
  const provider: CryptoProvider = {
    async getCiphersuiteImpl(cs) {
      const impl = await base.getCiphersuiteImpl(cs);
      const info = encryptionSecretInfo(impl.kdf.size);
      const kdf: CiphersuiteImpl['kdf'] = {
        ...impl.kdf,
        expand: async (prk, expandInfo, length) => {
          const out = await impl.kdf.expand(prk, expandInfo, length);
          if (toHex(expandInfo) === info) secrets.push(out.slice());
          return out;
        },
      };
      return { ...impl, kdf };
    },
  };
  return { provider, secrets };
}

/** The stored root of the current epoch's secret tree (present until a member's leaf is first derived). */
function secretTreeRoot(state: GroupState): Uint8Array {
  const tree = (state as unknown as ClientState).secretTree;
  const secret = tree.intermediateNodes[root(tree.leafWidth)];
  if (secret === undefined) throw new Error('the root was already consumed');
  return secret;
}

function expectKeyedFrom(device: Device, secrets: Uint8Array[]): void {
  const rootSecret = secretTreeRoot(stateOf(device));
  expect(rootSecret.some((b) => b !== 0), `${device.name}: secret tree root is all zeros`).toBe(true);
  expect(toHex(rootSecret), `${device.name}: root is not this epoch's encryption_secret`).toBe(toHex(secrets.at(-1)!));
}

describe.each(CASES)('the secret tree of %s (%s provider) starts from the epoch encryption_secret', (suite, _name, base) => {
  it('after creating and processing commits, and after joining by Welcome and by external commit', async () => {
    const directory = new Directory();
    const [alice, bob] = await Promise.all(['alice', 'bob'].map((n) => makeAccount(n, directory)));
    const capture = new Map<string, Uint8Array[]>();
    const device = async (account: typeof alice, id: number): Promise<Device> => {
      const { provider, secrets } = capturing(base);
      const d = await makeDevice(account!, id, directory, { mlsCryptoProvider: provider, cipherSuite: suite });
      capture.set(d.name, secrets);
      return d;
    };
    const a1 = await device(alice, 1);
    const b1 = await device(bob, 1);
    const a2 = await device(alice, 2); // a linked device joins its account's groups by external commit
    a1.state = await a1.engine.createGroup(a1.mls);

    const bobPackage = await keyPackage(b1);
    const add = await a1.engine.addMembers(stateOf(a1), [bobPackage.publicKeyPackage]);
    a1.state = add.state;
    b1.state = await b1.engine.joinFromWelcome(bobPackage.privateKeyPackage, add.welcome!);
    expectKeyedFrom(a1, capture.get('alice1')!); // created a commit
    expectKeyedFrom(b1, capture.get('bob1')!); // joined by Welcome
    expect(toHex(secretTreeRoot(stateOf(a1)))).toBe(toHex(secretTreeRoot(stateOf(b1))));

    const update = await b1.engine.update(stateOf(b1));
    b1.state = update.state;
    await deliver([a1], update.commit);
    expectKeyedFrom(a1, capture.get('alice1')!); // processed a commit
    expectKeyedFrom(b1, capture.get('bob1')!);

    const joined = await a2.engine.joinExternal(a2.mls, await a1.engine.exportGroupInfo(stateOf(a1)));
    a2.state = joined.state;
    await deliver([a1, b1], joined.commit);
    for (const d of [a1, b1, a2]) expectKeyedFrom(d, capture.get(d.name)!); // external commit, both sides
    await talk(a2, [a1, b1], 'keys from the key schedule');
  });
});

type Lib = typeof patched;

/** One member driven directly through one of the two libraries (states never cross libraries; messages do). */
interface Member {
  readonly lib: Lib;
  readonly impl: CiphersuiteImpl;
  state: ClientState;
}

async function keyPackageFor(lib: Lib, impl: CiphersuiteImpl, name: string) {
  const credential = { credentialType: 'basic' as const, identity: new TextEncoder().encode(name) };
  return lib.generateKeyPackage(credential, lib.defaultCapabilities(), lib.defaultLifetime, [], impl);
}

/** Encodes with the sender's library and decodes with the receiver's: only wire bytes cross. */
function across(from: Lib, to: Lib, message: Parameters<Lib['encodeMlsMessage']>[0]) {
  const decoded = to.decodeMlsMessage(from.encodeMlsMessage(message), 0);
  if (decoded === undefined) throw new Error('undecodable');
  return decoded[0];
}

async function say(from: Member, to: Member, text: string): Promise<void> {
  const sent = await from.lib.createApplicationMessage(from.state, new TextEncoder().encode(text), from.impl);
  from.state = sent.newState;
  const message = across(from.lib, to.lib, { version: 'mls10', wireformat: 'mls_private_message', privateMessage: sent.privateMessage });
  if (message.wireformat !== 'mls_private_message') throw new Error('not a PrivateMessage');
  const received = await to.lib.processPrivateMessage(to.state, message.privateMessage, to.lib.emptyPskIndex, to.impl);
  if (received.kind !== 'applicationMessage') throw new Error(`expected an application message, got ${received.kind}`);
  expect(new TextDecoder().decode(received.message)).toBe(text);
  to.state = received.newState;
}

async function commitAndDeliver(from: Member, to: Member): Promise<void> {
  const result = await from.lib.createCommit({ state: from.state, cipherSuite: from.impl }, {});
  from.state = result.newState;
  const message = across(from.lib, to.lib, result.commit);
  if (message.wireformat !== 'mls_private_message') throw new Error('expected the commit as a PrivateMessage');
  const processed = await to.lib.processPrivateMessage(to.state, message.privateMessage, to.lib.emptyPskIndex, to.impl);
  if (processed.kind !== 'newState') throw new Error('expected a new epoch');
  to.state = processed.newState;
  expect(to.state.groupContext.epoch).toBe(from.state.groupContext.epoch);
}

describe.each(CASES)('patched and unpatched ts-mls 1.6.4 talk (%s, %s provider)', (suite, _name, provider) => {
  it.each([
    ['the patched library creates the group', patched, unpatched],
    ['the unpatched library creates the group', unpatched, patched],
  ] as const)('%s', async (_case, creatorLib, joinerLib) => {
    const cs = patched.getCiphersuiteFromName(suite);
    const creatorImpl = await creatorLib.getCiphersuiteImpl(cs, provider);
    const joinerImpl = await joinerLib.getCiphersuiteImpl(cs, provider);
    const creatorKeys = await keyPackageFor(creatorLib, creatorImpl, 'creator');
    const joinerKeys = await keyPackageFor(joinerLib, joinerImpl, 'joiner');
    const groupId = new TextEncoder().encode('interop');
    const creator: Member = {
      lib: creatorLib,
      impl: creatorImpl,
      state: await creatorLib.createGroup(groupId, creatorKeys.publicPackage, creatorKeys.privatePackage, [], creatorImpl),
    };
    const keyPackage = across(joinerLib, creatorLib, { version: 'mls10', wireformat: 'mls_key_package', keyPackage: joinerKeys.publicPackage });
    if (keyPackage.wireformat !== 'mls_key_package') throw new Error('not a key package');
    const add = await creatorLib.createCommit(
      { state: creator.state, cipherSuite: creatorImpl },
      { extraProposals: [{ proposalType: 'add', add: { keyPackage: keyPackage.keyPackage } }], ratchetTreeExtension: true },
    );
    creator.state = add.newState;
    const welcome = across(creatorLib, joinerLib, { version: 'mls10', wireformat: 'mls_welcome', welcome: add.welcome! });
    if (welcome.wireformat !== 'mls_welcome') throw new Error('not a Welcome');
    const joiner: Member = {
      lib: joinerLib,
      impl: joinerImpl,
      state: await joinerLib.joinGroup(welcome.welcome, joinerKeys.publicPackage, joinerKeys.privatePackage, joinerLib.emptyPskIndex, joinerImpl),
    };
    await say(creator, joiner, 'first message of epoch 1');
    await say(joiner, creator, 'and the reply');
    await commitAndDeliver(joiner, creator);
    await say(creator, joiner, 'epoch 2, committed by the joiner');
    await say(joiner, creator, 'both ways');
    await commitAndDeliver(creator, joiner);
    await say(joiner, creator, 'epoch 3, committed by the creator');
    await say(creator, joiner, 'still in step');
  });
});

/**
 * ts-mls returns, with each new state, the secrets the old state held that the new one no longer needs (`consumed`),
 * for the caller to wipe. createCommit keeps the old epoch's secret tree for late messages; our patch made it keep
 * the tree as it was before the commit's own handshake ratchet was derived, so the secrets consumed by that
 * derivation — in the lazy tree, the root and the nodes above the committer's leaf, from which every other leaf is
 * derived — were still that kept tree's. A caller that wiped them could no longer open a late message of that epoch.
 */
const LIBRARIES: [string, Lib][] = [
  ['patched', patched],
  ['unpatched', unpatched as unknown as Lib],
];

describe.each(PROVIDERS)('wiping what a commit consumed (%s provider)', (_name, provider) => {
  it.each(LIBRARIES)('leaves late messages of the previous epoch readable (%s ts-mls)', async (_lib, lib) => {
    const impl = await lib.getCiphersuiteImpl(lib.getCiphersuiteFromName(DEFAULT_GROUP_CIPHER_SUITE), provider);
    const keys = await Promise.all(['a', 'b', 'c'].map((n) => keyPackageFor(lib, impl, n)));
    const [ka, kb, kc] = keys as [(typeof keys)[0], (typeof keys)[0], (typeof keys)[0]];
    let a = await lib.createGroup(new TextEncoder().encode('late'), ka.publicPackage, ka.privatePackage, [], impl);
    const add = await lib.createCommit(
      { state: a, cipherSuite: impl },
      {
        extraProposals: [kb, kc].map((k) => ({ proposalType: 'add' as const, add: { keyPackage: k.publicPackage } })),
        ratchetTreeExtension: true,
      },
    );
    a = add.newState;
    let b = await lib.joinGroup(add.welcome!, kb.publicPackage, kb.privatePackage, lib.emptyPskIndex, impl);
    let c = await lib.joinGroup(add.welcome!, kc.publicPackage, kc.privatePackage, lib.emptyPskIndex, impl);
    // c writes in epoch 1; its message reaches a and b only after a's commit to epoch 2.
    const late = await lib.createApplicationMessage(c, new TextEncoder().encode('late but readable'), impl);
    c = late.newState;
    const commit = await lib.createCommit({ state: a, cipherSuite: impl }, {});
    for (const secret of commit.consumed) lib.zeroOutUint8Array(secret);
    a = commit.newState;
    if (commit.commit.wireformat !== 'mls_private_message') throw new Error('expected a PrivateMessage commit');
    const atB = await lib.processPrivateMessage(b, commit.commit.privateMessage, lib.emptyPskIndex, impl);
    for (const secret of atB.consumed) lib.zeroOutUint8Array(secret);
    b = atB.newState;
    for (const reader of [a, b]) {
      const opened = await lib.processPrivateMessage(reader, late.privateMessage, lib.emptyPskIndex, impl);
      if (opened.kind !== 'applicationMessage') throw new Error('expected an application message');
      expect(new TextDecoder().decode(opened.message)).toBe('late but readable');
    }
  });
});
