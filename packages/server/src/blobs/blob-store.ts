/**
 * Attachment bytes: opaque, end-to-end encrypted blobs in files under `<dataDir>/blobs/`, named by their
 * unguessable id. Writes go to a temporary file first and are renamed into place once complete and synced, so a
 * crash never leaves a partial blob under a real id.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export class BlobTooLargeError extends Error {
  override readonly name = 'BlobTooLargeError';
}

const ID = /^[0-9a-f]{64}$/;

export class LocalBlobStore {
  private constructor(private readonly dir: string) {}

  static async open(dataDir: string): Promise<LocalBlobStore> {
    const dir = join(dataDir, 'blobs');
    // Only the server's user may list or read the (encrypted) blobs: 0700 folders, 0600 files.
    await mkdir(join(dir, 'tmp'), { recursive: true, mode: 0o700 });
    return new LocalBlobStore(dir);
  }

  private path(id: string): string {
    if (!ID.test(id)) throw new Error('invalid blob id');
    return join(this.dir, id);
  }

  /** Streams `source` into blob `id`; rejects with BlobTooLargeError past `maxBytes`. Returns the size. */
  async write(id: string, source: Readable, maxBytes: number): Promise<number> {
    const final = this.path(id);
    const temp = join(this.dir, 'tmp', `${id}.${process.pid}.${Date.now()}`);
    let size = 0;
    const limit = new Transform({
      transform(chunk: Buffer, _enc, done) {
        size += chunk.length;
        if (size > maxBytes) done(new BlobTooLargeError('blob larger than allowed'));
        else done(null, chunk);
      },
    });
    try {
      await pipeline(source, limit, createWriteStream(temp, { flags: 'wx', mode: 0o600 }));
      const handle = await open(temp, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, final);
      return size;
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
  }

  async size(id: string): Promise<number | undefined> {
    try {
      return (await stat(this.path(id))).size;
    } catch {
      return undefined;
    }
  }

  read(id: string): Readable {
    return createReadStream(this.path(id));
  }

  async delete(id: string): Promise<void> {
    await rm(this.path(id), { force: true });
  }
}
