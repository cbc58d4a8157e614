/**
 * Decrypted attachments, in memory only: downloaded from the server as ciphertext, checked and decrypted by the
 * SDK, and kept as object URLs for this page's lifetime (a reload downloads them again; nothing decrypted is stored).
 *
 * Two object URLs per file: one typed as the picture (only for raster image types, for <img>), and one typed
 * application/octet-stream for saving, so that an HTML or SVG file a contact sends can never be opened as a page
 * of this origin (where it could read the keys).
 */
import { useEffect, useState } from 'react';
import type { AttachmentPointer } from '@samizdat/client';
import { useActions } from './actions.js';
import type { Messenger } from './messenger.js';

export interface DecryptedAttachment {
  readonly bytes: Uint8Array;
  /** For <img>: set only for PREVIEWABLE types. */
  readonly previewUrl: string | undefined;
  /** For the download link: always application/octet-stream. */
  readonly downloadUrl: string;
}

/** Raster formats an <img> shows without running anything. SVG is left out on purpose. */
const PREVIEWABLE = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/avif', 'image/bmp']);
/** Pictures up to this size are fetched as soon as they are shown; larger ones wait for a click. */
export const AUTO_DOWNLOAD_BYTES = 20 * 1024 * 1024;

export function isPreviewable(pointer: AttachmentPointer): boolean {
  return PREVIEWABLE.has(pointer.contentType.toLowerCase());
}

const cache = new Map<string, Promise<DecryptedAttachment>>();

export function cachedAttachment(pointer: AttachmentPointer): Promise<DecryptedAttachment> | undefined {
  return cache.get(pointer.id);
}

export function downloadAttachment(
  messenger: Messenger,
  pointer: AttachmentPointer,
  onProgress?: (received: number, total: number) => void,
): Promise<DecryptedAttachment> {
  let pending = cache.get(pointer.id);
  if (!pending) {
    pending = messenger.client.downloadAttachment(pointer, onProgress).then((bytes) => {
      const data = bytes as Uint8Array<ArrayBuffer>;
      return {
        bytes,
        previewUrl: isPreviewable(pointer) ? URL.createObjectURL(new Blob([data], { type: pointer.contentType.toLowerCase() })) : undefined,
        downloadUrl: URL.createObjectURL(new Blob([data], { type: 'application/octet-stream' })),
      };
    });
    // A failed download may be retried (the server was unreachable, say).
    pending.catch(() => cache.delete(pointer.id));
    cache.set(pointer.id, pending);
  }
  return pending;
}

export interface Attachment {
  readonly decrypted: DecryptedAttachment | undefined;
  readonly progress: { readonly received: number; readonly total: number } | undefined;
  readonly error: string | undefined;
  /** Fetches and decrypts it (once: later calls get the same bytes); undefined when that failed. */
  fetch(): Promise<DecryptedAttachment | undefined>;
}

/**
 * One attachment as a message shows it. Pictures up to AUTO_DOWNLOAD_BYTES are fetched as soon as they are shown,
 * and again when the connection returns after a failure; anything else waits for `fetch`.
 */
export function useAttachment(messenger: Messenger, pointer: AttachmentPointer, online: boolean): Attachment {
  const { run, error } = useActions();
  const [decrypted, setDecrypted] = useState<DecryptedAttachment>();
  const [progress, setProgress] = useState<{ received: number; total: number }>();

  const fetch = async (): Promise<DecryptedAttachment | undefined> => {
    const outcome = await run(
      'download',
      async () => {
        const result = await downloadAttachment(messenger, pointer, (received, total) => setProgress({ received, total }));
        setDecrypted(result);
        return result;
      },
      { kind: 'download' },
    );
    setProgress(undefined);
    return outcome.ok ? outcome.value : undefined;
  };

  const auto = isPreviewable(pointer) && pointer.size <= AUTO_DOWNLOAD_BYTES;
  useEffect(() => {
    if (auto && !decrypted && (online || error === undefined)) void fetch();
    // fetch only closes over state setters, the messenger and the pointer.
  }, [pointer.id, auto, online]);

  return { decrypted, progress, error, fetch };
}

/** Saves a decrypted attachment as a file (the browser's download). */
export function saveAttachment(decrypted: DecryptedAttachment, fileName: string): void {
  const link = document.createElement('a');
  link.href = decrypted.downloadUrl;
  link.download = fileName;
  link.rel = 'noopener';
  document.body.append(link);
  link.click();
  link.remove();
}

export function fileNameOf(pointer: AttachmentPointer): string {
  const name = pointer.fileName?.replace(/[/\\]/g, '_').trim();
  if (name) return name;
  const ext = pointer.contentType.split('/')[1]?.replace(/[^a-z0-9]/gi, '') ?? 'bin';
  return `attachment.${ext}`;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10 * 1024 ? 1 : 0)} KB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(1)} GB`;
}
