/**
 * Sealed-sender certificates (sealed-sender/certificate-issuer.ts): the trust root clients pin, and a sender
 * certificate for the authenticated device. Nothing about either request is stored.
 */
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { decodeIdentityKey } from '@samizdat/protocol';
import type { ServerContext } from '../context.js';
import { ApiError } from '../errors.js';
import { toBase64 } from '../http.js';
import { ErrorResponse } from '../schemas.js';
import type { CertificateIssuer } from '../sealed-sender/certificate-issuer.js';

const TrustRoot = Type.Object({ publicKey: Type.String({ description: 'Ed25519 public key, base64 (32 bytes)' }) });
const Certificate = Type.Object({
  certificate: Type.String({ description: 'the encoded sender certificate, base64 (docs/wire-format.md "Sealed envelope")' }),
  expires: Type.Integer({ description: 'ms since the Unix epoch' }),
});

export function registerCertificateRoutes(app: FastifyInstance, ctx: ServerContext, issuer: CertificateIssuer): void {
  app.get(
    '/v1/certificate/trust-root',
    { schema: { tags: ['sealed sender'], summary: 'The trust root that signs this server’s certificate keys (clients pin it)', response: { 200: TrustRoot } } },
    async () => ({ publicKey: toBase64(issuer.trustRoot) }),
  );

  app.get(
    '/v1/certificate/delivery',
    {
      schema: {
        tags: ['sealed sender'],
        summary: 'A short-lived sender certificate for the authenticated device',
        response: { 200: Certificate, 401: ErrorResponse },
      },
    },
    async (request) => {
      const device = await ctx.authenticate(request);
      const account = await ctx.repo.getAccount(device.accountId);
      if (!account) throw new ApiError('UNAUTHORIZED');
      const certificate = await issuer.issue(device.accountId, device.deviceId, decodeIdentityKey(account.identityKey));
      return { certificate: toBase64(certificate.encoded), expires: certificate.expires };
    },
  );
}
