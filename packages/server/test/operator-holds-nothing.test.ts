/**
 * The promise of docs/threat-model.md, checked end to end: after a conversation through a real server — accounts
 * with usernames, a linked device, real PQXDH / Double Ratchet ciphertext from @samizdat/protocol, an attachment
 * encrypted client-side with AES-256-GCM — every file in the data directory (SQLite database, WAL, shared memory,
 * blob folder) and every log line is scanned for the plaintexts, the attachment's bytes and key, the usernames in
 * any case and the device secrets. None may appear. Control checks prove the scan would have found them: a marker
 * written into the data directory is found, and so is the ciphertext the server does hold.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  InMemoryProtocolStore,
  SessionManager,
  decodeEnvelope,
  decodeIdentityKey,
  encodeEnvelope,
  encodeIdentityKey,
  generateIdentityKeyPair,
  generateKyberPreKey,
  generateOneTimePreKeys,
  generateSignedPreKey,
} from '@samizdat/protocol';
import type { IdentityKeyPair, ProtocolAddress } from '@samizdat/protocol';
import { api, apiOk, crypto, startServer } from './helpers/server.js';
import type { TestDevice, TestServer } from './helpers/server.js';
import { b64, rawRequest } from './helpers/http.js';

/** A client device: its credentials and its end-to-end state (sessions and private prekeys) kept in memory. */
interface Party {
  readonly name: string;
  readonly device: TestDevice;
  readonly manager: SessionManager;
}

/**
 * Registration ids of every device, as a client learns them from bundles and the device lists of its own account
 * (kept here in one place: a device that was first contacted by the other side never fetched its bundle).
 */
const registrationIds = new Map<string, number>();

const addressKey = (a: ProtocolAddress) => `${a.account}.${a.device}`;
const bytes = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));
const utf8 = (s: string) => new Uint8Array(Buffer.from(s, 'utf8'));

/** Keys for a new device whose private halves go into `store`; the JSON the server takes (DeviceKeys). */
async function newDeviceKeys(identity: IdentityKeyPair, store: InMemoryProtocolStore) {
  const now = Date.now();
  const signed = await generateSignedPreKey(crypto, identity, 1, now);
  const lastResort = await generateKyberPreKey(crypto, identity, 1, true, now);
  const kyber = await generateKyberPreKey(crypto, identity, 100, false, now);
  const oneTime = await generateOneTimePreKeys(crypto, 100, 2);
  store.signedPreKeys.set(signed.id, signed);
  store.kyberPreKeys.set(lastResort.id, lastResort);
  store.kyberPreKeys.set(kyber.id, kyber);
  for (const k of oneTime) store.oneTimePreKeys.set(k.id, k);
  return {
    registrationId: 1 + (randomBytes(4).readUInt32BE(0) % 0x7ffffffe),
    password: randomBytes(24).toString('base64url'),
    name: b64(randomBytes(48)), // an end-to-end encrypted device name, opaque to the server
    signedPreKey: { keyId: signed.id, publicKey: b64(signed.keyPair.publicKey), signature: b64(signed.signature) },
    kyberLastResortPreKey: { keyId: lastResort.id, publicKey: b64(lastResort.keyPair.publicKey), signature: b64(lastResort.signature) },
    kyberPreKeys: [{ keyId: kyber.id, publicKey: b64(kyber.keyPair.publicKey), signature: b64(kyber.signature) }],
    oneTimePreKeys: oneTime.map((k) => ({ keyId: k.id, publicKey: b64(k.keyPair.publicKey) })),
  };
}

async function register(server: TestServer, name: string, username: string): Promise<Party> {
  const identity = await generateIdentityKeyPair(crypto);
  const store = new InMemoryProtocolStore(identity);
  const keys = await newDeviceKeys(identity, store);
  const res = await apiOk(server, 'POST', '/v1/accounts', { body: { identityKey: b64(encodeIdentityKey(identity.publicKey)), username, device: keys } });
  const device = { accountId: res.accountId, deviceId: res.deviceId, registrationId: keys.registrationId, password: keys.password, identity };
  registrationIds.set(addressKey({ account: device.accountId, device: device.deviceId }), device.registrationId);
  return { name, device, manager: new SessionManager(crypto, store) };
}

async function link(server: TestServer, name: string, existing: Party): Promise<Party> {
  const { identity } = existing.device;
  const store = new InMemoryProtocolStore(identity);
  const keys = await newDeviceKeys(identity, store);
  const { code } = await apiOk(server, 'POST', '/v1/devices/link-code', { auth: existing.device });
  const res = await apiOk(server, 'POST', '/v1/devices/link', { body: { code, ...keys } });
  const device = { accountId: res.accountId, deviceId: res.deviceId, registrationId: keys.registrationId, password: keys.password, identity };
  registrationIds.set(addressKey({ account: device.accountId, device: device.deviceId }), device.registrationId);
  return { name, device, manager: new SessionManager(crypto, store) };
}

/** Encrypts `plaintext` for the given devices of one account (fetching bundles for new sessions) and sends it. */
async function send(server: TestServer, from: Party, accountId: string, deviceIds: number[], plaintext: string): Promise<void> {
  const addresses = deviceIds.map((device) => ({ account: accountId, device }));
  for (const address of await from.manager.missingSessions(addresses)) {
    const { identityKey, devices } = await apiOk(server, 'GET', `/v1/keys/${accountId}/${address.device}`, { auth: from.device });
    const d = devices[0];
    await from.manager.processPreKeyBundle(address, {
      identityKey: decodeIdentityKey(bytes(identityKey)),
      deviceId: d.deviceId,
      signedPreKey: { id: d.signedPreKey.keyId, publicKey: bytes(d.signedPreKey.publicKey), signature: bytes(d.signedPreKey.signature) },
      ...(d.oneTimePreKey ? { oneTimePreKey: { id: d.oneTimePreKey.keyId, publicKey: bytes(d.oneTimePreKey.publicKey) } } : {}),
      kyberPreKey: { id: d.kyberPreKey.keyId, publicKey: bytes(d.kyberPreKey.publicKey), signature: bytes(d.kyberPreKey.signature) },
    });
    expect(d.registrationId).toBe(registrationIds.get(addressKey(address)));
  }
  const ciphertexts = await from.manager.encryptForDevices(addresses, utf8(plaintext));
  const messages = ciphertexts.map(({ address, message }) => ({
    deviceId: address.device,
    registrationId: registrationIds.get(addressKey(address)),
    envelope: b64(encodeEnvelope({ type: message.type, timestamp: Date.now(), content: message.body })),
  }));
  await apiOk(server, 'PUT', `/v1/messages/${accountId}`, { auth: from.device, body: { messages } });
}

/** Fetches and decrypts `to`'s queue; acknowledges what it decrypted when `ack` is set. Returns the plaintexts. */
async function receive(server: TestServer, to: Party, ack: boolean): Promise<string[]> {
  const { messages } = await apiOk(server, 'GET', '/v1/messages', { auth: to.device });
  const out: string[] = [];
  for (const m of messages as { id: string; sourceAccountId: string; sourceDeviceId: number; envelope: string }[]) {
    const envelope = decodeEnvelope(bytes(m.envelope));
    const result = await to.manager.decrypt(
      { account: m.sourceAccountId, device: m.sourceDeviceId },
      { type: envelope.type as 1 | 2, body: envelope.content },
    );
    if (result.kind !== 'message') throw new Error('unexpected duplicate');
    out.push(Buffer.from(result.plaintext).toString('utf8'));
  }
  if (ack && messages.length > 0) {
    await apiOk(server, 'POST', '/v1/messages/ack', { auth: to.device, body: { ids: messages.map((m: { id: string }) => m.id) } });
  }
  return out;
}

interface Needle {
  readonly label: string;
  readonly bytes: Uint8Array;
  /** Match ASCII letters in any case. */
  readonly anyCase?: boolean;
}

interface Haystack {
  readonly name: string;
  readonly bytes: Uint8Array;
}

/** Every file under `dir`, recursively, with its bytes. */
function filesUnder(root: string, dir = root): Haystack[] {
  const out: Haystack[] = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...filesUnder(root, path));
    else out.push({ name: relative(root, path), bytes: readFileSync(path) });
  }
  return out;
}

/** "label in name" for every needle found in a haystack. */
function scan(haystacks: readonly Haystack[], needles: readonly Needle[]): string[] {
  const found: string[] = [];
  for (const haystack of haystacks) {
    const raw = Buffer.from(haystack.bytes);
    const lower = Buffer.from(raw.toString('latin1').toLowerCase(), 'latin1');
    for (const needle of needles) {
      const target = Buffer.from(needle.bytes);
      const hit = needle.anyCase ? lower.includes(Buffer.from(target.toString('latin1').toLowerCase(), 'latin1')) : raw.includes(target);
      if (hit) found.push(`${needle.label} in ${haystack.name}`);
    }
  }
  return found;
}

describe('the operator holds nothing readable', () => {
  let server: TestServer;
  let dataDirFiles: Haystack[];
  let dataDirFilesAfterClose: Haystack[];
  const needles: Needle[] = [];
  /** Ciphertext the server holds (envelopes still queued, the encrypted blob): the scan must find these. */
  const held: Needle[] = [];
  /** Identifiers the database needs but the logs must not carry (docs/threat-model.md, "Logs and metrics"). */
  const identifiers: Needle[] = [];
  const control: Needle = { label: 'control marker', bytes: utf8(`operator-control-${randomBytes(8).toString('hex')}`), anyCase: true };

  beforeAll(async () => {
    server = await startServer(); // logs at debug level, the most the server ever writes
    const marker = () => randomBytes(12).toString('hex');
    const usernames = { alice: `Alice_${marker()}`, bob: `bob.${marker()}` };
    const alice = await register(server, 'alice', usernames.alice);
    const bob = await register(server, 'bob', usernames.bob);
    const alice2 = await link(server, 'alice2', alice);
    const plaintexts = [
      `Meet me at the north gate at nine. ${marker()}`,
      `Bring the printed copies, all of them. ${marker()}`,
      `Understood — the north gate, nine o’clock. ${marker()}`,
      `Sent from my laptop: the key is under the mat. ${marker()}`,
    ];
    const [first, second, reply, fromLaptop] = plaintexts as [string, string, string, string];

    // Alice (phone) to Bob, with the sync copy to her laptop; then a second message on the same sessions.
    for (const text of [first, second]) {
      await send(server, alice, bob.device.accountId, [1], text);
      await send(server, alice, alice.device.accountId, [2], text);
    }
    expect(await receive(server, bob, true)).toEqual([first, second]);
    expect(await receive(server, alice2, true)).toEqual([first, second]);
    // Bob answers both of Alice's devices; her phone reads it but does not acknowledge (it stays queued).
    await send(server, bob, alice.device.accountId, [1, 2], reply);
    expect(await receive(server, alice, false)).toEqual([reply]);
    expect(await receive(server, alice2, true)).toEqual([reply]);
    // Alice's laptop writes to Bob, who has not fetched it yet.
    await send(server, alice2, bob.device.accountId, [1], fromLaptop);

    // An attachment, encrypted on the client; its key and digest travel inside an end-to-end encrypted message.
    const document = utf8(`CONFIDENTIAL MINUTES ${marker()}\n${'Item: the printing press moves on Tuesday.\n'.repeat(5000)}END ${marker()}`);
    const key = new Uint8Array(randomBytes(32));
    const iv = new Uint8Array(randomBytes(12));
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    const blob = new Uint8Array(Buffer.concat([iv, cipher.update(document), cipher.final(), cipher.getAuthTag()]));
    const upload = await rawRequest(server, 'POST', '/v1/attachments', { auth: alice.device, body: blob, headers: { 'content-type': 'application/octet-stream' } });
    expect(upload.status).toBe(200);
    const { id } = upload.body as { id: string };
    const pointer = `attachment ${id} key ${Buffer.from(key).toString('hex')} ${marker()}`;
    await send(server, alice, bob.device.accountId, [1], pointer);
    const [received] = await receive(server, bob, true);
    expect(received).toBe(fromLaptop);
    // Bob fetches and decrypts the attachment.
    const download = await fetch(`${server.url}/v1/attachments/${id}`, { headers: { authorization: `Basic ${Buffer.from(`${bob.device.accountId}.1:${bob.device.password}`).toString('base64')}` } });
    const got = new Uint8Array(await download.arrayBuffer());
    const decipher = createDecipheriv('aes-256-gcm', key, got.subarray(0, 12));
    decipher.setAuthTag(got.subarray(got.length - 16));
    expect(Buffer.concat([decipher.update(got.subarray(12, got.length - 16)), decipher.final()]).equals(document)).toBe(true);
    // Bob removes his username; Alice keeps hers.
    expect((await api(server, 'DELETE', '/v1/accounts/me/username', { auth: bob.device })).status).toBe(204);

    for (const [i, text] of [...plaintexts, pointer].entries()) {
      needles.push({ label: `plaintext ${i}`, bytes: utf8(text) });
      // Any distinctive piece of it would be a leak too: its random marker.
      needles.push({ label: `plaintext ${i} marker`, bytes: utf8(text.slice(-24)), anyCase: true });
    }
    for (const at of [0, 1000, Math.floor(document.length / 2), document.length - 40]) {
      needles.push({ label: `attachment bytes at ${at}`, bytes: document.subarray(at, at + 32) });
    }
    needles.push({ label: 'attachment key', bytes: key });
    needles.push({ label: 'attachment key (hex)', bytes: utf8(Buffer.from(key).toString('hex')), anyCase: true });
    for (const [who, name] of Object.entries(usernames)) {
      needles.push({ label: `username of ${who}`, bytes: utf8(name), anyCase: true });
    }
    for (const party of [alice, alice2, bob]) {
      needles.push({ label: `secret of ${party.name}`, bytes: utf8(party.device.password) });
      needles.push({ label: `secret of ${party.name} (raw)`, bytes: Buffer.from(party.device.password, 'base64url') });
    }
    for (const party of [alice, bob]) {
      needles.push({ label: `identity signing key of ${party.name}`, bytes: party.device.identity.signing.privateKey });
      needles.push({ label: `identity agreement key of ${party.name}`, bytes: party.device.identity.agreement.privateKey });
    }
    for (const party of [alice, bob]) identifiers.push({ label: `account id of ${party.name}`, bytes: utf8(party.device.accountId), anyCase: true });
    identifiers.push({ label: 'attachment id', bytes: utf8(id), anyCase: true });
    held.push({ label: 'encrypted attachment', bytes: blob.subarray(100, 164) });
    const { messages } = await apiOk(server, 'GET', '/v1/messages', { auth: alice.device });
    held.push({ label: 'queued ciphertext for alice', bytes: bytes(messages[0].envelope).subarray(-48) });

    // The control: a file in the data directory that does hold a marker, in upper case.
    mkdirSync(join(server.dataDir, 'blobs', 'operator-notes'), { recursive: true });
    writeFileSync(join(server.dataDir, 'blobs', 'operator-notes', 'note.txt'), `note: ${Buffer.from(control.bytes).toString('utf8').toUpperCase()}\n`);

    // While running (the WAL holds the recent writes), then after a clean stop (checkpointed into the database).
    dataDirFiles = filesUnder(server.dataDir);
    await server.app.close();
    dataDirFilesAfterClose = filesUnder(server.dataDir);
  }, 120_000);

  afterAll(async () => {
    await server?.close();
  });

  it('scans the database, its WAL, the blob folder and the logs', () => {
    const names = dataDirFiles.map((f) => f.name);
    expect(names).toEqual(expect.arrayContaining(['samizdat.db', 'samizdat.db-wal', 'samizdat.db-shm']));
    expect(names.filter((n) => /^blobs\/[0-9a-f]{64}$/.test(n))).toHaveLength(1);
    expect(dataDirFilesAfterClose.map((f) => f.name)).toContain('samizdat.db');
    expect(server.logs.length).toBeGreaterThan(20);
  });

  it('finds what is there: the control marker in any case, and the ciphertext the server holds', () => {
    expect(scan(dataDirFiles, [control])).toEqual(['control marker in blobs/operator-notes/note.txt']);
    expect(scan(dataDirFiles, held).sort()).toEqual(
      expect.arrayContaining([expect.stringMatching(/^encrypted attachment in blobs\/[0-9a-f]{64}$/), expect.stringMatching(/^queued ciphertext for alice in samizdat\.db/)]),
    );
  });

  it('finds no plaintext, attachment content or key, username or device secret in the data directory', () => {
    expect(needles.length).toBeGreaterThan(20);
    expect(scan(dataDirFiles, needles)).toEqual([]);
    expect(scan(dataDirFilesAfterClose, needles)).toEqual([]);
  });

  it('finds none of them in the logs, nor any account or attachment id', () => {
    expect(scan([{ name: 'logs', bytes: utf8(server.logs.join('\n')) }], [...needles, ...identifiers])).toEqual([]);
  });
});
