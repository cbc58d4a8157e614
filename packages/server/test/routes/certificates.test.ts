/**
 * GET /v1/certificate/trust-root and /v1/certificate/delivery (routes/certificates.ts): the certificate an
 * authenticated device gets verifies under the published trust root, names that device and its account's identity
 * key, expires after a day, and is not issued without valid credentials; nothing about it is logged.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProtocolErrorCode, decodeSenderCertificate, encodeIdentityKey, verifySenderCertificate } from '@samizdat/protocol';
import { api, apiOk, crypto, registerDevice, startServer } from '../helpers/server.js';
import type { TestServer } from '../helpers/server.js';
import { expectError } from '../helpers/http.js';
import { SENDER_CERTIFICATE_LIFETIME_MS } from '../../src/sealed-sender/certificate-issuer.js';

let server: TestServer;
let clock = 1_800_000_000_000;

beforeAll(async () => {
  server = await startServer({ now: () => clock });
});

afterAll(async () => {
  await server.close();
});

const fromB64 = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));

describe('sender certificates', () => {
  it('issues the authenticated device a certificate chained to the published trust root', async () => {
    const alice = await registerDevice(server);
    const { publicKey } = await apiOk<{ publicKey: string }>(server, 'GET', '/v1/certificate/trust-root');
    const trustRoot = fromB64(publicKey);
    expect(trustRoot).toHaveLength(32);

    const issued = await apiOk<{ certificate: string; expires: number }>(server, 'GET', '/v1/certificate/delivery', { auth: alice });
    expect(issued.expires).toBe(clock + SENDER_CERTIFICATE_LIFETIME_MS);
    const certificate = decodeSenderCertificate(fromB64(issued.certificate));
    expect(certificate.accountId).toBe(alice.accountId);
    expect(certificate.deviceId).toBe(alice.deviceId);
    expect(Buffer.from(encodeIdentityKey(certificate.identityKey)).equals(Buffer.from(encodeIdentityKey(alice.identity.publicKey)))).toBe(true);
    await verifySenderCertificate(crypto, certificate, trustRoot, clock);

    // Not under another root; not after its expiry.
    const otherRoot = (await crypto.ed25519GenerateKeyPair()).publicKey;
    await expect(verifySenderCertificate(crypto, certificate, otherRoot, clock)).rejects.toMatchObject({ code: ProtocolErrorCode.InvalidCertificate });
    await expect(verifySenderCertificate(crypto, certificate, trustRoot, issued.expires)).rejects.toMatchObject({ code: ProtocolErrorCode.CertificateExpired });

    // A later request, a later expiry; the same server certificate.
    clock += 60_000;
    const later = decodeSenderCertificate(fromB64((await apiOk<{ certificate: string }>(server, 'GET', '/v1/certificate/delivery', { auth: alice })).certificate));
    expect(later.expires).toBe(certificate.expires + 60_000);
    expect(Buffer.from(later.signer.encoded).equals(Buffer.from(certificate.signer.encoded))).toBe(true);
  });

  it('refuses a device without valid credentials, and logs nothing that names the device', async () => {
    const alice = await registerDevice(server);
    expectError(await api(server, 'GET', '/v1/certificate/delivery'), 'UNAUTHORIZED');
    expectError(await api(server, 'GET', '/v1/certificate/delivery', { auth: { ...alice, password: 'wrong'.padEnd(alice.password.length, 'x') } }), 'UNAUTHORIZED');
    const before = server.logs.length;
    await apiOk(server, 'GET', '/v1/certificate/delivery', { auth: alice });
    expect(server.logs.slice(before).join('\n')).not.toContain(alice.accountId);
  });
});
