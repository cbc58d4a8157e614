// Generates the known-answer vectors of our own derivations — pqxdh.json, double-ratchet.json, padding.json in this
// folder — from fixed inputs, with NodeCryptoProvider and the protocol code as it is (README.md here: what each file
// pins). Run from the repository root:
//
//   node packages/protocol/test/vectors/generate-derivations.mjs
//
// Regenerate ONLY for an intentional protocol change (a new KDF label, input order, padding rule...): the point of the
// files is that an accidental change fails the tests. The output is deterministic; a run without a protocol change
// rewrites the files byte for byte.
//
// The TypeScript sources are loaded through Vite's module runner (Vite is already here for Vitest), so no build step
// is needed and the vectors come from src/, as the tests see it.
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createServer, createServerModuleRunner } from 'vite';

const server = await createServer({
  configFile: false,
  logLevel: 'error',
  appType: 'custom',
  server: { middlewareMode: true, hmr: false, ws: false, watch: null },
  optimizeDeps: { noDiscovery: true, include: [] },
});
const runner = createServerModuleRunner(server.environments.ssr, { hmr: false });
const load = (path) => runner.import(fileURLToPath(new URL(path, import.meta.url)));

try {
  const { NodeCryptoProvider } = await load('../../src/crypto/node-provider.ts');
  const { PQXDH_INFO, pqxdhInitiate, pqxdhRespond } = await load('../../src/pqxdh.ts');
  const { encodeIdentityKey } = await load('../../src/keys/identity.ts');
  const { encodeEc, encodeKem } = await load('../../src/keys/encoding.ts');
  const { ROOT_KDF_INFO, kdfRootKey } = await load('../../src/ratchet/root-key.ts');
  const { MESSAGE_KEYS_INFO, expandMessageKey, kdfChainKey } = await load('../../src/ratchet/chain-key.ts');
  const ratchet = await load('../../src/ratchet/double-ratchet.ts');
  const { decodeRatchetMessage } = await load('../../src/wire/ratchet-message.ts');
  const { pad, paddedLength, unpad } = await load('../../src/wire/padding.ts');
  const { withFixedRandomness } = await load('../crypto/fixed-randomness.ts');

  const provider = new NodeCryptoProvider();
  const hex = (bytes) => Buffer.from(bytes).toString('hex');
  const text = (bytes) => new TextDecoder().decode(bytes);
  const utf8 = (s) => new TextEncoder().encode(s);
  /** A fixed input: the first `length` bytes of SHA-512("Samizdat test vector: " + label). */
  const fixed = (label, length = 32) =>
    new Uint8Array(createHash('sha512').update(`Samizdat test vector: ${label}`).digest().subarray(0, length));
  const write = (file, value) =>
    writeFileSync(new URL(file, import.meta.url), `${JSON.stringify(value, null, 1)}\n`);
  const BASE_POINT = new Uint8Array(32);
  BASE_POINT[0] = 9;
  const x25519Public = (privateKey) => provider.x25519(privateKey, BASE_POINT);
  /** Ed25519 public key of a 32-byte seed (RFC 8032 §5.1.5), via node:crypto: the providers have no such call. */
  const ed25519Public = (seed) => {
    const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
    const spki = createPublicKey(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })).export({ format: 'der', type: 'spki' });
    return new Uint8Array(spki.subarray(spki.length - 32));
  };

  // ---- PQXDH -------------------------------------------------------------------------------------------------------
  async function identity(name) {
    const signingSeed = fixed(`pqxdh: ${name} identity Ed25519 seed`);
    const agreementPrivate = fixed(`pqxdh: ${name} identity X25519 private key`);
    const signing = { publicKey: ed25519Public(signingSeed), privateKey: signingSeed };
    const agreement = { publicKey: await x25519Public(agreementPrivate), privateKey: agreementPrivate };
    return { publicKey: { signingKey: signing.publicKey, agreementKey: agreement.publicKey }, signing, agreement };
  }
  const identityJson = (pair) => ({
    signingSeed: hex(pair.signing.privateKey),
    signingPublic: hex(pair.signing.publicKey),
    agreementPrivate: hex(pair.agreement.privateKey),
    agreementPublic: hex(pair.agreement.publicKey),
    encoded: hex(encodeIdentityKey(pair.publicKey)),
  });

  const alice = await identity('alice');
  const bob = await identity('bob');
  const spkPrivate = fixed('pqxdh: bob signed prekey X25519 private key');
  const spk = { id: 7, keyPair: { privateKey: spkPrivate, publicKey: await x25519Public(spkPrivate) } };
  spk.signature = await provider.ed25519Sign(bob.signing.privateKey, encodeEc(spk.keyPair.publicKey));
  const opkPrivate = fixed('pqxdh: bob one-time prekey X25519 private key');
  const opk = { id: 101, keyPair: { privateKey: opkPrivate, publicKey: await x25519Public(opkPrivate) } };
  const kyberSeed = fixed('pqxdh: bob ML-KEM-1024 prekey seed d||z', 64);
  const kyber = { id: 1000, seed: kyberSeed, keyPair: await provider.mlkem1024GenerateKeyPair(kyberSeed) };
  kyber.signature = await provider.ed25519Sign(bob.signing.privateKey, encodeKem(kyber.keyPair.publicKey));

  const pqxdhCases = [];
  for (const [label, withOneTime] of [
    ['with a one-time prekey: DH1 || DH2 || DH3 || DH4 || SS', true],
    ['without a one-time prekey: DH1 || DH2 || DH3 || SS', false],
  ]) {
    const tag = withOneTime ? 'with one-time prekey' : 'without one-time prekey';
    const ephemeralPrivate = fixed(`pqxdh: alice ephemeral X25519 private key, ${tag}`);
    const kemRandomness = fixed(`pqxdh: ML-KEM encapsulation randomness m, ${tag}`);
    const bundle = {
      identityKey: bob.publicKey,
      deviceId: 1,
      signedPreKey: { id: spk.id, publicKey: spk.keyPair.publicKey, signature: spk.signature },
      ...(withOneTime ? { oneTimePreKey: { id: opk.id, publicKey: opk.keyPair.publicKey } } : {}),
      kyberPreKey: { id: kyber.id, publicKey: kyber.keyPair.publicKey, signature: kyber.signature },
    };
    const fixedProvider = withFixedRandomness(provider, {
      x25519PrivateKeys: [ephemeralPrivate],
      mlkemEncapsulationRandomness: [kemRandomness],
    });
    const initiated = await pqxdhInitiate(fixedProvider, alice, bundle);
    const left = fixedProvider.remaining();
    if (left.x25519PrivateKeys !== 0 || left.mlkemEncapsulationRandomness !== 0) throw new Error('fixed inputs unused');
    const responded = await pqxdhRespond(provider, bob, {
      theirIdentity: alice.publicKey,
      baseKey: initiated.baseKey,
      kemCiphertext: initiated.kemCiphertext,
      signedPreKey: spk.keyPair,
      oneTimePreKey: withOneTime ? opk.keyPair : undefined,
      kyberPreKey: kyber.keyPair,
    });
    if (hex(responded.sharedSecret) !== hex(initiated.sharedSecret) || hex(responded.associatedData) !== hex(initiated.associatedData)) {
      throw new Error('PQXDH: the two sides disagree');
    }
    // The intermediate values, for whoever debugs a mismatch (PQXDH §3.3 names).
    const dh = [
      await provider.x25519(alice.agreement.privateKey, spk.keyPair.publicKey),
      await provider.x25519(ephemeralPrivate, bob.agreement.publicKey),
      await provider.x25519(ephemeralPrivate, spk.keyPair.publicKey),
      ...(withOneTime ? [await provider.x25519(ephemeralPrivate, opk.keyPair.publicKey)] : []),
    ];
    const kemSharedSecret = await provider.mlkem1024Decapsulate(initiated.kemCiphertext, kyber.keyPair.privateKey);
    pqxdhCases.push({
      description: label,
      oneTimePreKey: withOneTime,
      ephemeralPrivate: hex(ephemeralPrivate),
      ephemeralPublic: hex(initiated.baseKey),
      kemRandomness: hex(kemRandomness),
      kemCiphertext: hex(initiated.kemCiphertext),
      kemSharedSecret: hex(kemSharedSecret),
      dh: dh.map(hex),
      sharedSecret: hex(initiated.sharedSecret),
      associatedData: hex(initiated.associatedData),
    });
  }
  const pqxdhVectors = {
    description:
      'PQXDH known answers (src/pqxdh.ts): SK = HKDF-SHA256(salt = 32 zero bytes, IKM = 32 x 0xFF || DH1 || DH2 || DH3 [|| DH4] || SS, info, 32), AD = Encode(IK_A) || Encode(IK_B). Generated by generate-derivations.mjs with NodeCryptoProvider; see README.md.',
    info: text(PQXDH_INFO),
    alice: identityJson(alice),
    bob: {
      ...identityJson(bob),
      signedPreKey: { id: spk.id, private: hex(spk.keyPair.privateKey), public: hex(spk.keyPair.publicKey), signature: hex(spk.signature) },
      oneTimePreKey: { id: opk.id, private: hex(opk.keyPair.privateKey), public: hex(opk.keyPair.publicKey) },
      kyberPreKey: { id: kyber.id, seed: hex(kyber.seed), public: hex(kyber.keyPair.publicKey), signature: hex(kyber.signature) },
    },
    cases: pqxdhCases,
  };
  write('pqxdh.json', pqxdhVectors);

  // ---- Double Ratchet ----------------------------------------------------------------------------------------------
  const rootKey0 = fixed('double ratchet: KDF_RK root key 0');
  const rootSteps = [];
  let rk = rootKey0;
  for (let i = 1; i <= 4; i++) {
    const dhOutput = fixed(`double ratchet: KDF_RK DH output ${i}`);
    const out = await kdfRootKey(provider, rk, dhOutput.slice()); // kdfRootKey wipes the DH output it is given
    rootSteps.push({ dhOutput: hex(dhOutput), rootKey: hex(out.rootKey), chainKey: hex(out.chainKey) });
    rk = out.rootKey;
  }
  const chainKey0 = fixed('double ratchet: KDF_CK chain key 0');
  const chainSteps = [];
  const messageKeyCases = [];
  let ck = chainKey0;
  for (let i = 0; i < 5; i++) {
    const out = await kdfChainKey(provider, ck);
    chainSteps.push({ messageKey: hex(out.messageKey), chainKey: hex(out.chainKey) });
    const expanded = await expandMessageKey(provider, out.messageKey);
    messageKeyCases.push({ messageKey: hex(out.messageKey), key: hex(expanded.key), iv: hex(expanded.iv) });
    ck = out.chainKey;
  }

  // A short conversation from the PQXDH vector's first case: every ratchet key fixed, so every message is fixed.
  const first = pqxdhCases[0];
  const fromHex = (h) => new Uint8Array(Buffer.from(h, 'hex'));
  const aliceRatchetKeys = [1, 2].map((i) => fixed(`double ratchet: alice ratchet X25519 private key ${i}`));
  const bobRatchetKeys = [1, 2].map((i) => fixed(`double ratchet: bob ratchet X25519 private key ${i}`));
  const aliceProvider = withFixedRandomness(provider, { x25519PrivateKeys: aliceRatchetKeys });
  const bobProvider = withFixedRandomness(provider, { x25519PrivateKeys: bobRatchetKeys });
  let aliceState = await ratchet.initializeAsInitiator(aliceProvider, {
    sharedSecret: fromHex(first.sharedSecret),
    associatedData: fromHex(first.associatedData),
    theirRatchetKey: spk.keyPair.publicKey,
    baseKey: fromHex(first.ephemeralPublic),
    pendingPreKey: { signedPreKeyId: spk.id, oneTimePreKeyId: opk.id, kyberPreKeyId: kyber.id, kemCiphertext: fromHex(first.kemCiphertext) },
  });
  let bobState = ratchet.initializeAsResponder({
    sharedSecret: fromHex(first.sharedSecret),
    associatedData: fromHex(first.associatedData),
    ourRatchetKey: spk.keyPair,
    baseKey: fromHex(first.ephemeralPublic),
    initialMessageDigest: new Uint8Array(32),
  });
  const script = [
    ['alice', 'a0: first message, delivered second'],
    ['alice', 'a1: second message, delivered first (a0 becomes a skipped key)'],
    ['bob', 'b0: the reply, which makes Alice take a DH ratchet step'],
    ['alice', 'a2: on a new sending chain (PN = 2)'],
  ];
  // Message i is sent by `send` i and decrypted by its receiver at `deliver` i: a0 is held back until a1 has arrived.
  const order = [
    { action: 'send', message: 0 },
    { action: 'send', message: 1 },
    { action: 'deliver', message: 1 },
    { action: 'deliver', message: 0 },
    { action: 'send', message: 2 },
    { action: 'deliver', message: 2 },
    { action: 'send', message: 3 },
    { action: 'deliver', message: 3 },
  ];
  const sent = [];
  for (const { action, message: index } of order) {
    const [sender, plaintext] = script[index];
    if (action === 'send') {
      const out = await ratchet.ratchetEncrypt(provider, sender === 'alice' ? aliceState : bobState, pad(utf8(plaintext)));
      if (sender === 'alice') aliceState = out.state;
      else bobState = out.state;
      const { header } = decodeRatchetMessage(out.message);
      sent[index] = {
        sender,
        plaintext,
        ratchetKey: hex(header.ratchetKey),
        previousCounter: header.previousCounter,
        counter: header.counter,
        message: hex(out.message),
      };
    } else {
      const m = sent[index];
      const receiverIsBob = sender === 'alice';
      const { state: next, plaintext: padded } = await ratchet.ratchetDecrypt(
        receiverIsBob ? bobProvider : aliceProvider,
        receiverIsBob ? bobState : aliceState,
        decodeRatchetMessage(fromHex(m.message)),
      );
      if (text(unpad(padded)) !== plaintext) throw new Error('ratchet: decryption mismatch');
      if (receiverIsBob) bobState = next;
      else aliceState = next;
      m.receiverRootKey = hex(next.rootKey);
    }
  }
  if (aliceProvider.remaining().x25519PrivateKeys !== 0 || bobProvider.remaining().x25519PrivateKeys !== 0) {
    throw new Error('ratchet: fixed ratchet keys unused');
  }
  write('double-ratchet.json', {
    description:
      'Double Ratchet known answers (src/ratchet/): KDF_RK, KDF_CK, message-key expansion, and a four-message conversation with fixed ratchet keys. Generated by generate-derivations.mjs with NodeCryptoProvider; see README.md.',
    rootKdf: { info: text(ROOT_KDF_INFO), rootKey: hex(rootKey0), steps: rootSteps },
    chainKdf: { chainKey: hex(chainKey0), steps: chainSteps },
    messageKeys: { info: text(MESSAGE_KEYS_INFO), cases: messageKeyCases },
    conversation: {
      description:
        "The session of pqxdh.json's first case (SK, AD, base key; Bob's signed prekey is his first ratchet key). Plaintexts are UTF-8, padded with pad() before encryption as sessions do. `order` lists the sends and deliveries (a0 arrives after a1); each party's fresh ratchet keys are taken in order from its list; receiverRootKey is the receiver's root key after decrypting the message.",
      sharedSecret: first.sharedSecret,
      associatedData: first.associatedData,
      baseKey: first.ephemeralPublic,
      bobSignedPreKey: { private: hex(spk.keyPair.privateKey), public: hex(spk.keyPair.publicKey) },
      aliceRatchetKeys: aliceRatchetKeys.map(hex),
      bobRatchetKeys: bobRatchetKeys.map(hex),
      order,
      messages: sent,
    },
  });

  // ---- Padding -----------------------------------------------------------------------------------------------------
  const lengths = [
    0, 1, 2, 100, 158, 159, 160, 161, 175, 176, 191, 192, 200, 207, 208, 254, 255, 256, 257, 271, 272, 511, 512, 1000,
    1023, 1024, 4095, 4096, 10000, 65535, 65536, 65537, 262143, 262144, 1048575, 1048576, 16777216, 2 ** 31 - 1,
    2 ** 40, Number.MAX_SAFE_INTEGER - 1,
  ];
  const pattern = (n, at = 0) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + 3 + at) & 0xff);
  const padInputs = [
    ['empty', new Uint8Array(0)],
    ['one zero byte', new Uint8Array(1)],
    ['one 0x80 byte (looks like a marker)', new Uint8Array([0x80])],
    ['three bytes', new Uint8Array([1, 2, 3])],
    ['ends in 0x80 0x00', new Uint8Array([0xaa, 0x80, 0x00])],
    ['159 bytes: the longest that fits the 160-byte floor', pattern(159)],
    ['160 bytes: the first past the floor', pattern(160)],
    ['200 bytes', pattern(200)],
  ];
  const unpadInputs = [
    ['empty', '', 0],
    ['only the marker', '80', 0],
    ['marker then zeros', '80', 159],
    ['a zero byte', '00', 0],
    ['all zeros', '', 160],
    ['one byte of plaintext', '0180', 0],
    ['plaintext 0x80', '8080', 2],
    ['plaintext 0x00', '0080', 0],
    ['plaintext ending in 0x80 0x00', 'aa800080', 3],
    ['padding longer than any bucket', '0980', 4094],
    ['last non-zero byte 0x81', '01020381', 0],
    ['last non-zero byte 0x7f', '0102037f', 1],
    ['a non-zero byte after the marker', '800001', 0],
    ['0x7f after the marker and a zero', '80007f', 1],
    ['0xff', 'ff', 0],
  ];
  const unpadCases = unpadInputs.map(([description, inputHex, zeros]) => {
    const input = new Uint8Array([...fromHex(inputHex), ...new Uint8Array(zeros)]);
    try {
      return { description, input: inputHex, zeros, plaintext: hex(unpad(input)) };
    } catch (err) {
      if (typeof err?.code !== 'string') throw err;
      return { description, input: inputHex, zeros, error: err.code };
    }
  });
  const rejectedLengths = [-1, 1.5, Number.MAX_SAFE_INTEGER].map((length) => {
    try {
      paddedLength(length);
    } catch (err) {
      return { length, error: err.code };
    }
    throw new Error(`paddedLength(${length}) did not throw`);
  });
  write('padding.json', {
    description:
      'Padding known answers (src/wire/padding.ts): paddedLength = max(160, Padme(n + 1)), pad = plaintext || 0x80 || zeros, unpad of well-formed and malformed inputs (unpad input = hex(input) followed by `zeros` zero bytes). Generated by generate-derivations.mjs; see README.md.',
    paddedLengths: lengths.map((length) => ({ plaintextLength: length, paddedLength: paddedLength(length) })),
    rejectedLengths,
    pad: padInputs.map(([description, plaintext]) => ({ description, plaintext: hex(plaintext), padded: hex(pad(plaintext)) })),
    unpad: unpadCases,
  });
  process.stdout.write('wrote pqxdh.json, double-ratchet.json, padding.json\n');
} finally {
  await runner.close();
  await server.close();
}
