/**
 * Attachments: opaque blobs, encrypted on the client before upload (the key and digest travel inside the
 * end-to-end encrypted message). Uploads stream to disk with a size limit; each blob has an unguessable id and an
 * expiry.
 */
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { ServerContext } from '../context.js';
import { ApiError, quotaError } from '../errors.js';
import { BlobTooLargeError } from '../blobs/blob-store.js';
import { ErrorResponse } from '../schemas.js';
import { toHour } from '../coarse-time.js';
import { QuotaExceededError } from '../store/repository.js';
import { exceededAttachmentQuota } from '../store/common/admission.js';

export function registerAttachmentRoutes(app: FastifyInstance, ctx: ServerContext): void {
  // The raw request stream goes straight to the blob store, never buffered whole in memory.
  app.addContentTypeParser('application/octet-stream', (_request, payload, done) => done(null, payload));

  app.post(
    '/v1/attachments',
    {
      schema: {
        tags: ['attachments'],
        summary: 'Upload an encrypted blob (Content-Type: application/octet-stream)',
        response: {
          200: Type.Object({ id: Type.String(), size: Type.Integer(), expiresAt: Type.Integer() }),
          413: ErrorResponse,
          415: ErrorResponse,
        },
      },
    },
    async (request) => {
      const device = await ctx.authenticate(request);
      const { maxAttachmentBytes: max, maxAttachmentsPerAccount, maxAttachmentBytesPerAccount, attachmentTtlMs } = ctx.config.limits;
      const declared = Number(request.headers['content-length'] ?? NaN);
      if (Number.isFinite(declared) && declared > max) throw new ApiError('ATTACHMENT_TOO_LARGE');
      const body = request.body as Readable | undefined;
      if (!body || typeof body.pipe !== 'function') throw new ApiError('UNSUPPORTED_MEDIA_TYPE');
      // The quota is checked before a byte is read, and the upload is cut off where it would pass the account's bytes.
      // Uploads of one account running at once all pass this check; the insert checks again as one step with the
      // insert (Repository.createAttachment), so the stored attachments never exceed the quota, and an upload that
      // loses there has its blob deleted. What such a burst holds on disk meanwhile is bounded by the connections.
      const quota = { maxCount: maxAttachmentsPerAccount, maxBytes: maxAttachmentBytesPerAccount, now: ctx.now() };
      const usage = await ctx.repo.attachmentUsage(device.accountId, quota.now);
      const early = exceededAttachmentQuota(usage, Number.isFinite(declared) ? declared : 0, quota);
      if (early) throw quotaError(early);
      const room = maxAttachmentBytesPerAccount - usage.bytes;
      const id = randomBytes(32).toString('hex');
      let size: number;
      try {
        size = await ctx.blobs.write(id, body, Math.min(max, room));
      } catch (err) {
        if (err instanceof BlobTooLargeError) {
          throw room < max ? quotaError(new QuotaExceededError('attachmentBytes', maxAttachmentBytesPerAccount)) : new ApiError('ATTACHMENT_TOO_LARGE');
        }
        throw err;
      }
      const now = ctx.now();
      const expiresAt = toHour(now) + attachmentTtlMs;
      try {
        await ctx.repo.createAttachment({ id, ownerAccountId: device.accountId, size, createdAt: toHour(now), expiresAt }, { ...quota, now });
      } catch (err) {
        await ctx.blobs.delete(id);
        if (err instanceof QuotaExceededError) throw quotaError(err);
        throw err;
      }
      return { id, size, expiresAt };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/attachments/:id',
    {
      schema: {
        tags: ['attachments'],
        summary: 'Download an encrypted blob',
        params: Type.Object({ id: Type.String({ pattern: '^[0-9a-f]{64}$' }) }),
        response: { 404: ErrorResponse },
      },
    },
    async (request, reply) => {
      await ctx.authenticate(request);
      const record = await ctx.repo.getAttachment(request.params.id);
      if (!record || record.expiresAt <= ctx.now()) throw new ApiError('ATTACHMENT_NOT_FOUND');
      const size = await ctx.blobs.size(record.id);
      if (size === undefined) throw new ApiError('ATTACHMENT_NOT_FOUND');
      return reply
        .header('content-type', 'application/octet-stream')
        .header('content-length', String(size))
        .header('cache-control', 'private, no-store')
        .send(ctx.blobs.read(record.id));
    },
  );
}
