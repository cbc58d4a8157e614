import { createHash, randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../../src/config.js';
import { api, basicAuth, registerDevice, startServer } from '../helpers/server.js';
import type { TestDevice, TestServer } from '../helpers/server.js';
import { byteStream, expectError, rawRequest } from '../helpers/http.js';
import { toHour } from '../../src/coarse-time.js';

const MAX_ATTACHMENT_BYTES = 4 * 1024 * 1024;

let server: TestServer;
let clock = Date.now();

beforeAll(async () => {
  server = await startServer({ now: () => clock, limits: { maxAttachmentBytes: MAX_ATTACHMENT_BYTES } });
});

afterAll(async () => {
  await server.close();
});

/** Deterministic pseudo-random bytes: byte i of the whole stream depends only on i and the seed. */
function pattern(seed: number) {
  return (offset: number, length: number) => {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = ((offset + i) * 2654435761 + seed) >>> 24;
    return out;
  };
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

const octets = { 'content-type': 'application/octet-stream' };

async function upload(device: TestDevice, body: Uint8Array | ReadableStream<Uint8Array>) {
  return rawRequest(server, 'POST', '/v1/attachments', { auth: device, body, headers: octets });
}

async function download(device: TestDevice, id: string): Promise<Response> {
  return fetch(`${server.url}/v1/attachments/${id}`, { headers: { authorization: basicAuth(device) } });
}

/** Blob files (and unfinished uploads) on disk. */
function blobFiles(): string[] {
  const dir = join(server.dataDir, 'blobs');
  return [...readdirSync(dir).filter((f) => f !== 'tmp'), ...readdirSync(join(dir, 'tmp')).map((f) => `tmp/${f}`)];
}

describe('POST /v1/attachments and GET /v1/attachments/:id', () => {
  it('streams a few MiB up and down byte for byte, to any account that knows the id', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const size = 3 * 1024 * 1024 + 17;
    const expected = createHash('sha256');
    const fill = pattern(7);
    const res = await upload(alice, byteStream(size, (offset, length) => {
      const chunk = fill(offset, length);
      expected.update(chunk);
      return chunk;
    }));
    expect(res.status).toBe(200);
    const { id, size: stored, expiresAt } = res.body as { id: string; size: number; expiresAt: number };
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(stored).toBe(size);
    // From the start of the upload's hour: the stored times do not tell the upload to the millisecond.
    expect(expiresAt).toBe(toHour(clock) + DEFAULT_LIMITS.attachmentTtlMs);

    const got = await download(bob, id);
    expect(got.status).toBe(200);
    expect(got.headers.get('content-type')).toBe('application/octet-stream');
    expect(got.headers.get('content-length')).toBe(String(size));
    const bytes = new Uint8Array(await got.arrayBuffer());
    expect(bytes.length).toBe(size);
    expect(sha256(bytes)).toBe(expected.digest('hex'));
  });

  it('gives every upload its own id, even of identical bytes', async () => {
    const alice = await registerDevice(server);
    const bytes = new Uint8Array(randomBytes(1000));
    const [a, b] = await Promise.all([upload(alice, bytes), upload(alice, bytes)]);
    expect((a.body as { id: string }).id).not.toBe((b.body as { id: string }).id);
  });

  it('accepts an attachment of exactly the limit', async () => {
    const alice = await registerDevice(server);
    const res = await upload(alice, pattern(1)(0, MAX_ATTACHMENT_BYTES));
    expect(res.status).toBe(200);
    expect((res.body as { size: number }).size).toBe(MAX_ATTACHMENT_BYTES);
  });

  it('rejects an attachment over the limit with ATTACHMENT_TOO_LARGE, declared or streamed, and keeps no partial file', async () => {
    const alice = await registerDevice(server);
    const before = blobFiles();
    // With a Content-Length above the limit: refused before reading the body.
    expectError(await upload(alice, new Uint8Array(MAX_ATTACHMENT_BYTES + 1)), 'ATTACHMENT_TOO_LARGE');
    // Streamed without a length: refused when the limit is crossed.
    expectError(await upload(alice, byteStream(MAX_ATTACHMENT_BYTES + 64 * 1024, pattern(2))), 'ATTACHMENT_TOO_LARGE');
    expect(blobFiles()).toEqual(before);
    // The server still takes uploads.
    expect((await upload(alice, new Uint8Array(10))).status).toBe(200);
  });

  it('rejects other content types with UNSUPPORTED_MEDIA_TYPE', async () => {
    const alice = await registerDevice(server);
    const before = blobFiles();
    for (const type of ['text/plain', 'application/json', 'image/png', 'multipart/form-data; boundary=x']) {
      const res = await rawRequest(server, 'POST', '/v1/attachments', { auth: alice, body: '{"a":1}', headers: { 'content-type': type } });
      expectError(res, 'UNSUPPORTED_MEDIA_TYPE');
    }
    expect(blobFiles()).toEqual(before);
  });

  it('answers unknown, malformed and expired ids with their codes', async () => {
    const alice = await registerDevice(server);
    expectError(await api(server, 'GET', `/v1/attachments/${randomBytes(32).toString('hex')}`, { auth: alice }), 'ATTACHMENT_NOT_FOUND');
    for (const id of ['abc', randomBytes(32).toString('hex').toUpperCase(), `${randomBytes(32).toString('hex')}0`, '..%2F..%2Fsamizdat.db']) {
      expectError(await api(server, 'GET', `/v1/attachments/${id}`, { auth: alice }), 'VALIDATION_FAILED');
    }
    const { id } = (await upload(alice, new Uint8Array(100))).body as { id: string };
    expect((await download(alice, id)).status).toBe(200);
    clock += DEFAULT_LIMITS.attachmentTtlMs;
    expectError(await api(server, 'GET', `/v1/attachments/${id}`, { auth: alice }), 'ATTACHMENT_NOT_FOUND');
  });

  it('requires authentication to upload and to download', async () => {
    const alice = await registerDevice(server);
    const { id } = (await upload(alice, new Uint8Array(100))).body as { id: string };
    const before = blobFiles();
    const refused = await rawRequest(server, 'POST', '/v1/attachments', { body: new Uint8Array(100), headers: octets });
    expectError(refused, 'UNAUTHORIZED');
    // Refused before its body was read: the connection ends with the answer instead of waiting for the rest.
    expect(refused.headers.get('connection')).toBe('close');
    expectError(await api(server, 'GET', `/v1/attachments/${id}`), 'UNAUTHORIZED');
    expect(blobFiles()).toEqual(before);
    expect((await download(alice, id)).status).toBe(200);
  });
});
