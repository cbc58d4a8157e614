/**
 * Sender certificates for sealed sender (issue 16; packages/protocol/src/sealed-sender/certificates.ts): the trust
 * root, kept in a file of its own like the username key, signs a certificate-signing key made afresh at each start;
 * that key signs the short-lived certificates authenticated devices ask for. Nothing about issuing one is stored or
 * logged: the server learns that a device wants to send sealed, not to whom.
 */
import { randomInt } from 'node:crypto';
import { issueSenderCertificate, issueServerCertificate } from '@samizdat/protocol';
import type { CryptoProvider, IdentityKey, KeyPair, SenderCertificate, ServerCertificate } from '@samizdat/protocol';

/** How long a sender certificate is valid (Signal's are a day too); clients renew it before. */
export const SENDER_CERTIFICATE_LIFETIME_MS = 24 * 60 * 60 * 1000;

export class CertificateIssuer {
  private constructor(
    private readonly crypto: CryptoProvider,
    /** The trust root's public key, which clients pin. */
    readonly trustRoot: Uint8Array,
    private readonly signing: KeyPair,
    readonly serverCertificate: ServerCertificate,
    private readonly now: () => number,
  ) {}

  /** A fresh certificate-signing key under `trustRoot`, with a random key id (nodes each make their own). */
  static async create(crypto: CryptoProvider, trustRoot: KeyPair, now: () => number = Date.now): Promise<CertificateIssuer> {
    const signing = await crypto.ed25519GenerateKeyPair();
    const serverCertificate = await issueServerCertificate(crypto, trustRoot, randomInt(0, 2 ** 31), signing.publicKey);
    return new CertificateIssuer(crypto, trustRoot.publicKey, signing, serverCertificate, now);
  }

  issue(accountId: string, deviceId: number, identityKey: IdentityKey): Promise<SenderCertificate> {
    return issueSenderCertificate(this.crypto, this.serverCertificate, this.signing.privateKey, {
      accountId,
      deviceId,
      identityKey,
      expires: this.now() + SENDER_CERTIFICATE_LIFETIME_MS,
    });
  }
}
