/** base64url without padding, as the CLI prints safety-number codes (`verify`: "Code for the other side"). */
export function toBase64Url(bytes: Uint8Array): string {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Undefined when `text` is not base64url. */
export function fromBase64Url(text: string): Uint8Array | undefined {
  const clean = text.trim();
  if (!/^[A-Za-z0-9_-]*$/.test(clean)) return undefined;
  try {
    const binary = atob(clean.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (clean.length % 4)) % 4));
    return Uint8Array.from(binary, (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}
