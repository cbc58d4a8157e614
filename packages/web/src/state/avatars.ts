/**
 * Contacts' profile pictures, as object URLs for this page's lifetime. The SDK keeps each contact's picture as the
 * bytes their encrypted profile gave (client.avatarOf) and its hash on the contact (ContactRecord.avatarHash): a
 * new hash means a new picture, read once. The bytes are whatever the contact chose to send, with no type: only
 * raster formats recognised by their first bytes are shown (never SVG or anything a browser could run).
 */
import { useEffect, useState } from 'react';
import type { Messenger } from './messenger.js';

/** The picture type of `bytes`, by its signature, for the raster formats an <img> shows; undefined otherwise. */
export function imageTypeOf(bytes: Uint8Array): string | undefined {
  const starts = (...prefix: number[]) => prefix.every((b, i) => bytes[i] === b);
  if (starts(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return 'image/png';
  if (starts(0xff, 0xd8, 0xff)) return 'image/jpeg';
  if (starts(0x47, 0x49, 0x46, 0x38)) return 'image/gif';
  // RIFF....WEBP
  if (starts(0x52, 0x49, 0x46, 0x46) && bytes[8] === 0x57 && bytes[9] === 0x45 && bytes[10] === 0x42 && bytes[11] === 0x50) return 'image/webp';
  return undefined;
}

/** An object URL for a picture, or undefined when its bytes are not a picture shown here. */
export function pictureUrl(bytes: Uint8Array): string | undefined {
  const type = imageTypeOf(bytes);
  return type === undefined ? undefined : URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type }));
}

/** By account: the hash the URL was made for, and the URL (undefined: no picture shown). */
const cache = new Map<string, { readonly hash: string; readonly url: Promise<string | undefined> }>();

function avatarUrl(messenger: Messenger, accountId: string, hash: string): Promise<string | undefined> {
  const known = cache.get(accountId);
  if (known?.hash === hash) return known.url;
  // A changed picture: the old URL is let go once the new one is read.
  const url = messenger.client.avatarOf(accountId).then(
    (bytes) => (bytes === undefined ? undefined : pictureUrl(bytes)),
    () => undefined,
  );
  cache.set(accountId, { hash, url });
  if (known) void Promise.all([known.url, url]).then(([old]) => old !== undefined && URL.revokeObjectURL(old));
  return url;
}

/** The object URL of a contact's profile picture, or undefined while it is read, or when they have none. */
export function useAvatar(messenger: Messenger, accountId: string, hash: string | undefined): string | undefined {
  const [url, setUrl] = useState<string>();
  useEffect(() => {
    let live = true;
    if (hash === undefined) {
      setUrl(undefined);
      return;
    }
    void avatarUrl(messenger, accountId, hash).then((u) => live && setUrl(u));
    return () => {
      live = false;
    };
  }, [messenger, accountId, hash]);
  return url;
}
